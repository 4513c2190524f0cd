package cmd

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"syncbox/run/container"
	"syncbox/testdata/testenv"
)

var syncboxBin string

func TestMain(m *testing.M) {
	syncboxBin = os.Getenv("SYNCBOX_BIN")
	if syncboxBin == "" {
		dir, err := os.MkdirTemp("", "syncbox-bin-")
		if err != nil {
			panic(err)
		}
		syncboxBin = filepath.Join(dir, "syncbox")
		out, err := exec.Command("go", "build", "-tags", "seccomp", "-o", syncboxBin, "syncbox").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build syncbox: %v\n%s", err, out)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// sb prepares a syncbox command with its own run dir.
func sb(t *testing.T, root string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(syncboxBin, args...)
	cmd.Env = append(os.Environ(), "SYNCBOX_RUN_DIR="+root, "SYNCBOX_HOME="+filepath.Join(root, "home"))
	// If this test binary dies (a timeout panic), its runners die too, and
	// their connectors with them: no orphans holding cgroups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	inOwnScope(t, cmd)
	return cmd
}

var scopeSeq atomic.Int64

// inOwnScope starts cmd in a cgroup of its own under $SYNCBOX_TEST_SCOPES
// when that is set (the cgroup v2 guest): what systemd-run --scope -p
// Delegate=yes gives a syncbox started from a cron job or a shell on a
// systemd host. Without it, on v2 the runner would share the test
// binary's cgroup and rightly refuse to run.
func inOwnScope(t *testing.T, cmd *exec.Cmd) {
	dir := os.Getenv("SYNCBOX_TEST_SCOPES")
	if dir == "" {
		return
	}
	scope := filepath.Join(dir, fmt.Sprintf("run-%d-%d.scope", os.Getpid(), scopeSeq.Add(1)))
	if err := os.Mkdir(scope, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(scope, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	t.Cleanup(func() {
		unix.Close(fd)
		if err := unix.Rmdir(scope); err != nil {
			t.Errorf("scope %s not empty after the run: %v", scope, err)
		}
	})
}

func runSB(t *testing.T, root string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := sb(t, root, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run syncbox: %v", err)
	}
	return o.String(), e.String(), code
}

func assertGone(t *testing.T, root, id string) {
	t.Helper()
	for _, d := range container.CgroupDirs(id) {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup left behind: %s", d)
		}
	}
	for _, sub := range []string{"runs", "lc"} {
		ents, _ := os.ReadDir(filepath.Join(root, sub))
		for _, e := range ents {
			t.Errorf("state left behind: %s/%s/%s", root, sub, e.Name())
		}
	}
}

func TestRunnerEnvironmentDoesNotLeak(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	t.Setenv("SYNCBOX_TEST_SECRET", "hunter2")
	t.Setenv("PASSED_THROUGH", "yes")
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("# comment\nFROM_FILE=1\nexport QUOTED=\"a b\"\n"), 0o600)
	out, errOut, code := runSB(t, root, "", "run", "--protocol", "raw", "--env", "FOO=bar", "--env", "PASSED_THROUGH", "--env", "UNSET_VAR",
		"--env-file", envFile, "--", "/usr/bin/env")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"FOO=bar\n", "PASSED_THROUGH=yes\n", "FROM_FILE=1\n", "QUOTED=a b\n", "PATH=" + container.DefaultPath + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in connector env:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, "SYNCBOX_TEST_SECRET") || strings.Contains(out, "UNSET_VAR") {
		t.Errorf("runner environment leaked:\n%s", out)
	}
}

func TestUsageErrorsExit2AndNameTheFlag(t *testing.T) {
	root := t.TempDir()
	badEnv := filepath.Join(t.TempDir(), "env")
	os.WriteFile(badEnv, []byte("A=1\n\nnot a pair\n"), 0o600)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--memory", "lots", "--", "/bin/true"}, "--memory"},
		{[]string{"run", "--memory", "lots", "--", "/bin/true"}, "512MiB"},
		{[]string{"run", "--tmp-size", "-5", "--", "/bin/true"}, "--tmp-size"},
		{[]string{"run", "--network", "bridge", "--", "/bin/true"}, "--network"},
		{[]string{"run", "--bind", "/tmp:/x:rx", "--", "/bin/true"}, "--bind"},
		{[]string{"run", "--env-file", badEnv, "--", "/bin/true"}, badEnv + ":3"},
		{[]string{"run", "--pids", "0", "--", "/bin/true"}, "--pids"},
		{[]string{"run", "--run-id", "../x", "--", "/bin/true"}, "--run-id"},
		{[]string{"run"}, "no command"},
		{[]string{"run", "--no-such-flag", "--", "/bin/true"}, "no-such-flag"},
		{[]string{"run", "--report", "/nonexistent-dir/r.json", "--", "/bin/true"}, "--report"},
		{[]string{"run", "--state-file", "/nonexistent-dir/s.json", "--", "/bin/true"}, "/nonexistent-dir"},
	}
	for _, c := range cases {
		_, errOut, code := runSB(t, root, "", c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, errOut, c.want)
		}
	}
}

func TestConnectorFailureAndStdin(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	if _, _, code := runSB(t, root, "", "run", "--", "/bin/sh", "-c", "exit 9"); code != 1 {
		t.Errorf("connector exit 9: syncbox exit %d, want 1", code)
	}
	if _, _, code := runSB(t, root, "", "run", "--", "/nonexistent/tap"); code != 127 {
		t.Errorf("missing command: syncbox exit %d, want 127 (command not found)", code)
	}
	in := "line one\nline two\n"
	out, _, code := runSB(t, root, in, "run", "--protocol", "raw", "--stdin", "--", "/bin/cat")
	if code != 0 || out != in {
		t.Errorf("stdin forwarding: exit %d, out %q", code, out)
	}
	// Without --stdin the connector reads /dev/null, not the caller's stdin.
	out, _, code = runSB(t, root, in, "run", "--protocol", "raw", "--", "/bin/cat")
	if code != 0 || out != "" {
		t.Errorf("stdin without --stdin: exit %d, out %q", code, out)
	}
	assertGone(t, root, "")
}

// startRun starts syncbox run in the background and waits until the
// connector printed its first line.
func startRun(t *testing.T, root, id string, args ...string) (*exec.Cmd, *bufio.Reader, *bytes.Buffer) {
	t.Helper()
	cmd := sb(t, root, append([]string{"run", "--protocol", "raw", "--run-id", id}, args...)...)
	t.Cleanup(func() { cmd.Process.Kill() })
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("no output from connector: %v; stderr %s", err, errBuf.String())
	}
	if line != "ready\n" {
		t.Fatalf("first line %q", line)
	}
	return cmd, r, &errBuf
}

func exitOf(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("syncbox did not exit")
		return -1
	}
}

func TestSIGTERMIsForwardedThenKilledAndCleanedUp(t *testing.T) {
	testenv.RequireRoot(t)
	for _, c := range []struct {
		name, script, wantOut string
	}{
		{"handled", `trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.05; done`, "got-term\n"},
		// PID 1 without a handler ignores SIGTERM: --stop-timeout, then SIGKILL.
		{"ignored", `echo ready; exec sleep 60`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			id := fmt.Sprintf("term-%s-%d", c.name, os.Getpid())
			start := time.Now()
			cmd, r, errBuf := startRun(t, root, id, "--stop-timeout", "500ms", "--", "/bin/sh", "-c", c.script)
			cmd.Process.Signal(syscall.SIGTERM)
			rest, _ := r.ReadString(0)
			if code := exitOf(t, cmd); code != 143 {
				t.Errorf("exit %d, want 143; stderr %s", code, errBuf)
			}
			if rest != c.wantOut {
				t.Errorf("connector output after SIGTERM %q, want %q", rest, c.wantOut)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %v to stop", time.Since(start))
			}
			assertGone(t, root, id)
		})
	}
}

func TestTimeoutGivesExit4(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	cmd, _, errBuf := startRun(t, root, fmt.Sprintf("timeout-%d", os.Getpid()), "--timeout", "1500ms", "--stop-timeout", "200ms", "--", "/bin/sh", "-c", "echo ready; exec sleep 60")
	if code := exitOf(t, cmd); code != 4 {
		t.Errorf("exit %d, want 4; stderr %s", code, errBuf)
	}
	assertGone(t, root, fmt.Sprintf("timeout-%d", os.Getpid()))
}

func TestSIGKILLedRunnerIsCleanedUpByCleanupAndByTheNextRun(t *testing.T) {
	testenv.RequireRoot(t)
	for _, via := range []string{"cleanup", "next-run"} {
		t.Run(via, func(t *testing.T) {
			root := t.TempDir()
			id := fmt.Sprintf("killed-%s-%d", via, os.Getpid())
			cmd, _, _ := startRun(t, root, id, "--", "/bin/sh", "-c", "echo ready; exec sleep 60")
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			// The runner is gone; its cgroups and state are still there.
			left := 0
			for _, d := range container.CgroupDirs(id) {
				if _, err := os.Stat(d); err == nil {
					left++
				}
			}
			if left == 0 {
				t.Fatal("no leftovers after SIGKILL: the test would prove nothing")
			}
			// The workdir is a tmpfs in the container's mount namespace: even
			// a SIGKILLed runner leaves none of it on the host.
			work := filepath.Join(root, "home", "tenants", "default", "work", id)
			if _, err := os.Lstat(work); !os.IsNotExist(err) {
				t.Errorf("a host workdir %s exists for the run: %v", work, err)
			}
			// The connector must not outlive its runner (parent-death signal).
			if n := procsIn(t, id, 2*time.Second); n != 0 {
				t.Errorf("%d connector processes outlived the SIGKILLed runner", n)
			}
			var out string
			var code int
			if via == "cleanup" {
				out, _, code = runSB(t, root, "", "cleanup")
			} else {
				_, out, code = runSB(t, root, "", "run", "--", "/bin/true")
			}
			if code != 0 || !strings.Contains(out, id) {
				t.Errorf("%s: exit %d, output %q does not name the dead run", via, code, out)
			}
			assertGone(t, root, id)
		})
	}
}

func TestNetworkNoneIsLoopbackOnly(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	out, _, _ := runSB(t, root, "", "run", "--protocol", "raw", "--", "/bin/sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
	if out != "lo\n" {
		t.Errorf("--network none sees %q", out)
	}
	host, _ := os.ReadFile("/proc/net/dev")
	if strings.Count(string(host), "\n") > 3 {
		out, _, _ = runSB(t, root, "", "run", "--protocol", "raw", "--network", "host", "--", "/bin/sh", "-c", "tail -n +3 /proc/net/dev | wc -l")
		if strings.TrimSpace(out) == "1" {
			t.Errorf("--network host sees only one interface")
		}
	}
}

func TestDoctorPassesHere(t *testing.T) {
	testenv.RequireRoot(t)
	out, errOut, code := runSB(t, t.TempDir(), "", "doctor")
	if code != 0 || !strings.Contains(out, "trial container") {
		t.Errorf("doctor: exit %d\n%s%s", code, out, errOut)
	}
}

// procsIn waits up to d for run id's cgroup to have no processes and
// returns how many are left.
func procsIn(t *testing.T, id string, d time.Duration) int {
	cg, err := container.FindCgroup(id, 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(d)
	for {
		pids, err := cg.Procs()
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) == 0 || time.Now().After(deadline) {
			return len(pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
