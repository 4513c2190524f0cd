package container

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"syncbox/run/hostfs"
)

// pinnedSources are the bind-mount sources of one container, resolved once
// by the runner by hostfs's path rule (a tenant's symlink is refused) and
// remembered by identity (device and inode).
//
// libcontainer resolves each source path again in the container's init,
// a moment later: a tenant swapping a directory of the path with
// renameat2(RENAME_EXCHANGE) in between redirected the mount (in the
// issue's trial, the host's / read-write in 12 of 40 runs). The kernel
// refuses to bind-mount a descriptor from another mount namespace (EINVAL:
// neither a plain O_PATH descriptor nor an open_tree clone can be handed to
// the init as /proc/<pid>/fd/N), so instead the container is started
// without running the connector (libcontainer's Start, which stops the
// init at its exec fifo), every bind mount is checked to be the object
// pinned here, and only then is the connector executed. A mount made from
// anything else fails the run before a single instruction of the tenant's
// runs with it.
type pinnedSources struct {
	binds []pinned
}

type pinned struct {
	source, dest string
	dev, ino     uint64
}

// pinBindSources resolves and pins the source of every bind mount in cfg.
func pinBindSources(cfg *configs.Config) (*pinnedSources, error) {
	p := &pinnedSources{}
	for _, m := range cfg.Mounts {
		if !m.IsBind() {
			continue
		}
		f, err := hostfs.OpenPath(m.Source)
		if err != nil {
			var ul *hostfs.UntrustedLinkError
			if errors.As(err, &ul) {
				return nil, fmt.Errorf("bind source %s: %w", m.Source, err)
			}
			return nil, fmt.Errorf("bind source: %w", err)
		}
		var st unix.Stat_t
		err = unix.Fstat(int(f.Fd()), &st)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("bind source %s: %w", m.Source, err)
		}
		p.binds = append(p.binds, pinned{source: m.Source, dest: m.Destination, dev: st.Dev, ino: st.Ino})
	}
	return p, nil
}

// verify checks, through /proc/<pid>/root of the stopped init, that what
// is mounted at each destination is the pinned source. Destinations are
// walked without following symlinks: libcontainer creates mount points as
// real directories, so a link on the way is itself a sign of tampering.
func (p *pinnedSources) verify(initPid int) error {
	root, err := unix.Open(fmt.Sprintf("/proc/%d/root", initPid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the container's root: %w", err)
	}
	defer unix.Close(root)
	// Later mounts over the same destination hide earlier ones: check the
	// last mount at each destination only.
	last := map[string]int{}
	for i, b := range p.binds {
		last[b.dest] = i
	}
	for i, b := range p.binds {
		if last[b.dest] != i {
			continue
		}
		st, err := statNoFollow(root, b.dest)
		if err != nil {
			return fmt.Errorf("check bind %s: %w", b.dest, err)
		}
		if st.Dev != b.dev || st.Ino != b.ino {
			return fmt.Errorf("bind source %s changed while it was being mounted at %s (a swapped directory or link); refusing to run", b.source, b.dest)
		}
	}
	return nil
}

// statNoFollow stats path below the directory dirfd, refusing symlinks in
// any component.
func statNoFollow(dirfd int, path string) (*unix.Stat_t, error) {
	fd, err := unix.Dup(dirfd)
	if err != nil {
		return nil, err
	}
	for _, c := range strings.Split(strings.Trim(path, "/"), "/") {
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			unix.Close(fd)
			return nil, fmt.Errorf("%s: '..' in a mount destination", path)
		}
		next, err := unix.Openat(fd, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		fd = next
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return nil, fmt.Errorf("%s is a symlink inside the container", path)
	}
	return &st, nil
}
