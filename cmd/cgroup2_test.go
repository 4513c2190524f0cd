package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"syncbox/run/cgroup"
	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

// On cgroup v2, a runner whose cgroup also holds processes it did not start
// (cron and its shell, a pod's other processes) cannot give a child cgroup
// the memory controller without creating cgroups outside its own subtree or
// moving others' processes. It must refuse, say how to give it a cgroup of
// its own, and leave nothing behind. (Runs in the cgroup v2 guest; this
// host is v1.)
func TestCgroupV2SharedCgroupIsRefused(t *testing.T) {
	testenv.RequireRoot(t)
	l, err := cgroup.Host()
	if err != nil {
		t.Fatal(err)
	}
	if l.Mode != cgroup.Unified || os.Getenv("SYNCBOX_TEST_SCOPES") != "" {
		t.Skip("needs cgroup v2 with syncbox sharing this test's cgroup (the cgroup v2 guest's pod layout)")
	}
	root := t.TempDir()
	_, errOut, code := runSB(t, root, "", "run", "--memory", "64MiB", "--", "/bin/true")
	if code != report.ExitSetupFailed || !strings.Contains(errOut, "Delegate=yes") || !strings.Contains(errOut, "did not start") {
		t.Errorf("exit %d, stderr %q: want exit 6 naming the processes and Delegate=yes", code, errOut)
	}
	dir := l.Dir("")
	if m, _ := filepath.Glob(filepath.Join(dir, "syncbox-*")); len(m) > 0 {
		t.Errorf("cgroups left behind: %v", m)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control")); strings.TrimSpace(string(b)) != "" {
		t.Errorf("controllers left enabled in %s: %q", dir, b)
	}
}
