package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// On cgroup v2 a cgroup that holds processes cannot give its children
// controllers (the "no internal processes" rule; only the real root is
// exempt). The runner lives in its own cgroup, so libcontainer's answer is
// to put a relative path under the runner's PARENT: a sibling of, say,
// cron.service, in systemd's system.slice, outside the runner's subtree,
// and in a pod (whose cgroup-namespace root is "/") a child of a cgroup
// with processes, which fails. syncbox instead keeps every cgroup inside
// the runner's own cgroup C:
//
//	C/                      controllers enabled, no processes
//	C/syncbox-runner-<pid>  the runner itself, while containers run
//	C/syncbox-<id>          one per container
//
// The runner moves only itself. If C holds other processes (cron and its
// shell in cron.service, a pod's other processes) the kernel refuses, the
// runner moves back and refuses the run with what to do: give syncbox a
// cgroup of its own (systemd-run --scope -p Delegate=yes, a service with
// Delegate=yes, a pod's main process). When the last container is gone the
// runner moves back and removes its leaf, so nothing is left behind.
const runnerLeafPrefix = "syncbox-runner-"

var cg2 struct {
	sync.Mutex
	users int    // containers of this process using the layout
	base  string // C, relative to the cgroup2 mount, while users > 0
	moved bool   // the runner sits in its leaf
}

// cgroup2Base returns the runner's own cgroup (relative to the cgroup2
// mount), seen through a leaf it may sit in.
func cgroup2Base() (string, error) {
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			if strings.HasPrefix(filepath.Base(p), runnerLeafPrefix) {
				p = filepath.Dir(p)
			}
			return p, nil
		}
	}
	return "", errors.New("no cgroup v2 entry in /proc/self/cgroup")
}

// claimCgroup2 prepares the layout for one more container and returns the
// absolute cgroup path (from the mount) to give libcontainer. On cgroup v1
// it returns "" and nothing happens: each hierarchy nests as before.
func claimCgroup2(id string) (string, error) {
	if !cgroups.IsCgroup2UnifiedMode() {
		return "", nil
	}
	cg2.Lock()
	defer cg2.Unlock()
	if cg2.users == 0 {
		base, err := cgroup2Base()
		if err != nil {
			return "", err
		}
		moved, err := delegate(base)
		if err != nil {
			return "", err
		}
		cg2.base, cg2.moved = base, moved
	}
	cg2.users++
	return filepath.Join(cg2.base, CgroupName(id)), nil
}

// releaseCgroup2 undoes claimCgroup2 once the container's cgroup is gone;
// the last one moves the runner back and removes its leaf.
func releaseCgroup2() error {
	if !cgroups.IsCgroup2UnifiedMode() {
		return nil
	}
	cg2.Lock()
	defer cg2.Unlock()
	if cg2.users == 0 {
		return nil
	}
	cg2.users--
	if cg2.users > 0 || !cg2.moved {
		return nil
	}
	cg2.moved = false
	dir := filepath.Join(fs2Mount, cg2.base)
	// Every controller off first (libcontainer may have enabled more than
	// ours): a cgroup with any on cannot take a process.
	if err := disableAll(dir); err != nil {
		return fmt.Errorf("cgroup v2: give back %s: %w", dir, err)
	}
	if err := moveSelf(dir); err != nil {
		return fmt.Errorf("cgroup v2: move the runner back to %s: %w", dir, err)
	}
	leaf := filepath.Join(dir, runnerLeafPrefix+strconv.Itoa(os.Getpid()))
	if err := unix.Rmdir(leaf); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("cgroup v2: remove %s: %w", leaf, err)
	}
	return nil
}

const fs2Mount = "/sys/fs/cgroup"

// wanted are the controllers a run's limits need (memory, pids, cpu).
var wanted = []string{"memory", "pids", "cpu"}

// delegate makes base able to hold container cgroups with controllers.
// It reports whether the runner moved itself into its leaf to do so.
func delegate(base string) (bool, error) {
	dir := filepath.Join(fs2Mount, base)
	have, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return false, fmt.Errorf("cgroup v2: %w", err)
	}
	for _, c := range wanted {
		if !hasWord(string(have), c) {
			return false, fmt.Errorf("cgroup v2: controller %s is not available in %s (cgroup.controllers: %q): enable it in the parent's cgroup.subtree_control, or with systemd run syncbox with Delegate=yes", c, dir, strings.TrimSpace(string(have)))
		}
	}
	leaf := filepath.Join(dir, runnerLeafPrefix+strconv.Itoa(os.Getpid()))
	if inLeaf() {
		// Left there by an earlier failure to move back: carry on from it.
		return true, writeControllers(dir, "+")
	}
	if err := writeControllers(dir, "+"); err == nil {
		return false, nil // the real root: exempt from the rule
	} else if !errors.Is(err, unix.EBUSY) {
		return false, fmt.Errorf("cgroup v2: enable controllers in %s: %w", dir, err)
	}
	if err := os.Mkdir(leaf, 0o755); err != nil && !os.IsExist(err) {
		return false, fmt.Errorf("cgroup v2: %w", err)
	}
	if err := moveSelf(leaf); err != nil {
		unix.Rmdir(leaf)
		return false, fmt.Errorf("cgroup v2: move the runner into %s: %w", leaf, err)
	}
	if err := writeControllers(dir, "+"); err != nil {
		others, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		moveSelf(dir)
		unix.Rmdir(leaf)
		if errors.Is(err, unix.EBUSY) {
			return false, fmt.Errorf("cgroup v2: the runner's cgroup %s also holds processes syncbox did not start (pids %s), so the kernel gives no child cgroup a memory controller, and syncbox creates cgroups only inside its own: "+
				"start syncbox in a cgroup of its own (systemd: systemd-run --scope -p Delegate=yes syncbox run ..., or Delegate=yes in the unit; a container or pod: as its main process)",
				dir, strings.Join(strings.Fields(string(others)), ","))
		}
		return false, fmt.Errorf("cgroup v2: enable controllers in %s: %w", dir, err)
	}
	return true, nil
}

// inLeaf reports whether the runner sits in its own leaf.
func inLeaf() bool {
	b, _ := os.ReadFile("/proc/thread-self/cgroup")
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return filepath.Base(p) == runnerLeafPrefix+strconv.Itoa(os.Getpid())
		}
	}
	return false
}

// disableAll turns off every controller in dir's subtree_control.
func disableAll(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	var parts []string
	for _, c := range strings.Fields(string(b)) {
		parts = append(parts, "-"+c)
	}
	if len(parts) == 0 {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(parts, " ")), 0)
}

func writeControllers(dir, sign string) error {
	var parts []string
	for _, c := range wanted {
		parts = append(parts, sign+c)
	}
	return os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(parts, " ")), 0)
}

// moveSelf moves the whole runner process (every thread) into dir.
func moveSelf(dir string) error {
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}
