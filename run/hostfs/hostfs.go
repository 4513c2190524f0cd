// Package hostfs opens host paths for a runner that runs as root on behalf
// of tenants who must be assumed hostile. Any path a tenant can write is
// hostile: a symlink or a swapped directory planted there would make root
// read, write or mount whatever it points at. So every path is resolved
// once, one component at a time, and then used by descriptor.
//
// The rule (the README's "path rule"): a symlink is followed only if root
// owns it and the directory holding it is owned by root and writable by
// no one else (or sticky), so only root could have planted or replaced
// it; any other symlink is an error. Operators keep their root-made links
// (/var/lib -> /data, Kubernetes' secret volumes); a tenant's link is never
// followed. Files opened for reading or writing must be regular files with
// one link: a hard link would make root read or write another file.
// Outputs are created O_EXCL|O_NOFOLLOW inside a directory held open, and
// replaced atomically with a temp file, fsync, renameat and a directory
// fsync, all relative to that descriptor.
//
// It must not follow a path twice: callers keep the *os.File or *Dir it
// returns instead of passing the path on (to libcontainer, to os.*).
package hostfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxFollows bounds how many trusted symlinks one resolution follows
// (the kernel's own limit is 40).
const maxFollows = 40

// UntrustedLinkError is a symlink the path rule refuses.
type UntrustedLinkError struct {
	Path   string // the path as given
	Link   string // the symlink met on the way
	Target string
	Why    string
}

func (e *UntrustedLinkError) Error() string {
	return fmt.Sprintf("%s: %s is a symlink (to %s) %s; give the real path (symlinks only root could have planted are followed)",
		e.Path, e.Link, e.Target, e.Why)
}

// resolve walks path from "/" one component at a time and returns the
// directory holding its last component (O_PATH) and that component's name.
// Intermediate symlinks are followed only if trusted.
func resolve(path string) (dir *os.File, dirPath, name string, err error) {
	orig := path
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: %w", orig, err)
	}
	path = abs
	for follows := 0; ; follows++ {
		if follows > maxFollows {
			return nil, "", "", &os.PathError{Op: "resolve", Path: orig, Err: unix.ELOOP}
		}
		comps := strings.Split(strings.TrimPrefix(filepath.Clean(path), "/"), "/")
		if comps[0] == "" {
			return nil, "", "", fmt.Errorf("%s: the root directory has no parent", orig)
		}
		d, err := openFD(unix.AT_FDCWD, "/", unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return nil, "", "", err
		}
		canonical := "/"
		restarted := false
		for i, c := range comps[:len(comps)-1] {
			next, err := openFD(int(d.Fd()), c, unix.O_PATH|unix.O_NOFOLLOW)
			if err != nil {
				d.Close()
				return nil, "", "", &os.PathError{Op: "open", Path: filepath.Join(canonical, c), Err: unwrapErrno(err)}
			}
			st, err := fstat(next)
			if err != nil {
				d.Close()
				next.Close()
				return nil, "", "", err
			}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFDIR:
				d.Close()
				d = next
				canonical = filepath.Join(canonical, c)
				continue
			case unix.S_IFLNK:
				target, err := trustedTarget(orig, d, next, filepath.Join(canonical, c))
				d.Close()
				next.Close()
				if err != nil {
					return nil, "", "", err
				}
				if !filepath.IsAbs(target) {
					target = filepath.Join(canonical, target)
				}
				path = filepath.Join(append([]string{target}, comps[i+1:]...)...)
				restarted = true
			default:
				d.Close()
				next.Close()
				return nil, "", "", &os.PathError{Op: "open", Path: filepath.Join(canonical, c), Err: unix.ENOTDIR}
			}
			break
		}
		if !restarted {
			return d, canonical, comps[len(comps)-1], nil
		}
	}
}

