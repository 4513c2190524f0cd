package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

// A command the container cannot run exits like a shell would (127 not
// found, 126 not executable), with a report, and says the container's PATH.
func TestCommandNotFoundAndNotExecutableExitCodes(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	rep := filepath.Join(root, "r.json")
	_, errOut, code := runSB(t, root, "", "run", "--report", rep, "--", "tap-orders-not-installed")
	if code != report.ExitCommandNotFound || !strings.Contains(errOut, "PATH (/usr/local/bin:") {
		t.Errorf("not found: exit %d, stderr %q", code, errOut)
	}
	if r := readReport(t, rep); r.Outcome != report.CommandNotFound || r.ExitCode != 127 {
		t.Errorf("report: %s %d", r.Outcome, r.ExitCode)
	}
	plain := filepath.Join(root, "tap.txt")
	os.WriteFile(plain, []byte("not a program"), 0o644)
	if _, errOut, code := runSB(t, root, "", "run", "--", plain); code != report.ExitNotExecutable || !strings.Contains(errOut, plain) {
		t.Errorf("not executable: exit %d, stderr %q", code, errOut)
	}
	assertGone(t, root, "")
}

// The default name comes from the program run: two scripts under the same
// interpreter get two histories, and a relative script path works although
// the container's working directory is not the runner's.
func TestDefaultNameIsTheProgramRun(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	dir := t.TempDir()
	for _, n := range []string{"orders.py", "invoices.py"} {
		os.WriteFile(filepath.Join(dir, n), []byte("print('{\"type\":\"RECORD\",\"stream\":\"s\",\"record\":{\"n\":1}}')\n"), 0o644)
	}
	names := map[string]bool{}
	for _, n := range []string{"orders.py", "invoices.py"} {
		rep := filepath.Join(root, n+".json")
		cmd := sb(t, root, "run", "-q", "--memory", "64MiB", "--report", rep, "--", "python3", n)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("python3 %s: %v\n%s", n, err, out)
		}
		r := readReport(t, rep)
		if !strings.HasPrefix(r.Name, n+"-") || r.Records.Total != 1 {
			t.Errorf("python3 %s: name %q, %d records", n, r.Name, r.Records.Total)
		}
		names[r.Name] = true
	}
	if len(names) != 2 {
		t.Errorf("two programs share a name: %v", names)
	}
	out, errOut, code := runSB(t, root, "", "history")
	for n := range names {
		if code != 0 || !strings.Contains(out, n) {
			t.Errorf("history does not show %s: %d %q %q", n, code, out, errOut)
		}
	}
}

// A bare command that means another program in this shell (a pyenv shim, an
// activated venv) than in the container is run as the container sees it,
// and the runner says so.
func TestBareCommandShadowedOnTheRunnersPathIsNoted(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	shims := t.TempDir()
	os.WriteFile(filepath.Join(shims, "true"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	t.Setenv("PATH", shims+":"+os.Getenv("PATH"))
	_, errOut, code := runSB(t, root, "", "run", "--", "true")
	if code != 0 || !strings.Contains(errOut, "not "+filepath.Join(shims, "true")) || !strings.Contains(errOut, "runs /usr/bin/true in the container") {
		t.Errorf("exit %d, stderr %q: want a note naming both programs", code, errOut)
	}
}
