package container

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

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
	for _, dir := range ownCgroupDirs(CgroupName(id)) {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		if err := killAndRemoveCgroup(dir); err != nil {
			errs = append(errs, err)
		} else {
			out = append(out, Leftover{RunID: id, What: "cgroup " + dir})
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

// ownCgroupDirs lists, for every hierarchy this process belongs to, the
// path name would have as a child of our own cgroup.
//
// It reads /proc/thread-self, not /proc/self: after a container start the
// process's main thread can be left wedged in the container's mount
// namespace (libcontainer locks a thread and lets it die; Go cannot end
// the main thread, so it parks it), and /proc/self shows the main
// thread's view: the dead rootfs, no cgroup mounts, nothing below a run
// dir. Any other thread is the host's view.
func ownCgroupDirs(name string) []string {
	f, err := os.Open("/proc/thread-self/cgroup")
	if err != nil {
		return nil
	}
	defer f.Close()
	var dirs []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		mnt := cgroupMount(parts[1])
		if mnt == "" {
			continue
		}
		own := parts[2]
		if strings.HasPrefix(filepath.Base(own), runnerLeafPrefix) {
			own = filepath.Dir(own) // cgroup v2, while containers run (cgroup2.go)
		}
		d := filepath.Join(mnt, own, name)
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// cgroupMount finds the mount point of a /proc/self/cgroup controller list
// ("memory", "cpu,cpuacct", "name=systemd", "" for v2): the cgroup mount
// whose super options name every one of those controllers.
func cgroupMount(controllers string) string {
	b, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		mf, sf := strings.Fields(pre), strings.Fields(post)
		if len(mf) < 5 || len(sf) < 3 {
			continue
		}
		if controllers == "" {
			if sf[0] == "cgroup2" {
				return mf[4]
			}
			continue
		}
		if sf[0] != "cgroup" {
			continue
		}
		opts := map[string]bool{}
		for _, o := range strings.Split(sf[2], ",") {
			opts[o] = true
		}
		all := true
		for _, c := range strings.Split(controllers, ",") {
			all = all && opts[c]
		}
		if all {
			return mf[4]
		}
	}
	return ""
}

// killAndRemoveCgroup SIGKILLs the processes in a cgroup of ours (only
// processes syncbox started can be in it) and removes the directory.
func killAndRemoveCgroup(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		pids := strings.Fields(string(b))
		for _, s := range pids {
			if pid, err := strconv.Atoi(s); err == nil && pid > 0 {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
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

// CgroupDirs lists where run id's cgroup lives (or would live) in every
// hierarchy: children of the runner's own cgroups, nowhere else.
func CgroupDirs(id string) []string { return ownCgroupDirs(CgroupName(id)) }