// trustedTarget reads the symlink link (an O_PATH descriptor) found in
// dir and returns its target if the path rule allows following it.
func trustedTarget(orig string, dir, link *os.File, where string) (string, error) {
	target, err := readlinkFD(link)
	if err != nil {
		return "", fmt.Errorf("%s: readlink %s: %w", orig, where, err)
	}
	lst, err := fstat(link)
	if err != nil {
		return "", err
	}
	dst, err := fstat(dir)
	if err != nil {
		return "", err
	}
	refuse := func(why string) error {
		return &UntrustedLinkError{Path: orig, Link: where, Target: target, Why: why}
	}
	switch {
	case lst.Uid != 0:
		return "", refuse(fmt.Sprintf("owned by uid %d", lst.Uid))
	case dst.Uid != 0:
		return "", refuse(fmt.Sprintf("in a directory owned by uid %d", dst.Uid))
	case dst.Mode&0o022 != 0 && dst.Mode&unix.S_ISVTX == 0:
		return "", refuse("in a directory others can write")
	}
	return target, nil
}

func readlinkFD(f *os.File) (string, error) {
	buf := make([]byte, 256)
	for {
		// An empty path with an O_PATH descriptor reads the link itself:
		// the very object whose owner was checked, not a name re-looked-up.
		n, err := unix.Readlinkat(int(f.Fd()), "", buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

func openFD(dirfd int, name string, flags int) (*os.File, error) {
	return openFDMode(dirfd, name, flags, 0, name)
}

// openFDMode opens name relative to dirfd; the file is called display.
func openFDMode(dirfd int, name string, flags int, mode uint32, display string) (*os.File, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags|unix.O_CLOEXEC, mode)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "openat", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), display), nil
	}
}

func fstat(f *os.File) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return &st, nil
}

func unwrapErrno(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// OpenPath returns an O_PATH descriptor of path (file or directory): a
// handle to bind-mount or to reopen, resolved once by the path rule.
func OpenPath(path string) (*os.File, error) {
	return openLast(path, unix.O_PATH, 0, false)
}

// Open opens path for reading. It must be a regular file with one link.
func Open(path string) (*os.File, error) {
	return openLast(path, unix.O_RDONLY, 0, true)
}

// ReadFile reads path by the path rule, refusing more than max bytes
// (0: no bound) so a planted huge file cannot exhaust the runner's memory.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if max > 0 {
		r = io.LimitReader(f, max+1)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if max > 0 && int64(len(b)) > max {
		return nil, fmt.Errorf("%s: more than the %d bytes allowed", path, max)
	}
	return b, nil
}

// OpenFile opens path with flag (os.O_WRONLY|os.O_APPEND|os.O_CREATE for a
// log, say) by the path rule. The last component is never followed if it
// is a symlink; an existing file must be a regular file with one link;
// O_TRUNC is applied only after those checks.
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	return openLast(path, flag, perm, true)
}

// openLast resolves path's directory and opens its last component.
func openLast(path string, flag int, perm os.FileMode, regular bool) (*os.File, error) {
	if abs, err := filepath.Abs(path); err == nil && abs == "/" {
		return openFDMode(unix.AT_FDCWD, "/", openFlags(flag)&^unix.O_NOFOLLOW, 0, "/")
	}
	for follows := 0; follows <= maxFollows; follows++ {
		dir, dirPath, name, err := resolve(path)
		if err != nil {
			return nil, err
		}
		if dirPath == ownFdDir() && flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE) == 0 {
			// /dev/stdin, <(cmd): a descriptor of the runner itself, given
			// on its own command line; no tenant can plant one.
			f, err := openFDMode(int(dir.Fd()), name, (flag&^unix.O_NOFOLLOW)|unix.O_NOCTTY, 0, path)
			dir.Close()
			return f, err
		}
		f, target, err := openIn(dir, name, path, flag, perm, regular)
		dir.Close()
		if err != nil || target == "" {
			return f, err
		}
		// A trusted symlink as the last component: resolve its target.
		if !filepath.IsAbs(target) {
			target = filepath.Join(dirPath, target)
		}
		path = target
	}
	return nil, &os.PathError{Op: "open", Path: path, Err: unix.ELOOP}
}

