package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"syncbox/testdata/testenv"
)

const holdScript = "echo ready; exec sleep 60"

func TestOverlappingRunOfOneConnectorAndTenantExits8(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	holderID := fmt.Sprintf("holder-%d", os.Getpid())
	state := filepath.Join(root, "state.json")
	holder, _, _ := startRun(t, root, holderID, "--name", "lk", "--stop-timeout", "200ms", "--state-file", state, "--", "/bin/sh", "-c", holdScript)

	secondID := fmt.Sprintf("second-%d", os.Getpid())
	t0 := time.Now()
	_, stderr, code := runSB(t, root, "", "run", "--name", "lk", "--run-id", secondID, "--state-file", state,
		"--report", filepath.Join(root, "second.json"), "--", "/bin/sh", "-c", `echo '{"type":"STATE","value":{"x":1}}'`)
	if code != 8 {
		t.Fatalf("second run: exit %d, want 8; stderr %s", code, stderr)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("exit 8 took %s: it must not wait", d)
	}
	if !strings.Contains(stderr, "already running") || !strings.Contains(stderr, holderID) || !strings.Contains(stderr, "started") {
		t.Errorf("stderr does not say who holds it: %s", stderr)
	}
	// Nothing of the second run happened: no state, no workdir, no report.
	for _, p := range []string{state, filepath.Join(root, "second.json"), filepath.Join(root, "home", "tenants", "default", "work", secondID)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("the refused run left %s", p)
		}
	}
	holder.Process.Signal(syscall.SIGTERM)
	exitOf(t, holder)
}

func TestOtherTenantOrConnectorRunsBesideTheHolder(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	holder, _, _ := startRun(t, root, fmt.Sprintf("holder-%d", os.Getpid()), "--name", "lk", "--stop-timeout", "200ms", "--", "/bin/sh", "-c", holdScript)
	for _, args := range [][]string{{"--name", "lk", "--tenant", "globex"}, {"--name", "other"}} {
		_, stderr, code := runSB(t, root, "", append(append([]string{"run", "--memory", "64MiB"}, args...), "--", "/bin/true")...)
		if code != 0 {
			t.Errorf("run %v beside the holder: exit %d; stderr %s", args, code, stderr)
		}
	}
	holder.Process.Signal(syscall.SIGTERM)
	exitOf(t, holder)
}

func TestSIGKILLedHolderFreesTheLockAtOnce(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	holder, _, _ := startRun(t, root, fmt.Sprintf("holder-%d", os.Getpid()), "--name", "lk", "--stop-timeout", "200ms", "--", "/bin/sh", "-c", holdScript)
	if _, stderr, code := runSB(t, root, "", "run", "--name", "lk", "--", "/bin/true"); code != 8 {
		t.Fatalf("while held: exit %d, want 8 (the test would prove nothing); %s", code, stderr)
	}
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	if _, stderr, code := runSB(t, root, "", "run", "--name", "lk", "--", "/bin/true"); code != 0 {
		t.Fatalf("right after the holder was SIGKILLed: exit %d; %s", code, stderr)
	}
}

func TestWaitForLockWaitsThenRuns(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	holder, _, _ := startRun(t, root, fmt.Sprintf("holder-%d", os.Getpid()), "--name", "lk", "--", "/bin/sh", "-c", "echo ready; sleep 1.5")
	released := make(chan time.Time, 1)
	go func() { holder.Wait(); released <- time.Now() }()
	stdout, stderr, code := runSB(t, root, "", "run", "--name", "lk", "--protocol", "raw", "--wait-for-lock", "60s", "--", "/bin/echo", "ran")
	ran := time.Now()
	if code != 0 || stdout != "ran\n" {
		t.Fatalf("waiting run: exit %d, stdout %q; stderr %s", code, stdout, stderr)
	}
	select {
	case at := <-released:
		if ran.Before(at) {
			t.Errorf("the waiting run finished before the holder did")
		}
	default:
		t.Errorf("the waiting run finished while the holder was still running")
	}
}

