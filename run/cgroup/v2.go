package cgroup

import "fmt"

// cgroup v2: one hierarchy, one directory per cgroup. The memory files are
// memory.current, memory.peak (5.19+), memory.max, memory.stat,
// memory.swap.current and memory.events; CPU time is cpu.stat usage_usec.
// Keeping runs' cgroups inside the runner's own is delegate.go.

type v2 struct{}

func (v2) usageFile() string { return "memory.current" }

func (v2) readMemory(c *Cgroup, s *Sample) error {
	d := c.memDir
	var swap int64
	if err := c.readValues(d,
		value{"memory.current", "memory usage", &s.UsageBytes, true},
		value{"memory.peak", "memory peak", &s.PeakBytes, false},
		value{"memory.max", "memory limit", &s.LimitBytes, false},
		value{"memory.swap.current", "swap usage", &swap, false},
	); err != nil {
		return err
	}
	var st v2MemStat
	if err := c.readKeyed(d, "memory.stat", st.add); err != nil {
		return fmt.Errorf("cgroup: memory stat: %w", err)
	}
	s.Stat = st.result()
	s.Stat.Swap = swap
	if err := c.readKeyed(d, "memory.events", func(k string, v int64) {
		switch k {
		case "oom":
			s.OOMEvents = v
		case "oom_kill":
			s.OOMKills = v
		}
	}); err != nil {
		return fmt.Errorf("cgroup: memory events: %w", err)
	}
	return nil
}

// v2MemStat gathers memory.stat. Kernels before 5.18 have no "kernel"
// line; its parts are summed instead.
type v2MemStat struct {
	MemStat
	kernel, parts int64
	hasKernel     bool
}

func (st *v2MemStat) add(k string, v int64) {
	switch k {
	case "anon":
		st.RSS = v
	case "file":
		st.Cache = v
	case "kernel":
		st.kernel, st.hasKernel = v, true
	case "slab":
		st.Slab = v
		st.parts += v
	case "sock":
		st.Sock = v
		st.parts += v
	case "kernel_stack", "pagetables", "sec_pagetables", "percpu", "vmalloc":
		st.parts += v
	case "shmem":
		st.Shmem = v
	case "file_mapped":
		st.MappedFile = v
	}
}

func (st *v2MemStat) result() MemStat {
	m := st.MemStat
	m.Kernel = st.parts
	if st.hasKernel {
		m.Kernel = st.kernel
	}
	return m
}

func (v2) readCPU(c *Cgroup, s *Sample) error {
	if err := c.readKeyed(c.cpuDir, "cpu.stat", func(k string, v int64) {
		if k == "usage_usec" {
			s.CPUSeconds = float64(v) / 1e6
		}
	}); err != nil {
		return fmt.Errorf("cgroup: cpu stat: %w", err)
	}
	return nil
}