// ownFdDir is where this process's descriptors appear in procfs.
func ownFdDir() string { return fmt.Sprintf("/proc/%d/fd", os.Getpid()) }

// openIn opens name in dir. If name is a symlink the rule trusts, it
// returns its target instead, for the caller to resolve.
func openIn(dir *os.File, name, orig string, flag int, perm os.FileMode, regular bool) (*os.File, string, error) {
	dfd := int(dir.Fd())
	// Look first, without following and without side effects.
	probe, err := openFD(dfd, name, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		if errors.Is(err, unix.ENOENT) && flag&os.O_CREATE != 0 {
			f, err := openFDMode(dfd, name, openFlags(flag)|unix.O_CREAT|unix.O_EXCL, uint32(perm.Perm()), orig)
			if err != nil {
				return nil, "", fmt.Errorf("create %s: %w", orig, unwrapErrno(err))
			}
			return finish(f, orig, flag)
		}
		return nil, "", &os.PathError{Op: "open", Path: orig, Err: unwrapErrno(err)}
	}
	defer probe.Close()
	pst, err := fstat(probe)
	if err != nil {
		return nil, "", err
	}
	if pst.Mode&unix.S_IFMT == unix.S_IFLNK {
		target, err := trustedTarget(orig, dir, probe, orig)
		return nil, target, err
	}
	if flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0 {
		return nil, "", &os.PathError{Op: "create", Path: orig, Err: unix.EEXIST}
	}
	if flag&unix.O_PATH != 0 {
		return dupFile(probe, orig)
	}
	if regular {
		if err := checkRegular(pst, orig); err != nil {
			return nil, "", err
		}
	}
	// Reopen the object the probe saw. O_NOFOLLOW|O_NONBLOCK: a symlink or
	// FIFO swapped in since fails instead of being followed or blocking.
	f, err := openFDMode(dfd, name, openFlags(flag)|unix.O_NONBLOCK, 0, orig)
	if err != nil {
		return nil, "", &os.PathError{Op: "open", Path: orig, Err: unwrapErrno(err)}
	}
	st, err := fstat(f)
	if err == nil && (st.Dev != pst.Dev || st.Ino != pst.Ino) {
		err = fmt.Errorf("%s was replaced while being opened", orig)
	}
	if err != nil {
		f.Close()
		return nil, "", err
	}
	return finish(f, orig, flag)
}

// openFlags are the flags of the real open: never following, never
// truncating before the checks, never a controlling terminal.
func openFlags(flag int) int {
	return (flag &^ (os.O_CREATE | os.O_TRUNC | os.O_EXCL)) | unix.O_NOFOLLOW | unix.O_NOCTTY
}

// finish checks an opened file, truncates it if asked, and clears the
// O_NONBLOCK used to open it.
func finish(f *os.File, orig string, flag int) (*os.File, string, error) {
	st, err := fstat(f)
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		err = checkRegular(st, orig)
	}
	if err == nil && flag&os.O_TRUNC != 0 {
		err = unix.Ftruncate(int(f.Fd()), 0)
	}
	if err == nil {
		var fl int
		if fl, err = unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err == nil {
			_, err = unix.FcntlInt(f.Fd(), unix.F_SETFL, fl&^unix.O_NONBLOCK)
		}
	}
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("open %s: %w", orig, err)
	}
	return f, "", nil
}

func dupFile(f *os.File, name string) (*os.File, string, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, "", fmt.Errorf("dup %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), "", nil
}

func checkRegular(st *unix.Stat_t, orig string) error {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s is not a regular file", orig)
	}
	if st.Nlink > 1 {
		return fmt.Errorf("%s has %d hard links: refusing it (one could be a planted link to another file)", orig, st.Nlink)
	}
	return nil
}
