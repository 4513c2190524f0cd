package runlock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syncbox/run/hostfs"
	"time"

	"golang.org/x/sys/unix"
)

// LocksDir is the directory under the syncbox home that holds the local
// locks, one subdirectory per tenant and one file per connector:
// locks/<tenant>/<name>.lock, all owned by the runner (root).
const LocksDir = "locks"

// Local is the backend for one machine: flock(2) on a file per key. The
// file holds the holder's JSON record, which a second runner reads, and
// the last fencing token, which the next holder increments.
type Local struct{ Home string }

// TryLock implements Backend.
func (b Local) TryLock(_ context.Context, k Key, h Holder) (*Lock, error) {
	if b.Home == "" {
		return nil, errors.New("run lock: no syncbox home given")
	}
	f, err := b.open(k)
	if err != nil {
		return nil, err
	}
	if held, err := hostfs.TryLock(f); held || err != nil {
		defer f.Close()
		if err == nil {
			return nil, &HeldError{Key: k, Holder: readHolder(f)}
		}
		return nil, fmt.Errorf("run lock %s: %w", f.Name(), err)
	}
	prev, _ := readRecord(f)
	h.Token = prev.Token + 1
	if err := writeRecord(f, h); err != nil {
		f.Close()
		return nil, err
	}
	l, _ := NewLock(h, func() error {
		// Leave the token for the next holder, but no holder: a reader
		// that finds no run id knows the record is not current.
		werr := writeRecord(f, Holder{Token: h.Token})
		if cerr := f.Close(); werr == nil && cerr != nil {
			werr = fmt.Errorf("release run lock %s: %w", f.Name(), cerr)
		}
		return werr
	})
	return l, nil
}

// open opens (creating) the lock file of k. Every component below the
// home is opened relative to its parent without following symlinks and
// must be the runner's own and writable by nobody else: a tenant who could
// plant a link or a file there could otherwise steal or break the lock.
func (b Local) open(k Key) (*os.File, error) {
	if err := os.MkdirAll(b.Home, 0o755); err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	home, err := unix.Open(b.Home, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("run lock: open %s: %w", b.Home, err)
	}
	defer unix.Close(home)
	locks, err := ownDir(home, filepath.Join(b.Home, LocksDir), LocksDir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(locks)
	dirPath := filepath.Join(b.Home, LocksDir, k.Tenant)
	dir, err := ownDir(locks, dirPath, k.Tenant)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	path := filepath.Join(dirPath, k.Name+".lock")
	// O_CLOEXEC: the lock must not outlive the runner in a process it
	// starts (the container's init re-executes the runner).
	fd, err := unix.Openat(dir, k.Name+".lock", unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("run lock: open %s: %w", path, err)
	}
	if err := checkOwn(fd, path, unix.S_IFREG); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// ownDir creates (if needed) and opens the directory name under parent.
func ownDir(parent int, path, name string) (int, error) {
	if err := unix.Mkdirat(parent, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("run lock: create %s: %w", path, err)
	}
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("run lock: open %s (it must be a directory, not a symlink): %w", path, err)
	}
	if err := checkOwn(fd, path, unix.S_IFDIR); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func checkOwn(fd int, path string, kind uint32) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("run lock: stat %s: %w", path, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != kind:
		return fmt.Errorf("run lock: %s is not a regular file or directory as expected; remove it", path)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("run lock: %s is owned by uid %d, not by the runner (uid %d); refusing to use it", path, st.Uid, os.Geteuid())
	case st.Mode&0o022 != 0:
		return fmt.Errorf("run lock: %s is writable by group or others (mode %o); refusing to use it", path, st.Mode&0o7777)
	}
	return nil
}

// writeRecord replaces the file's content with h (the lock is held).
func writeRecord(f *os.File, h Holder) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("run lock %s: %w", f.Name(), err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("run lock %s: %w", f.Name(), err)
	}
	// The token must not go backwards after a crash.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("run lock %s: %w", f.Name(), err)
	}
	return nil
}

func readRecord(f *os.File) (Holder, error) {
	var h Holder
	b := make([]byte, 4096)
	n, err := f.ReadAt(b, 0)
	if n == 0 {
		return h, err
	}
	err = json.Unmarshal(bytes.TrimSpace(b[:n]), &h)
	return h, err
}

// readHolder reads the record of a lock someone else holds. A new holder
// rewrites the record just after taking the lock, so for a moment the file
// may still name the previous, released or dead holder; such a record is
// read again briefly before the holder is called unknown.
func readHolder(f *os.File) Holder {
	host, _ := os.Hostname()
	for range 20 {
		h, err := readRecord(f)
		if err == nil && h.RunID != "" && (h.Machine != host || alive(h.PID)) {
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
	return Holder{}
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
