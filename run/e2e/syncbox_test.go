package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"syncbox/run/report"
)

// binDir returns the directory named by env, or def relative to this
// package's directory (where go test runs), as an absolute path.
func binDir(env, def string) string {
	d := os.Getenv(env)
	if d == "" {
		d = def
	}
	abs, err := filepath.Abs(d)
	if err != nil {
		return d
	}
	return abs
}

func syncboxBin(t *testing.T) string {
	t.Helper()
	p := os.Getenv("SYNCBOX_BIN")
	if p == "" {
		p = "../../bin/syncbox"
	}
	p, err := filepath.Abs(p)
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		unavailable(t, "syncbox binary (make build, or set SYNCBOX_BIN): %v", err)
	}
	return p
}

func connectorBin(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(binDir("SYNCBOX_CONNECTORS", "../../bin"), name)
	if _, err := os.Stat(p); err != nil {
		unavailable(t, "connector %s (make build, or set SYNCBOX_CONNECTORS): %v", name, err)
	}
	return p
}

// piped is how one `syncbox run -- tap | syncbox run -- target` ended.
type piped struct {
	tapCode, targetCode int
	tapStderr           string
	targetStderr        string
	targetStdout        string
	took                time.Duration
}

// pipeline runs two syncbox processes joined by a pipe, as a shell would:
// the tap runner's stdout is the target runner's stdin, with nothing of
// the test in between.
func pipeline(t *testing.T, bin string, env []string, tapArgs, targetArgs []string) piped {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	var tapErr, tgtErr, tgtOut bytes.Buffer
	tap, target := sbCommand(bin, env, tapArgs), sbCommand(bin, env, targetArgs)
	tap.Stdout, tap.Stderr = w, &tapErr
	target.Stdin, target.Stdout, target.Stderr = r, &tgtOut, &tgtErr
	start := time.Now()
	if err := target.Start(); err != nil {
		t.Fatalf("start target runner: %v", err)
	}
	r.Close()
	if err := tap.Start(); err != nil {
		w.Close()
		target.Wait()
		t.Fatalf("start tap runner: %v", err)
	}
	// Only the runners hold the pipe now: the target sees EOF when the tap
	// runner exits, however it exits.
	w.Close()
	p := piped{tapCode: exitCode(t, tap.Wait())}
	p.targetCode = exitCode(t, target.Wait())
	p.took = time.Since(start)
	p.tapStderr, p.targetStderr, p.targetStdout = tapErr.String(), tgtErr.String(), tgtOut.String()
	return p
}

func sbCommand(bin string, env, args []string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	// If the test binary dies (a timeout panic), the runners die too, and
	// their connectors and containers with them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("wait for syncbox: %v", err)
		return -1
	}
}

func readReport(t *testing.T, path string) *report.Report {
	t.Helper()
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkRunnerRSS holds syncbox to its promise: the runner's own memory
// does not grow with the data it carries, however large a value is.
func checkRunnerRSS(t *testing.T, what string, r *report.Report) {
	t.Helper()
	const limit = 64 << 20
	got := r.Runner.PeakRSSBytes
	if got <= 0 || got > limit {
		t.Errorf("%s: runner peak RSS %d bytes (%.1f MiB), want 1..64 MiB", what, got, float64(got)/(1<<20))
	}
}
