package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"syncbox/run/cgroup"
	"syncbox/run/hostfs"
)

// Leftover is something Cleanup removed.
type Leftover struct {
	RunID string
	What  string // e.g. "container (2 processes killed)", "cgroup /sys/fs/cgroup/memory/...", "run dir"
}

// Cleanup removes what runs whose runner died left behind: their
// containers (processes are killed), cgroups in every hierarchy,
// libcontainer state and run directories. A run whose runner is alive
// holds the flock on its run dir and is never touched, so Cleanup is safe
// to call while other runs are going (every run calls it at start).
func Cleanup(p Paths) ([]Leftover, error) {
	var out []Leftover
	var errs []error
	ids := map[string]bool{}
	if ents, err := os.ReadDir(p.runsDir()); err == nil {
		for _, e := range ents {
			ids[e.Name()] = true
		}
	}
	if ents, err := os.ReadDir(p.lcRoot()); err == nil {
		for _, e := range ents {
			ids[e.Name()] = true
		}
	}
	for id := range ids {
		if strings.HasPrefix(id, ".new-") {
			if stale(filepath.Join(p.runsDir(), id)) {
				if err := removeIfUnlocked(filepath.Join(p.runsDir(), id)); err != nil {
					errs = append(errs, err)
				} else {
					out = append(out, Leftover{RunID: id, What: "unfinished run dir"})
				}
			}
			continue
		}
		lock, alive, err := tryLock(p.runDir(id))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if alive {
			continue
		}
		got, err := reclaim(p, id)
		out = append(out, got...)
		if err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", id, err))
		}
		if lock != nil {
			lock.Close()
		}
	}
	return out, errors.Join(errs...)
}

// tryLock takes the run's lock if its runner is gone. alive is true when a
// live runner holds it. A run with no run dir (only libcontainer state) has
// no runner by construction.
func tryLock(runDir string) (lock *os.File, alive bool, err error) {
	f, err := os.OpenFile(filepath.Join(runDir, "lock"), os.O_RDWR, 0)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open run lock: %w", err)
	}
	if held, err := hostfs.TryLock(f); held || err != nil {
		f.Close()
		if err != nil {
			return nil, false, fmt.Errorf("lock %s: %w", runDir, err)
		}
		return nil, true, nil
	}
	return f, false, nil
}

func reclaim(p Paths, id string) ([]Leftover, error) {
	var out []Leftover
	var errs []error
	if c, err := libcontainer.Load(p.lcRoot(), id); err == nil {
		pids, _ := c.Processes()
		_ = c.Signal(unix.SIGKILL)
		// SIGKILL is asynchronous: Destroy refuses a container still running.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if st, err := c.Status(); err != nil || st == libcontainer.Stopped {
				break
			}
		}
		if err := c.Destroy(); err != nil {
			errs = append(errs, fmt.Errorf("destroy container: %w", err))
		} else {
			out = append(out, Leftover{RunID: id, What: fmt.Sprintf("container (%d processes killed)", len(pids))})
		}
	}
	// The runner may have died before libcontainer saved its state: look
	// for the cgroup by name, but only inside our own subtree.
	if cg, err := FindCgroup(id, 0); err != nil {
		errs = append(errs, err)
	} else {
		removed, err := cg.Remove()
		for _, dir := range removed {
			out = append(out, Leftover{RunID: id, What: "cgroup " + dir})
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := os.Stat(filepath.Join(p.lcRoot(), id)); err == nil {
		if err := os.RemoveAll(filepath.Join(p.lcRoot(), id)); err != nil {
			errs = append(errs, err)
		} else {
			out = append(out, Leftover{RunID: id, What: "container state"})
		}
	}
	if b, err := os.ReadFile(filepath.Join(p.runDir(id), workdirRecord)); err == nil {
		if wd := string(b); filepath.IsAbs(wd) {
			if _, err := os.Lstat(wd); err == nil {
				// Whatever shape the connector gave it: no symlink followed,
				// no depth too great.
				if err := hostfs.RemoveAll(wd); err != nil {
					errs = append(errs, fmt.Errorf("remove workdir: %w", err))
				} else {
					out = append(out, Leftover{RunID: id, What: "workdir " + wd})
				}
			}
		}
	}
	if _, err := os.Stat(p.runDir(id)); err == nil {
		if err := removeRunDir(p.runDir(id)); err != nil {
			errs = append(errs, err)
		} else {
			out = append(out, Leftover{RunID: id, What: "run dir"})
		}
	}
	return out, errors.Join(errs...)
}

func stale(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && time.Since(fi.ModTime()) > time.Minute
}

func removeIfUnlocked(dir string) error {
	lock, alive, err := tryLock(dir)
	if err != nil || alive {
		return err
	}
	if lock != nil {
		defer lock.Close()
	}
	return removeRunDir(dir)
}

// FindCgroup is run id's cgroup as its runner (pid runner, 0 for this
// process) made it: children of the runner's own cgroups, nowhere else.
// ps reads a live run's figures from it; cleanup removes a dead one's
// from its own subtree.
func FindCgroup(id string, runner int) (*cgroup.Cgroup, error) {
	l, err := cgroup.HostOf(runner)
	if err != nil {
		return nil, err
	}
	return l.Find(CgroupName(id)), nil
}

// CgroupDirs lists where run id's cgroup lives (or would live) in every
// hierarchy; none if the host's layout cannot be read.
func CgroupDirs(id string) []string {
	cg, err := FindCgroup(id, 0)
	if err != nil {
		return nil
	}
	return cg.Dirs()
}
