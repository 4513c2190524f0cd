package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Mode is how a host mounts cgroups.
type Mode int

const (
	Legacy  Mode = iota // cgroup v1 hierarchies only
	Hybrid              // v1 hierarchies, and cgroup2 beside them (systemd's /sys/fs/cgroup/unified) holding no controllers
	Unified             // cgroup v2 alone at /sys/fs/cgroup
)

func (m Mode) String() string {
	switch m {
	case Unified:
		return "v2 (unified)"
	case Hybrid:
		return "v1 (hybrid, v2 mounted beside)"
	}
	return "v1"
}

// Root is where hosts (and libcontainer) mount cgroups.
const Root = "/sys/fs/cgroup"

// Hierarchy is one cgroup hierarchy the runner belongs to.
type Hierarchy struct {
	V2          bool
	Controllers []string // v1: as in /proc/PID/cgroup ("memory"; "cpu", "cpuacct"); v2: none
	Mount       string   // its mount point
	// Own is the runner's own cgroup directory in it, where every run's
	// cgroup goes: on v2 the runner may sit in a leaf below it
	// (delegate.go), which is left out.
	Own string
	// Leaf is the runner leaf the process sits in below Own ("" if none).
	Leaf string
}

// Layout is the host's cgroup mode and the runner's place in each
// hierarchy.
type Layout struct {
	Mode        Mode
	Hierarchies []Hierarchy
}

// LayoutOf works out the layout from a process's /proc/PID/cgroup and
// /proc/PID/mountinfo. A hierarchy with no mount in this mount namespace
// is left out: nothing of it can be read or written from here.
func LayoutOf(procCgroup, mountinfo []byte) (Layout, error) {
	entries, err := ParseProcCgroup(procCgroup)
	if err != nil {
		return Layout{}, err
	}
	mounts, err := ParseCgroupMounts(mountinfo)
	if err != nil {
		return Layout{}, err
	}
	if len(mounts) == 0 {
		return Layout{}, errors.New("no cgroup filesystem is mounted (mountinfo lists no cgroup or cgroup2 mount)")
	}
	l := Layout{Mode: Legacy}
	v1 := false
	for _, m := range mounts {
		if m.V2 && filepath.Clean(m.Point) == Root {
			l.Mode = Unified
		}
		v1 = v1 || !m.V2
	}
	if l.Mode != Unified {
		for _, m := range mounts {
			if m.V2 && v1 {
				l.Mode = Hybrid
			}
		}
	}
	for _, e := range entries {
		m, ok := mountOf(e, mounts, l.Mode)
		if !ok {
			continue
		}
		h := Hierarchy{V2: e.ID == 0 && len(e.Controllers) == 0, Controllers: e.Controllers, Mount: m.Point,
			Own: filepath.Join(m.Point, relativeTo(e.Path, m.Root))}
		if base := filepath.Base(h.Own); strings.HasPrefix(base, runnerLeafPrefix) {
			h.Own, h.Leaf = filepath.Dir(h.Own), base
		}
		l.Hierarchies = append(l.Hierarchies, h)
	}
	return l, nil
}

// mountOf finds the mount of one /proc/PID/cgroup entry: for v2 the
// cgroup2 mount (at Root on a unified host), for v1 the mount whose super
// options name every controller of the entry.
func mountOf(e ProcEntry, mounts []Mount, mode Mode) (Mount, bool) {
	for _, m := range mounts {
		if e.ID == 0 && len(e.Controllers) == 0 {
			if m.V2 && (mode != Unified || filepath.Clean(m.Point) == Root) {
				return m, true
			}
			continue
		}
		if m.V2 {
			continue
		}
		all := true
		for _, c := range e.Controllers {
			all = all && m.Has(c)
		}
		if all {
			return m, true
		}
	}
	return Mount{}, false
}

// relativeTo is path as seen below a mount of root: a runtime may mount
// only a subtree of a hierarchy.
func relativeTo(path, root string) string {
	root = filepath.Clean(root)
	if root == "/" {
		return path
	}
	if rest, ok := strings.CutPrefix(path, root); ok && (rest == "" || rest[0] == '/') {
		return "/" + strings.TrimPrefix(rest, "/")
	}
	return path
}

// Host is the layout this process sees. It reads /proc/thread-self, not
// /proc/self: after a container start the process's main thread can be
// left wedged in the container's mount namespace (libcontainer locks a
// thread and lets it die; Go cannot end the main thread, so it parks it),
// and /proc/self shows the main thread's view: the dead rootfs and no
// cgroup mounts. Any other thread has the host's view.
func Host() (Layout, error) { return HostOf(0) }

// HostOf is the layout of process pid (0: this process) as this process
// sees it: pid's cgroups, this mount namespace's mounts. ps finds a run's
// cgroup under its runner's own with it, wherever the runner was started
// (a systemd host gives ps and each runner a cgroup of their own).
func HostOf(pid int) (Layout, error) {
	proc := "/proc/thread-self/cgroup"
	if pid != 0 {
		proc = "/proc/" + strconv.Itoa(pid) + "/cgroup"
	}
	pc, err := os.ReadFile(proc)
	if err != nil {
		return Layout{}, fmt.Errorf("cgroup: %w", err)
	}
	mi, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return Layout{}, fmt.Errorf("cgroup: %w", err)
	}
	l, err := LayoutOf(pc, mi)
	if err != nil {
		return Layout{}, fmt.Errorf("cgroup: layout of %s: %w", proc, err)
	}
	return l, nil
}

// Dirs lists, in every hierarchy, the directory a run cgroup called name
// has (or would have) as a child of the runner's own cgroup: nowhere else.
func (l Layout) Dirs(name string) []string {
	var dirs []string
	seen := map[string]bool{}
	for _, h := range l.Hierarchies {
		if d := filepath.Join(h.Own, name); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// Dir is the runner's own directory in the hierarchy holding controller
// (on a unified host, the v2 one); "" if none is mounted.
func (l Layout) Dir(controller string) string {
	for _, h := range l.Hierarchies {
		if l.Mode == Unified && h.V2 {
			return h.Own
		}
		for _, c := range h.Controllers {
			if l.Mode != Unified && c == controller {
				return h.Own
			}
		}
	}
	return ""
}

// Find is run cgroup name inside the runner's own cgroup, as the runner
// that made it reads it: ps and cleanup look runs up by name with it.
func (l Layout) Find(name string) *Cgroup {
	var c *Cgroup
	if l.Mode == Unified {
		c = NewV2(filepath.Join(l.Dir(""), name))
	} else {
		sub := func(ctl string) string {
			if d := l.Dir(ctl); d != "" {
				return filepath.Join(d, name)
			}
			return ""
		}
		c = NewV1(sub("memory"), sub("pids"), sub("cpuacct"))
	}
	c.dirs = l.Dirs(name)
	return c
}

// Available reports whether controller can limit run cgroups: on v2
// whether the runner's own cgroup has it (cgroup.controllers, what Claim
// needs), on v1 whether its hierarchy is mounted and the runner is in it.
func (l Layout) Available(controller string) bool {
	if l.Mode != Unified {
		return l.Dir(controller) != ""
	}
	b, err := os.ReadFile(filepath.Join(l.Dir(""), "cgroup.controllers"))
	return err == nil && hasWord(string(b), controller)
}
