package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syncbox/run/cgroup"
	"syncbox/run/hostfs"
	"syscall"

	// Without the device manager libcontainer refuses the device rules
	// every container needs ("cgroup manager is not configured...").
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// workdirRecord, in a run dir, names the workdir Cleanup must remove if
// the runner dies.
const workdirRecord = "workdir"

// stdoutPipeSize is the kernel buffer of the connector's stdout pipe.
const stdoutPipeSize = 1 << 20

// Paths says where a runner keeps its per-run state on the host.
type Paths struct {
	Root string // "" means DefaultRoot
}

// DefaultRoot is where runs keep their state when the caller names no
// root: a tmpfs on most hosts, so a reboot leaves nothing behind. It must
// not contain the syncbox binary (libcontainer's self-exe sealing fails on
// overlapping paths). The package reads no environment: cmd resolves
// SYNCBOX_RUN_DIR.
const DefaultRoot = "/run/syncbox"

// Dir is the root the paths use.
func (p Paths) Dir() string { return p.root() }

func (p Paths) root() string {
	if p.Root == "" {
		return DefaultRoot
	}
	return p.Root
}
func (p Paths) runsDir() string         { return filepath.Join(p.root(), "runs") }
func (p Paths) lcRoot() string          { return filepath.Join(p.root(), "lc") }
func (p Paths) runDir(id string) string { return filepath.Join(p.runsDir(), id) }

// Exit is how the container's first process ended.
type Exit struct {
	Code     int            // exit code when it exited
	Signaled bool           // true when it was killed by a signal
	Signal   syscall.Signal // the signal, when Signaled
}

func (e Exit) String() string {
	if e.Signaled {
		return "killed by signal " + unix.SignalName(e.Signal)
	}
	return fmt.Sprintf("exited with code %d", e.Code)
}

// Container is one started run. Its methods are safe for concurrent use.
type Container struct {
	ID     string
	Stdout *os.File // the read end of the connector's stdout
	Stdin  *os.File // the write end of its stdin, when IO.StdinPipe (close it for EOF)

	paths  Paths
	runDir string
	lock   *os.File
	lc     *libcontainer.Container
	proc   *libcontainer.Process
	cg     map[string]string
	stdio  *stdio
	pinned *pinnedSources

	cgClaimed bool // cgroup.Claim counted this container

	waited chan struct{}
	exit   Exit
	werr   error

	destroyOnce sync.Once
	destroyErr  error
}

