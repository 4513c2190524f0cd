package budget

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHelperProcess is a `syncbox run` stand-in: the tests re-exec the test
// binary into it so that reservations are held by real, separate, killable
// processes. It reports on stdout, one line per event:
//
//	waiting <ahead>        from OnWait
//	acquired <ticket>      admitted
//	grandchild <pid>       started a child that outlives it (BUDGET_SPAWN)
//	error <message>
func TestHelperProcess(t *testing.T) {
	if os.Getenv("BUDGET_HELPER") == "" {
		t.Skip("helper process for the other tests")
	}
	os.Exit(helperMain())
}

func helperMain() int {
	num := func(k string) int64 {
		n, err := strconv.ParseInt(os.Getenv(k), 10, 64)
		if err != nil {
			fmt.Printf("error bad %s: %v\n", k, err)
			os.Exit(2)
		}
		return n
	}
	total, maxc, bytes := num("BUDGET_TOTAL"), num("BUDGET_MAX"), num("BUDGET_BYTES")
	l, err := Open(os.Getenv("BUDGET_DIR"), total, int(maxc))
	if err != nil {
		fmt.Printf("error %v\n", err)
		return 1
	}
	r, err := l.Acquire(context.Background(), Request{RunID: os.Getenv("BUDGET_RUN"), Name: "helper", Tenant: "acme", Bytes: bytes},
		AcquireOptions{Timeout: 30 * time.Second, OnWait: func(w Waiting) { fmt.Printf("waiting %d\n", w.Ahead) }})
	if err != nil {
		fmt.Printf("error %v\n", err)
		return 1
	}
	fmt.Printf("acquired %d\n", r.Entry().Ticket)
	witness := os.Getenv("BUDGET_WITNESS")
	if witness != "" {
		if err := witnessAdd(witness, bytes, total); err != nil {
			fmt.Printf("error %v\n", err)
			return 1
		}
	}
	if p := os.Getenv("BUDGET_LOG"); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err == nil {
			// One short O_APPEND write per line, so concurrent helpers do not interleave.
			_, err = fmt.Fprintf(f, "%d %d\n", r.Entry().Ticket, r.Entry().Since.UnixNano())
			f.Close()
		}
		if err != nil {
			fmt.Printf("error %v\n", err)
			return 1
		}
	}
	if os.Getenv("BUDGET_SPAWN") != "" {
		// Like the container child syncbox run will start: it must not inherit the entry lock.
		c := exec.Command("sleep", "60")
		if err := c.Start(); err != nil {
			fmt.Printf("error %v\n", err)
			return 1
		}
		fmt.Printf("grandchild %d\n", c.Process.Pid)
	}
	hold, err := time.ParseDuration(os.Getenv("BUDGET_HOLD"))
	if err != nil {
		hold = time.Hour
	}
	time.Sleep(hold)
	if witness != "" {
		if err := witnessAdd(witness, -bytes, total); err != nil {
			fmt.Printf("error %v\n", err)
			return 1
		}
	}
	if err := r.Release(); err != nil {
		fmt.Printf("error %v\n", err)
		return 1
	}
	return 0
}

// witnessAdd keeps an independent tally of what helpers hold, updated after
// Acquire returns and before Release, in a file "<bytes> <holders> <max
// bytes> <max holders>" under its own flock. If the ledger ever admitted too
// much, the tally would show it.
func witnessAdd(path string, delta, total int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	var cur, n, maxCur, maxN int64
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(b) > 0 {
		if _, err := fmt.Sscan(string(b), &cur, &n, &maxCur, &maxN); err != nil {
			return fmt.Errorf("witness file: %w", err)
		}
	}
	cur += delta
	if delta > 0 {
		n++
	} else {
		n--
	}
	maxCur, maxN = max(maxCur, cur), max(maxN, n)
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.WriteAt([]byte(fmt.Sprintf("%d %d %d %d\n", cur, n, maxCur, maxN)), 0)
	return err
}

type helper struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan error
}

// startHelper runs TestHelperProcess with the given BUDGET_* settings.
func startHelper(t *testing.T, env map[string]string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "BUDGET_HELPER=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, lines: make(chan string, 100), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
		h.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-h.done
	})
	return h
}

// expect waits for the helper's next line starting with prefix and returns
// the rest, failing on an error line, EOF or timeout.
func (h *helper) expect(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-h.lines:
			if !ok {
				t.Fatalf("helper %d exited while we expected %q", h.cmd.Process.Pid, prefix)
			}
			if strings.HasPrefix(line, "error") {
				t.Fatalf("helper %d: %s", h.cmd.Process.Pid, line)
			}
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				return strings.TrimSpace(rest)
			}
		case <-deadline:
			t.Fatalf("helper %d: no %q line within %s", h.cmd.Process.Pid, prefix, timeout)
		}
	}
}

// wait waits for the helper to exit and returns its error.
func (h *helper) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-h.lines:
			if ok && strings.HasPrefix(line, "error") {
				t.Errorf("helper %d: %s", h.cmd.Process.Pid, line)
			}
			if !ok {
				err := <-h.done
				h.done <- err // for Cleanup
				return err
			}
		case <-deadline:
			t.Fatalf("helper %d did not exit within %s", h.cmd.Process.Pid, timeout)
		}
	}
}

func (h *helper) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for range h.lines {
	}
	err := <-h.done
	h.done <- err
}
