package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// cgroup v1: one hierarchy per controller (or group of co-mounted ones),
// and the run's cgroup has a directory in each. The memory files are
// memory.usage_in_bytes, max_usage_in_bytes, limit_in_bytes, memory.stat
// (local figures, then hierarchical total_*), memory.kmem.usage_in_bytes
// and memory.oom_control; CPU time is cpuacct.usage.

// v1Unlimited is the smallest value treated as "no limit" on cgroup v1: the
// kernel reports an unset limit as LONG_MAX rounded down to a page.
const v1Unlimited = int64(1) << 62

type v1 struct{}

func (v1) usageFile() string { return "memory.usage_in_bytes" }

func (v1) readMemory(c *Cgroup, s *Sample) error {
	d := c.memDir
	if err := c.readValues(d,
		value{"memory.usage_in_bytes", "memory usage", &s.UsageBytes, true},
		value{"memory.max_usage_in_bytes", "memory peak", &s.PeakBytes, false},
		value{"memory.limit_in_bytes", "memory limit", &s.LimitBytes, false},
		value{"memory.kmem.usage_in_bytes", "kernel memory", &s.Stat.Kernel, false},
	); err != nil {
		return err
	}
	if s.LimitBytes >= v1Unlimited {
		s.LimitBytes = 0
	}
	if err := c.readKeyed(d, "memory.stat", func(k string, v int64) { v1Stat(&s.Stat, k, v) }); err != nil {
		return fmt.Errorf("cgroup: memory stat: %w", err)
	}
	var underOOM int64
	if err := c.readKeyed(d, "memory.oom_control", func(k string, v int64) {
		switch k {
		case "oom_kill":
			s.OOMKills = v
		case "under_oom":
			underOOM = v
		}
	}); err != nil {
		return fmt.Errorf("cgroup: oom control: %w", err)
	}
	s.OOMEvents = s.OOMKills
	if s.OOMEvents == 0 && underOOM > 0 {
		s.OOMEvents = 1
	}
	return nil
}

// v1Stat takes one memory.stat line. The kernel lists the local figures
// first and the hierarchical total_* ones after, so the totals win when
// present.
func v1Stat(st *MemStat, k string, v int64) {
	switch k {
	case "rss", "total_rss":
		st.RSS = v
	case "cache", "total_cache":
		st.Cache = v
	case "swap", "total_swap":
		st.Swap = v
	case "shmem", "total_shmem":
		st.Shmem = v
	case "mapped_file", "total_mapped_file":
		st.MappedFile = v
	}
}

func (v1) readCPU(c *Cgroup, s *Sample) error {
	var ns int64
	if err := c.readValues(c.cpuDir, value{"cpuacct.usage", "cpu usage", &ns, false}); err != nil {
		return err
	}
	s.CPUSeconds = float64(ns) / 1e9
	return nil
}

// SwapAccounting reports whether the host accounts swap in its memory
// cgroups, so that memory+swap can be limited to memory (no swap beyond
// the limit): on v1 the memsw files exist only with swapaccount=1; on v2
// libcontainer translates the limit itself.
func SwapAccounting(l Layout) bool {
	if l.Mode == Unified {
		return true
	}
	mem := l.Dir("memory")
	if mem == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(mem, "memory.memsw.limit_in_bytes"))
	return err == nil
}

// Prewarm starts, in the background, the kernel's RCU grace period that
// the container's first cgroup migration would otherwise wait out.
//
// On cgroup v1 every write to cgroup.procs takes cgroup_threadgroup_rwsem
// for writing, and the first writer after a quiet spell waits one RCU
// grace period (10-20 ms measured on this kernel); writers shortly after
// pass at once. Moving our own pid into the cgroup it is already in is a
// no-op that starts that wait early, so it overlaps the runner's own setup
// instead of delaying the connector. It touches no other process and no
// other cgroup. On cgroup v2 libcontainer starts the init directly inside
// its cgroup (CLONE_INTO_CGROUP) and nothing migrates, so it does nothing.
func Prewarm() {
	l, err := Host()
	if err != nil || l.Mode == Unified || len(l.Hierarchies) == 0 {
		return
	}
	// Any one hierarchy will do: the rwsem is global.
	dir := l.Hierarchies[0].Own
	go func() {
		_ = os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
	}()
}
