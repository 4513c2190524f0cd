package container

import (
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// CgroupfsPath is where the container sees its own cgroup.
const CgroupfsPath = "/sys/fs/cgroup"

// cgroupfsMount shows the container its own cgroup, read-only, at
// /sys/fs/cgroup, so runtimes that size themselves from their limit (the
// JVM's UseContainerSupport, Node's heap limit, Go's GOMAXPROCS, Python
// libraries) see --memory, --cpus and --pids instead of the host's RAM and
// cores. The container has its own cgroup namespace, so the mount's root is
// the run's cgroup and /proc/self/cgroup says "/" to match.
//
// libcontainer's "cgroup" type does the right thing per host: on cgroup v2
// one cgroup2 mount; on v1 (also hybrid) a tmpfs holding one mount per
// hierarchy (memory, cpu,cpuacct, pids, ...), where the JVM looks for them.
// Read-only: the connector must not raise its own limits; the kernel also
// refuses writes to an ancestor's files from inside, this is the second lock.
func cgroupfsMount() *configs.Mount {
	return &configs.Mount{
		Source:      "cgroup",
		Destination: CgroupfsPath,
		Device:      "cgroup",
		Flags:       unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RELATIME | unix.MS_RDONLY,
	}
}
