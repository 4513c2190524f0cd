package container

import "golang.org/x/sys/unix"

// PrepareInit runs in the re-executed "init" process before
// libcontainer.Init. libcontainer asks for a parent-death signal, but
// nsexec's clones drop it; set it again here so the connector is SIGKILLed
// the moment its runner dies (even by SIGKILL), instead of running on
// unsupervised until the next cleanup. libcontainer keeps it across its
// setuid and kills the init itself if the runner died before this point.
func PrepareInit() {
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
}
