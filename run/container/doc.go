// Package container starts one command inside its own Linux container with
// runc's libcontainer and removes every trace of it afterwards.
//
// One file per isolation concern, so the file list reads like the feature
// list: rootfs.go decides what of the host filesystem is visible (and the
// size-limited tmpfs workdir), bindsrc.go pins bind sources so a swapped
// path cannot redirect a mount, config.go the namespaces, capabilities,
// rlimits and cgroup resources, hostlimits.go the share of host-wide tables
// (open files) one run may take, seccomp.go the syscall allowlist, stdio.go
// the runner-owned pipes the connector gets instead of the caller's stdio,
// container.go the process lifecycle, signal.go how a stop signal reaches
// a PID 1 that has no handler for it, cleanup.go the recovery of runs whose
// runner died, interp.go what an interpreted command (#!, virtualenv,
// node_modules) needs from the host, cgroupfs.go the container's read-only
// view of its own cgroup, rwbind.go the ownership rule of writable binds.
// escape*_test.go attack all of it. What cgroups are and where they go on
// v1 and v2 is package cgroup's: this package asks it for the run's
// cgroup path (cgroup.Claim) and for a dead run's cgroup to remove.
//
// The package knows nothing about flags, records or reports: it takes a Spec
// and gives back an exit status and the cgroup paths to read figures from.
//
// Layout on the host, under Paths.Root (default /run/syncbox):
//
//	runs/<id>/lock    flock held by the live runner; free means the runner died
//	runs/<id>/rootfs  the container's empty, read-only root with bind mounts
//	lc/<id>/          libcontainer's own state (state.json)
//
// Cgroups are named "syncbox-<id>", single-level, under the runner's own
// cgroup in every hierarchy (on v1 a relative path; on v2 the absolute
// path cgroup.Claim gives, inside the runner's own).
package container
