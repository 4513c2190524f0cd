package budget

import (
	"errors"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// watcher tells a waiter when the ledger may have changed, so that a long
// queue does not cost every waiter a locked read and a probe of every entry
// ten times a second. Events that matter:
//
//   - IN_MOVED_TO / IN_DELETE on the ledger directory: ledger.json was
//     replaced (a run arrived, left or was admitted) or removed;
//   - IN_CLOSE_WRITE on entries/: an owner's read-write lock fd closed,
//     which is what happens when it dies, even by SIGKILL. Liveness probes
//     open read-only and do not trigger it.
//
// It is a hint only: waiters still check every fullCheckInterval, and poll
// on every tick when inotify is unavailable (e.g. fs.inotify.max_user_instances
// is exhausted by a large queue).
type watcher struct{ fd int }

func newWatcher(dir string) *watcher {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return &watcher{fd: -1}
	}
	_, err1 := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO|unix.IN_DELETE)
	_, err2 := unix.InotifyAddWatch(fd, filepath.Join(dir, entriesDir), unix.IN_CLOSE_WRITE)
	if err1 != nil || err2 != nil {
		unix.Close(fd)
		return &watcher{fd: -1}
	}
	return &watcher{fd: fd}
}

// changed drains pending events and reports whether there were any; without
// inotify it always reports true.
func (w *watcher) changed() bool {
	if w.fd < 0 {
		return true
	}
	var buf [4096]byte
	got := false
	for {
		n, err := unix.Read(w.fd, buf[:])
		switch {
		case n > 0:
			got = true
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			return got
		default:
			return true // unexpected: fall back to checking
		}
	}
}

func (w *watcher) close() {
	if w.fd >= 0 {
		unix.Close(w.fd)
	}
}
