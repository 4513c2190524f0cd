package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

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

// delegation is process-wide: the runner itself moves, once for all the
// containers it runs at a time.
var delegation struct {
	sync.Mutex
	users int    // containers of this process using the layout
	own   string // C, absolute, while users > 0
	moved bool   // the runner sits in its leaf
}

// wanted are the controllers a run's limits need (memory, pids, cpu).
var wanted = []string{"memory", "pids", "cpu"}

// Claim prepares the runner's cgroup for one more run cgroup called name
// and returns its path to give libcontainer (absolute from the cgroup2
// mount). On cgroup v1 it returns "" and nothing happens: a relative path
// nests in each hierarchy under the runner's own cgroup. Every successful
// Claim is paired with a Release once that cgroup is gone.
func Claim(name string) (string, error) {
	if strings.HasPrefix(name, runnerLeafPrefix) || strings.Contains(name, "/") || name == "" || name == "." || name == ".." {
		// The runner's leaf is C/syncbox-runner-<pid>: a run cgroup of that
		// name would be the runner's own.
		return "", fmt.Errorf("cgroup: %q cannot name a run's cgroup: want one path element not starting with %q", name, runnerLeafPrefix)
	}
	l, err := Host()
	if err != nil {
		return "", err
	}
	if l.Mode != Unified {
		return "", nil
	}
	h, ok := l.unified()
	if !ok {
		return "", errors.New("cgroup v2: this process has no cgroup v2 entry in /proc/self/cgroup")
	}
	delegation.Lock()
	defer delegation.Unlock()
	if delegation.users == 0 {
		moved, err := delegate(h)
		if err != nil {
			return "", err
		}
		delegation.own, delegation.moved = h.Own, moved
	}
	delegation.users++
	return "/" + strings.TrimPrefix(filepath.Join(strings.TrimPrefix(delegation.own, h.Mount), name), "/"), nil
}

// unified is the v2 hierarchy of a unified host.
func (l Layout) unified() (Hierarchy, bool) {
	for _, h := range l.Hierarchies {
		if h.V2 {
			return h, true
		}
	}
	return Hierarchy{}, false
}

// Release undoes one Claim; the last one moves the runner back and
// removes its leaf.
func Release() error {
	delegation.Lock()
	defer delegation.Unlock()
	if delegation.users == 0 {
		return nil
	}
	delegation.users--
	if delegation.users > 0 || !delegation.moved {
		return nil
	}
	delegation.moved = false
	dir := delegation.own
	// Every controller off first (libcontainer may have enabled more than
	// ours): a cgroup with any on cannot take a process.
	if err := disableAll(dir); err != nil {
		return fmt.Errorf("cgroup v2: give back %s: %w", dir, err)
	}
	if err := moveSelf(dir); err != nil {
		return fmt.Errorf("cgroup v2: move the runner back to %s: %w", dir, err)
	}
	leaf := filepath.Join(dir, runnerLeaf())
	if err := unix.Rmdir(leaf); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("cgroup v2: remove %s: %w", leaf, err)
	}
	return nil
}

func runnerLeaf() string { return runnerLeafPrefix + strconv.Itoa(os.Getpid()) }

// delegate makes the runner's own cgroup able to hold run cgroups with
// controllers. It reports whether the runner moved itself into its leaf to
// do so.
func delegate(h Hierarchy) (bool, error) {
	dir := h.Own
	have, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return false, fmt.Errorf("cgroup v2: %w", err)
	}
	for _, c := range wanted {
		if !hasWord(string(have), c) {
			return false, fmt.Errorf("cgroup v2: controller %s is not available in %s (cgroup.controllers: %q): enable it in the parent's cgroup.subtree_control, or with systemd run syncbox with Delegate=yes", c, dir, strings.TrimSpace(string(have)))
		}
	}
	leaf := filepath.Join(dir, runnerLeaf())
	if h.Leaf == runnerLeaf() {
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
