package hostfs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Flock applies flock(2) operation how (LOCK_EX, LOCK_SH, LOCK_UN, with
// LOCK_NB) to f, retrying on EINTR. It goes through SyscallConn, not Fd(),
// which would switch f to blocking mode. The one flock helper of syncbox:
// every lock it takes (run dirs, the one-run lock, the state file, the
// budget ledger) is an flock, so a dead holder's lock is free at once.
func Flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Flock(int(fd), how)
			if !errors.Is(ferr, unix.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}

// TryLock takes an exclusive flock on f without waiting: held reports
// that another holder has it (err is then nil).
func TryLock(f *os.File) (held bool, err error) {
	err = Flock(f, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}
