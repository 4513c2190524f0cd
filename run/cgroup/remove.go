package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Procs lists the processes in c, from every hierarchy's cgroup.procs
// (each once); a directory that is gone holds none.
func (c *Cgroup) Procs() ([]int, error) {
	var pids []int
	seen := map[int]bool{}
	for _, d := range c.dirs {
		ps, err := procsOf(d)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				pids = append(pids, p)
			}
		}
	}
	return pids, nil
}

func procsOf(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		p, err := strconv.Atoi(f)
		if err != nil || p <= 0 {
			return nil, fmt.Errorf("cgroup: %s: %q is not a pid", filepath.Join(dir, "cgroup.procs"), f)
		}
		pids = append(pids, p)
	}
	return pids, nil
}

// Remove SIGKILLs the processes in c and removes its directories in every
// hierarchy, for a run whose runner died. Only cgroups of runs, inside the
// runner's own (Layout.Find), are given to it, so only processes syncbox
// started can be in them. It returns the directories it removed.
func (c *Cgroup) Remove() ([]string, error) {
	var removed []string
	var errs []error
	for _, d := range c.dirs {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		if err := killAndRemove(d); err != nil {
			errs = append(errs, err)
		} else {
			removed = append(removed, d)
		}
	}
	return removed, errors.Join(errs...)
}

// killAndRemove kills what is in one directory and removes it, waiting up
// to 5 s for the kernel to let the killed processes go.
func killAndRemove(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, _ := procsOf(dir)
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
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
