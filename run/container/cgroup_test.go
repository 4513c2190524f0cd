package container

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"testing"

	"syncbox/run/cgroup"
	"syncbox/testdata/testenv"
)

// ownCgroups are the runner's own cgroup directories, one per hierarchy.
func ownCgroups(t *testing.T) []string {
	t.Helper()
	l, err := cgroup.Host()
	if err != nil {
		t.Fatal(err)
	}
	return l.Dirs("")
}

// `syncbox ps` and cleanup find a run's cgroup by its id alone; it must be
// the very cgroup libcontainer put the run in, read the same way as the
// runner's sampler reads it, or ps shows another cgroup's memory (or none)
// and cleanup misses what a dead runner left.
func TestARunsCgroupFoundByIDIsTheOneItRunsIn(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	id := fmt.Sprintf("find%d", os.Getpid())
	c, err := Start(Paths{Root: root}, Spec{ID: id, Args: []string{"/bin/sh", "-c", "echo ready; exec sleep 60"},
		MemoryBytes: 64 << 20, Env: []string{"PATH=" + DefaultPath}}, IO{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		c.Kill()
		c.Wait()
		if err := c.Destroy(); err != nil {
			t.Error(err)
		}
		assertGone(t, root, id)
	}()
	if line, err := bufio.NewReader(c.Stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("connector: %q, %v", line, err)
	}
	found, err := FindCgroup(id, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	runs := c.Cgroup()
	if found.MemoryDir() != runs.MemoryDir() || found.V2() != runs.V2() {
		t.Fatalf("found by id: %s (v2 %v); the run's: %s (v2 %v)", found.MemoryDir(), found.V2(), runs.MemoryDir(), runs.V2())
	}
	for _, d := range runs.Dirs() {
		if !slices.Contains(found.Dirs(), d) {
			t.Errorf("the run's cgroup %s is not among those found by id: %v", d, found.Dirs())
		}
	}
	procs, err := found.Procs()
	if err != nil || !slices.Contains(procs, c.Pid()) {
		t.Errorf("Procs() = %v, %v; want the connector %d", procs, err, c.Pid())
	}
	a, errA := found.Read()
	b, errB := runs.Read()
	if errA != nil || errB != nil || a.LimitBytes != 64<<20 || b.LimitBytes != a.LimitBytes || a.UsageBytes <= 0 {
		t.Errorf("found: %+v, %v; the run's: %+v, %v; want the 64 MiB limit and some usage in both", a, errA, b, errB)
	}
}