func TestWaitForLockIsInterruptible(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	holder, _, _ := startRun(t, root, fmt.Sprintf("holder-%d", os.Getpid()), "--name", "lk", "--stop-timeout", "200ms", "--", "/bin/sh", "-c", holdScript)
	defer func() { holder.Process.Signal(syscall.SIGTERM); exitOf(t, holder) }()
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		waiter := sb(t, root, "run", "--name", "lk", "--wait-for-lock", "10m", "--", "/bin/true")
		var errBuf strings.Builder
		waiter.Stderr = &errBuf
		if err := waiter.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // let it reach the wait
		t0 := time.Now()
		waiter.Process.Signal(c.sig)
		if code := exitOf(t, waiter); code != c.code {
			t.Errorf("waiter after %v: exit %d, want %d; stderr %s", c.sig, code, c.code, errBuf.String())
		}
		if d := time.Since(t0); d > 3*time.Second {
			t.Errorf("waiter took %s to stop after %v", d, c.sig)
		}
		if !strings.Contains(errBuf.String(), "interrupted") {
			t.Errorf("stderr %q does not say it was interrupted", errBuf.String())
		}
	}
}

// Twenty runs of one connector started at once with --wait-for-lock take
// turns: each reads the state the previous one left and adds one, so the
// checkpoint ends at 20 only if no two ever overlapped.
func TestConcurrentStartsWithWaitForLockTakeTurns(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	state := filepath.Join(root, "state.json")
	const runs = 20
	script := `n=$(sed -n 's/.*"n":\([0-9]*\).*/\1/p' "$0"); n=$((${n:-0}+1))
echo '{"type":"RECORD","stream":"c","record":{"n":'$n'}}'; sleep 0.1
echo '{"type":"STATE","value":{"n":'$n'}}'`
	var wg sync.WaitGroup
	errs := make(chan string, runs)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, stderr, code := runSB(t, root, "", "run", "-q", "--name", "counter", "--memory", "64MiB", "--wait-for-lock", "5m",
				"--state-file", state, "--", "/bin/sh", "-c", script, "{state}")
			if code != 0 {
				errs <- fmt.Sprintf("run %d: exit %d; %s", i, code, stderr)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if b, err := os.ReadFile(state); err != nil || strings.TrimSpace(string(b)) != `{"n":20}` {
		t.Errorf("state after %d runs: %s %v; want n=20", runs, b, err)
	}
}

// A run stopped because another connector's run holds its --state-file
// says that, once: it used to say first "did not run: another run of it is
// in progress" (wrong: nothing of its own name runs), then the truth.
func TestSharedStateFileIsTheOneReasonGiven(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	state := filepath.Join(root, "state.json")
	holder, _, _ := startRun(t, root, fmt.Sprintf("holder-%d", os.Getpid()), "--name", "L1", "--stop-timeout", "200ms", "--state-file", state, "--", "/bin/sh", "-c", holdScript)
	for _, quiet := range []bool{false, true} {
		args := []string{"run", "--name", "L2", "--memory", "64MiB", "--state-file", state, "--", "/bin/true"}
		if quiet {
			args = append([]string{"run", "-q"}, args[1:]...)
		}
		_, stderr, code := runSB(t, root, "", args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 8 || len(lines) != 1 || !strings.HasPrefix(lines[0], "syncbox: ") ||
			!strings.Contains(lines[0], "state file "+state+" is in use by another run") || !strings.Contains(lines[0], "L2") ||
			strings.Contains(lines[0], "in progress") || strings.Contains(lines[0], "ended (") {
			t.Errorf("quiet=%v: exit %d, stderr %q; want exit 8 and one line: L2's state file is in use", quiet, code, stderr)
		}
	}
	holder.Process.Signal(syscall.SIGTERM)
	exitOf(t, holder)
}