// Start creates the container for s and starts its command, with its
// stdin and stderr connected as io says (stdout is Container.Stdout).
// On error everything created so far is removed again.
func Start(p Paths, s Spec, io IO) (_ *Container, retErr error) {
	if err := s.normalize(); err != nil {
		return nil, &SetupError{Op: "spec", Err: err}
	}
	c := &Container{ID: s.ID, paths: p, runDir: p.runDir(s.ID), waited: make(chan struct{})}
	defer func() {
		if retErr != nil {
			if err := c.Destroy(); err != nil {
				retErr = fmt.Errorf("%w (and cleanup failed: %v)", retErr, err)
			}
		}
	}()
	if err := c.claimRunDir(); err != nil {
		return c, &SetupError{Op: "state dir", Err: err}
	}
	cgPath, err := cgroup.Claim(CgroupName(s.ID))
	if err != nil {
		return c, &SetupError{Op: "cgroup", Err: err}
	}
	s.cgroupPath, c.cgClaimed = cgPath, true
	if s.Workdir != "" && s.WorkdirOwned {
		if err := os.WriteFile(filepath.Join(c.runDir, workdirRecord), []byte(s.Workdir), 0o600); err != nil {
			return c, &SetupError{Op: "state dir", Err: err}
		}
	}
	rootfs := filepath.Join(c.runDir, "rootfs")
	if err := buildRootfs(rootfs, &s); err != nil {
		return c, &SetupError{Op: "rootfs", Err: err}
	}
	if err := stageFiles(filepath.Join(c.runDir, "files"), &s); err != nil {
		return c, &SetupError{Op: "stage files", Err: err}
	}
	if err := os.MkdirAll(p.lcRoot(), 0o700); err != nil {
		return c, &SetupError{Op: "state dir", Err: err}
	}
	cfg := libcontainerConfig(&s, rootfs)
	pinned, err := pinBindSources(cfg)
	if err != nil {
		return c, &SetupError{Op: "bind", Err: err}
	}
	c.pinned = pinned
	lc, err := libcontainer.Create(p.lcRoot(), s.ID, cfg)
	if err != nil {
		return c, &SetupError{Op: "create container", Err: err}
	}
	c.lc = lc

	r, w, err := os.Pipe()
	if err != nil {
		return c, &SetupError{Op: "stdout pipe", Err: err}
	}
	c.Stdout = r
	// A larger pipe means fewer, bigger reads and far fewer context switches
	// between connector and runner on a busy 2-core host. Best effort: an
	// unprivileged limit (fs.pipe-max-size) just leaves the default.
	_, _ = unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, stdoutPipeSize)
	if c.stdio, err = openStdio(io); err != nil {
		w.Close()
		return c, &SetupError{Op: "stdio", Err: err}
	}
	c.Stdin = c.stdio.stdinW
	c.proc = &libcontainer.Process{
		Args:   s.Args,
		Env:    s.Env,
		UID:    s.UID,
		GID:    s.GID,
		Cwd:    s.Cwd,
		Stdin:  c.stdio.child[0],
		Stdout: w,
		Stderr: c.stdio.child[2],
		Init:   true,
	}
	started := make(chan error, 1)
	go c.runAndWait(started)
	err = <-started
	// The connector holds its own copies; EOF comes when it exits.
	w.Close()
	c.stdio.closeChild()
	if err != nil {
		return c, &SetupError{Op: "start", Err: err}
	}
	st, err := lc.State()
	if err != nil {
		return c, &SetupError{Op: "container state", Err: err}
	}
	// Destroy empties the manager's map: keep a copy for final figures.
	c.cg = make(map[string]string, len(st.CgroupPaths))
	for k, v := range st.CgroupPaths {
		c.cg[k] = v
	}
	return c, nil
}

// runAndWait starts the process and waits for it on one locked OS thread:
// the parent-death signal fires when the thread that forked the container
// exits, so that thread must live exactly as long as the run.
func (c *Container) runAndWait(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(c.waited)
	// Start stops the init at its exec fifo, mounts done: the binds are
	// checked before the connector runs (bindsrc.go).
	err := c.lc.Start(c.proc)
	if err == nil {
		pid, _ := c.proc.Pid()
		if err = c.pinned.verify(pid); err != nil {
			_ = c.lc.Signal(unix.SIGKILL)
			_, _ = c.proc.Wait()
		}
	}
	if err == nil {
		err = c.lc.Exec()
	}
	if err != nil {
		c.werr = err
		started <- err
		return
	}
	started <- nil
	ps, err := c.proc.Wait()
	if ps == nil {
		c.werr = fmt.Errorf("wait for connector: %w", err)
		return
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		c.exit = Exit{Code: 128 + int(ws.Signal()), Signaled: true, Signal: ws.Signal()}
	default:
		c.exit = Exit{Code: ws.ExitStatus()}
	}
}

// Done is closed when the connector has exited.
func (c *Container) Done() <-chan struct{} { return c.waited }

// Wait blocks until the connector exits and its stderr has been copied,
// and says how it ended.
func (c *Container) Wait() (Exit, error) {
	<-c.waited
	if c.stdio != nil {
		c.stdio.drain(stderrDrainTimeout)
	}
	return c.exit, c.werr
}

// StderrStats says how much of the connector's stderr was copied and
// dropped; final once Wait has returned.
func (c *Container) StderrStats() StderrStats {
	if c.stdio == nil {
		return StderrStats{}
	}
	return c.stdio.stderrStats()
}

