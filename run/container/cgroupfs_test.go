package container

import (
	"strings"
	"testing"

	"syncbox/testdata/testenv"
)

// The connector sees its own limits at /sys/fs/cgroup, in the layout of
// the host's cgroup version, and cannot change them or see any other
// cgroup. Without this, runtimes that size themselves (JVM, Node) take a
// share of the host's RAM and are OOM-killed instead.
func TestContainerSeesItsOwnLimitsReadOnly(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	const script = `
if [ -f /sys/fs/cgroup/memory.max ]; then mem=/sys/fs/cgroup/memory.max; pids=/sys/fs/cgroup/pids.max; top=/sys/fs/cgroup
else mem=/sys/fs/cgroup/memory/memory.limit_in_bytes; pids=/sys/fs/cgroup/pids/pids.max; top=/sys/fs/cgroup/memory; fi
echo "mem=$(cat $mem)"
echo "pids=$(cat $pids)"
echo "self=$(grep -E '^0::|:memory:' /proc/self/cgroup | tr '\n' ' ')"
echo "subdirs=$(find $top -mindepth 1 -type d | wc -l)"
if echo 999999999 > $mem 2>/dev/null; then echo write=ok; else echo write=refused; fi
echo "after=$(cat $mem)"
`
	r := runIn(t, root, Spec{Args: []string{"/bin/sh", "-c", script}, MemoryBytes: 96 << 20, Pids: 33})
	if r.exit.Code != 0 {
		t.Fatalf("%v: %s", r.exit, r.stderr)
	}
	for _, want := range []string{"mem=100663296", "pids=33", "subdirs=0", "write=refused", "after=100663296"} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("want %q inside the container; got:\n%s", want, r.stdout)
		}
	}
	// Its own cgroup namespace: the cgroup is the root, no host path leaks.
	if strings.Contains(r.stdout, CgroupName(r.id)) || strings.Contains(r.stdout, "process_api") {
		t.Errorf("/proc/self/cgroup shows a host path: %s", r.stdout)
	}
	// And that cgroup is inside the runner's own, in every hierarchy (on
	// v2 libcontainer alone would put it beside the runner's, in the parent).
	own := ownCgroups(t)
	for k, p := range r.cg {
		inside := false
		for _, d := range own {
			inside = inside || strings.HasPrefix(p, d+"/")
		}
		if !inside {
			t.Errorf("cgroup %q of the run is %s, outside the runner's own (%v)", k, p, own)
		}
	}
	assertGone(t, root, r.id)
}
