package cmd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"syncbox/limits"
	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

// Flags that cannot mean what they say are refused before anything runs:
// exit 2, both flags named, nothing on stdout. Each of these ran before
// (exit 0 with the value passed through, exit 6 with runc internals, or
// exit 7 after waiting).
func TestConflictingAndImpossibleFlagsAreRefusedUpFront(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfg, []byte("{}"), 0o600)
	flagsFile := filepath.Join(t.TempDir(), "flags.jsonl")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--protocol", "raw", "--destination", "redshift"}, []string{"--protocol raw", "--destination"}},
		{[]string{"--protocol", "raw", "--strict"}, []string{"--protocol raw", "--strict"}},
		{[]string{"--protocol", "raw", "--flags-file", flagsFile}, []string{"--protocol raw", "--flags-file"}},
		{[]string{"--protocol", "raw", "--max-field-size", "1MiB"}, []string{"--protocol raw", "--max-field-size"}},
		{[]string{"--protocol", "raw", "--oversize", "drop"}, []string{"--protocol raw", "--oversize"}},
		{[]string{"--memory", "1GiB", "--memory-max", "512MiB"}, []string{"--memory 1GiB", "--memory-max 512MiB"}},
		{[]string{"--memory-min", "1GiB", "--memory-max", "512MiB"}, []string{"--memory-min", "--memory-max"}},
		{[]string{"--memory", "128MiB", "--memory-min", "256MiB"}, []string{"--memory-min", "--memory 128MiB"}},
		{[]string{"--memory", "256MiB", "--no-wait", "--queue-timeout", "1m"}, []string{"--no-wait", "--queue-timeout"}},
		{[]string{"--cpus", fmt.Sprint(runtime.NumCPU() + 1)}, []string{"--cpus", fmt.Sprintf("%d cores", runtime.NumCPU())}},
		{[]string{"--tmp-size", "1GB", "--memory", "256MiB"}, []string{"--tmp-size 1GB (954 MiB, 1000000000 bytes)", "--memory 256MiB"}},
		{[]string{"--memory", "1TiB", "--host-memory-budget", "8GiB"}, []string{"--memory 1TiB", "never fit", "8.0 GiB"}},
		{[]string{"--memory", "2G"}, []string{"--memory", "ambiguous", "2GiB", "2GB"}},
		{[]string{"--memory", "512m"}, []string{"512MiB", "512MB"}},
		{[]string{"--memory", "64KiB"}, []string{"--memory 64KiB", "6MiB"}},
		{[]string{"--memory", "1MiB"}, []string{"--memory 1MiB", "6MiB"}},
		{[]string{"--memory", "10"}, []string{"--memory 10", "6MiB"}},
		{[]string{"--memory-min", "1MiB"}, []string{"--memory-min 1MiB", "6MiB"}},
	}
	for _, c := range cases {
		args := append(append([]string{"run"}, c.args...), "--", "/bin/true")
		out, errOut, code := runSB(t, root, "", args...)
		if code != 2 || out != "" {
			t.Errorf("%v: exit %d, %d bytes on stdout; want exit 2 and none; stderr %q", c.args, code, len(out), errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: stderr %q does not say %q", c.args, errOut, w)
			}
		}
	}
	if _, err := os.Stat(flagsFile); err == nil {
		t.Errorf("a refused run created its --flags-file")
	}
	// {config} with no --config gave the connector an empty file.
	_, errOut, code := runSB(t, root, "", "run", "--", "/bin/cat", "{config}")
	if code != 2 || !strings.Contains(errOut, "{config}") || !strings.Contains(errOut, "--config") {
		t.Errorf("{config} without --config: exit %d, %q", code, errOut)
	}
	// With --config it runs, and {state} alone needs no --state-file.
	out, errOut, code := runSB(t, root, "", "run", "--protocol", "raw", "--config", cfg, "--", "/bin/sh", "-c", "cat $0 && test -e $1 && echo", "{config}", "{state}")
	if code != 0 || out != "{}\n" {
		t.Errorf("{config} with --config and {state}: exit %d, out %q, %s", code, out, errOut)
	}
}

// The minimum is where a container really stops starting: at it a run
// works, below it runc fails while applying the limit.
func TestMinimumMemoryLimitIsWhereAContainerStillStarts(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	min := report.FlagSize(limits.MinMemoryLimit)
	out, errOut, code := runSB(t, root, "", "run", "-q", "--protocol", "raw", "--memory", min, "--", "/bin/sh", "-c", "echo hi")
	if code != 0 || out != "hi\n" {
		t.Errorf("--memory %s: exit %d, out %q, %s", min, code, out, errOut)
	}
	if _, errOut, code := runSB(t, root, "", "run", "-q", "--memory", fmt.Sprint(limits.MinMemoryLimit-1), "--", "/bin/true"); code != 2 {
		t.Errorf("one byte below the minimum: exit %d, %s", code, errOut)
	}
}

// A non-root user hears "run as root" before anything else can fail with
// a permission error deep in the setup.
func TestNonRootRunSaysRunAsRootFirst(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	// The unprivileged user must reach the copied binary.
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	bin := filepath.Join(dir, "syncbox")
	b, err := os.ReadFile(syncboxBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"run", "--memory", "64MiB", "--", "/bin/true"}, {"cleanup"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "SYNCBOX_HOME=" + filepath.Join(dir, "home"), "SYNCBOX_RUN_DIR=" + filepath.Join(dir, "run")}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("start as uid 65534: %v", err)
		}
		if code != report.ExitSetupFailed || !strings.HasPrefix(e.String(), "syncbox: run as root") || o.Len() != 0 {
			t.Errorf("non-root %v: exit %d, stdout %q, stderr %q; want exit 6 starting with \"run as root\"", args, code, o.String(), e.String())
		}
	}
}