// Pid is the connector's pid in the host's pid namespace.
func (c *Container) Pid() int {
	if c.proc == nil {
		return 0
	}
	pid, _ := c.proc.Pid()
	return pid
}

// Kill kills every process of the container.
func (c *Container) Kill() error {
	if c.lc == nil {
		return nil
	}
	err := c.lc.Signal(unix.SIGKILL)
	if err != nil && errors.Is(err, libcontainer.ErrNotRunning) {
		return nil
	}
	return err
}

// CgroupPaths maps each cgroup v1 controller (and "" for the v2 unified
// hierarchy) to the container's cgroup directory. Valid after Destroy too,
// though the directories are gone by then.
func (c *Container) CgroupPaths() map[string]string { return c.cg }

// Cgroup is the container's cgroup, to read its figures from (the
// runner's sampler, its final reading).
func (c *Container) Cgroup() *cgroup.Cgroup { return cgroup.FromPaths(c.cg) }

// Destroy kills whatever still runs, removes the cgroups, libcontainer's
// state and the run directory, and releases the run's lock. Idempotent.
func (c *Container) Destroy() error {
	c.destroyOnce.Do(func() {
		var errs []error
		if c.lc != nil {
			if err := c.lc.Destroy(); err != nil {
				errs = append(errs, fmt.Errorf("destroy container: %w", err))
			}
		}
		if c.cgClaimed {
			if err := cgroup.Release(); err != nil {
				errs = append(errs, err)
			}
		}
		if c.Stdout != nil {
			c.Stdout.Close()
		}
		if c.stdio != nil {
			c.stdio.closeChild()
			c.stdio.closeOwn()
		}
		if err := removeRunDir(c.runDir); err != nil {
			errs = append(errs, err)
		}
		if c.lock != nil {
			c.lock.Close()
		}
		c.destroyErr = errors.Join(errs...)
	})
	return c.destroyErr
}

// claimRunDir creates runs/<id> with a held lock. It is built under a
// temporary dot-name and renamed, so cleanup never sees a run directory
// whose lock is not yet held.
func (c *Container) claimRunDir() error {
	if err := os.MkdirAll(c.paths.runsDir(), 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(c.paths.runsDir(), ".new-"+c.ID+"-")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(tmp, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if held, err := hostfs.TryLock(f); held || err != nil {
		f.Close()
		os.RemoveAll(tmp)
		if err == nil {
			err = errors.New("held by another runner")
		}
		return fmt.Errorf("lock run dir: %w", err)
	}
	fmt.Fprintf(f, "pid %d\n", os.Getpid())
	if err := os.Rename(tmp, c.runDir); err != nil {
		f.Close()
		os.RemoveAll(tmp)
		return fmt.Errorf("run %s: %w", c.ID, err)
	}
	c.lock = f
	return nil
}

// removeRunDir deletes a run directory, refusing if anything is still
// mounted below it: RemoveAll through a live bind mount would delete host
// files. Mounts live in the container's own namespace, so normally there
// are none here.
func removeRunDir(dir string) error {
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return nil
	}
	if mp, err := mountedBelow(dir); err != nil {
		return err
	} else if mp != "" {
		return fmt.Errorf("not removing %s: %s is still mounted", dir, mp)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove run dir: %w", err)
	}
	return nil
}

func mountedBelow(dir string) (string, error) {
	b, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	prefix := filepath.Clean(dir) + "/"
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == filepath.Clean(dir) || strings.HasPrefix(f[4], prefix)) {
			return f[4], nil
		}
	}
	return "", nil
}

// SetupError means the host could not run the container: a missing kernel
// feature, a permission, a bad bind. It maps to exit code 6.
type SetupError struct {
	Op  string
	Err error
}

func (e *SetupError) Error() string { return "container " + e.Op + ": " + e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }
