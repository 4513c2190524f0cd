package hostfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// RemoveAll removes path and everything below it, whatever a tenant made
// of it: symlinks are removed, never followed; mount points are never
// crossed; depth costs memory for one name per level, not a descriptor
// (os.RemoveAll holds one per level, so a 30,000-deep tree outlasts the
// open-file limit and stays on the host). The parent of path is resolved
// by the path rule. A missing path is not an error.
func RemoveAll(path string) error {
	path = filepath.Clean(path)
	d, err := OpenDir(filepath.Dir(path))
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	return d.RemoveAll(filepath.Base(path))
}

// frame is one directory on the way down: the name it has in its parent,
// and its identity, checked when coming back up through "..".
type frame struct {
	name     string
	dev, ino uint64
}

// RemoveAll removes name from d, with everything below it.
func (d *Dir) RemoveAll(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	top := d.join(name)
	err := unix.Unlinkat(d.fd(), name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return &os.PathError{Op: "remove", Path: top, Err: err}
	}
	if err = unix.Unlinkat(d.fd(), name, unix.AT_REMOVEDIR); err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	dst, err := fstat(d.f)
	if err != nil {
		return err
	}
	cur, err := openFD(d.fd(), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
	if err != nil {
		return &os.PathError{Op: "remove", Path: top, Err: unwrapErrno(err)}
	}
	st, err := fstat(cur)
	if err != nil {
		cur.Close()
		return err
	}
	if st.Dev != dst.Dev {
		cur.Close()
		return fmt.Errorf("remove %s: it is a mount point; refusing to remove what is mounted there", top)
	}
	dev := st.Dev
	// stack[i] is the i-th directory on the way down; stack[0] is top.
	stack := []frame{{name: name, dev: st.Dev, ino: st.Ino}}
	for {
		sub, err := emptyDir(cur, dev)
		if err != nil {
			cur.Close()
			return fmt.Errorf("remove %s: %w", top, err)
		}
		if sub != "" {
			next, err := openFD(int(cur.Fd()), sub, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
			if err != nil {
				cur.Close()
				return fmt.Errorf("remove %s: descend: %w", top, unwrapErrno(err))
			}
			nst, err := fstat(next)
			if err != nil {
				cur.Close()
				next.Close()
				return err
			}
			cur.Close()
			cur = next
			stack = append(stack, frame{name: sub, dev: nst.Dev, ino: nst.Ino})
			continue
		}
		// cur is empty: go up and remove it from its parent.
		done := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if len(stack) == 0 {
			cur.Close()
			if err := unix.Unlinkat(d.fd(), name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
				return &os.PathError{Op: "remove", Path: top, Err: err}
			}
			return nil
		}
		parent, err := openFD(int(cur.Fd()), "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
		cur.Close()
		if err != nil {
			return fmt.Errorf("remove %s: ascend: %w", top, unwrapErrno(err))
		}
		pst, err := fstat(parent)
		if err == nil && (pst.Dev != stack[len(stack)-1].dev || pst.Ino != stack[len(stack)-1].ino) {
			err = errors.New("a directory was moved during removal; stopping")
		}
		if err != nil {
			parent.Close()
			return fmt.Errorf("remove %s: %w", top, err)
		}
		if err := unix.Unlinkat(int(parent.Fd()), done.name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
			parent.Close()
			return fmt.Errorf("remove %s: %w", top, err)
		}
		cur = parent
	}
}

// emptyDir removes every non-directory entry of dir and every directory
// entry that is already empty. It returns the name of a non-empty
// subdirectory to descend into, or "" once dir is empty.
func emptyDir(dir *os.File, dev uint64) (string, error) {
	for {
		if _, err := dir.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
		names, err := dir.Readdirnames(1024)
		if len(names) == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				return "", nil
			}
			return "", err
		}
		for _, n := range names {
			err := unix.Unlinkat(int(dir.Fd()), n, 0)
			if err == nil || errors.Is(err, unix.ENOENT) {
				continue
			}
			if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
				return "", fmt.Errorf("%s: %w", n, err)
			}
			err = unix.Unlinkat(int(dir.Fd()), n, unix.AT_REMOVEDIR)
			if err == nil || errors.Is(err, unix.ENOENT) {
				continue
			}
			if !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
				return "", fmt.Errorf("%s: %w", n, err)
			}
			var st unix.Stat_t
			if err := unix.Fstatat(int(dir.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return "", fmt.Errorf("%s: %w", n, err)
			}
			if st.Dev != dev {
				return "", fmt.Errorf("%s is a mount point; refusing to remove what is mounted there", n)
			}
			return n, nil
		}
	}
}
