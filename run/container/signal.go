package container

// This file is how a stop signal reaches a connector. The connector is
// PID 1 of its pid namespace, and the kernel drops a signal that PID 1
// neither catches nor ignores (default dispositions do not apply to a
// namespace's init). sh, python and most programs set no SIGTERM handler,
// so without this a stop (SIGTERM from cron or systemd, --timeout) would
// wait out the whole grace period while records and checkpoints went on.

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// Signal sends sig to the connector (PID 1 of the container). If the
// connector has no handler for sig and does not ignore it, and sig's
// default action ends a process, the container is killed instead: what
// that default would have done outside a container. A handler runs as
// usual, and an ignored signal stays ignored (callers follow up with Kill
// after their grace period).
func (c *Container) Signal(sig os.Signal) error {
	if c.proc == nil {
		return nil
	}
	if s, ok := sig.(syscall.Signal); ok && endsByDefault(s) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Pid())); err == nil {
			if ign, cgt, err := signalMasks(b); err == nil && droppedByPID1(ign, cgt, s) {
				return c.Kill()
			}
		}
	}
	return c.proc.Signal(sig)
}

// endsByDefault reports whether sig's default action terminates a process
// (signal(7): Term or Core), for the stop signals syncbox sends.
func endsByDefault(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2:
		return true
	}
	return false
}

// droppedByPID1 reports whether a namespace's PID 1 with these SigIgn
// and SigCgt masks would never see sig: neither caught nor ignored.
func droppedByPID1(ign, cgt uint64, sig syscall.Signal) bool {
	bit := uint64(1) << (uint(sig) - 1)
	return ign&bit == 0 && cgt&bit == 0
}

// signalMasks reads the SigIgn and SigCgt masks of a /proc/PID/status.
func signalMasks(status []byte) (ign, cgt uint64, err error) {
	var haveIgn, haveCgt bool
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.Equal(name, []byte("SigIgn")) && !bytes.Equal(name, []byte("SigCgt")) {
			continue
		}
		v, perr := strconv.ParseUint(string(bytes.TrimSpace(val)), 16, 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("/proc status: %s: %w", name, perr)
		}
		if name[3] == 'I' {
			ign, haveIgn = v, true
		} else {
			cgt, haveCgt = v, true
		}
	}
	if !haveIgn || !haveCgt {
		return 0, 0, fmt.Errorf("/proc status: no SigIgn and SigCgt lines")
	}
	return ign, cgt, nil
}
