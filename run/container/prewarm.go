package container

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/cgroups"
)

// Prewarm starts, in the background, the kernel's RCU grace period that
// the container's first cgroup migration would otherwise wait out.
//
// On cgroup v1 every write to cgroup.procs takes cgroup_threadgroup_rwsem
// for writing, and the first writer after a quiet spell waits one RCU
// grace period (10-20 ms measured on this kernel); writers shortly after
// pass at once. Moving our own pid into the cgroup it is already in is a
// no-op that starts that wait early, so it overlaps the runner's own setup
// instead of delaying the connector. It touches no other process and no
// other cgroup. On cgroup v2 libcontainer starts the init directly inside
// its cgroup (CLONE_INTO_CGROUP) and nothing migrates, so it does nothing.
func Prewarm() {
	if cgroups.IsCgroup2UnifiedMode() {
		return
	}
	dirs := ownCgroupDirs("")
	if len(dirs) == 0 {
		return
	}
	go func() {
		// Any one hierarchy will do: the rwsem is global.
		_ = os.WriteFile(filepath.Join(dirs[0], "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
	}()
}
