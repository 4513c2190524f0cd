package container

import (
	"testing"

	"syncbox/testdata/testenv"
)

// After container starts, this process must still see the host's mounts
// and cgroups: the leftover checks, Cleanup and the "still mounted" guard
// before a run dir is removed all depend on it. libcontainer can leave the
// main thread parked in a container's mount namespace, where /proc/self
// shows a dead rootfs and nothing else.
func TestHostViewSurvivesContainerStarts(t *testing.T) {
	testenv.RequireRoot(t)
	for i := 0; i < 12; i++ {
		runIn(t, t.TempDir(), Spec{Args: []string{"/bin/true"}})
		if d := ownCgroups(t); len(d) == 0 {
			t.Fatalf("after %d container(s): no own cgroup directories found", i+1)
		}
		if mp, err := mountedBelow("/sys/fs"); err != nil || mp == "" {
			t.Fatalf("after %d container(s): no mount seen below /sys/fs (%v)", i+1, err)
		}
	}
}
