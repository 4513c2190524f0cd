// Package cgroup is the one place syncbox knows about Linux control
// groups, v1 and v2: which layout the host has and where the runner's own
// cgroup is in each hierarchy (layout.go), the parsers of /proc/PID/cgroup,
// mountinfo and the kernel's cgroup files, which take bytes so they are
// tested on fixtures from real hosts (parse.go), one run's cgroup and the
// figures read from it (cgroup.go, with the files of each version in v1.go
// and v2.go), listing, killing and removing what a dead runner left
// (remove.go), and on v2 keeping run cgroups inside the runner's own
// (delegate.go). The runner's sampler, `syncbox ps`, cleanup and doctor
// all read through it.
//
// It must not create, move or remove a cgroup outside the runner's own
// subtree, signal a process that is not in a run's cgroup, or move any
// process but the runner itself. It never imports cmd or names CLI flags.
// Creating a run's cgroup with its limits is libcontainer's job (package
// container gives it the path from here).
package cgroup
