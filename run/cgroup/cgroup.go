package cgroup

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// MemStat is the breakdown of a cgroup's memory from memory.stat. On v1 the
// total_* (hierarchical) figures are used so child cgroups are included.
type MemStat struct {
	RSS        int64 `json:"rss"`                   // anonymous memory (v1 total_rss, v2 anon)
	Cache      int64 `json:"cache"`                 // page cache (v1 total_cache, v2 file)
	Kernel     int64 `json:"kernel"`                // v1 memory.kmem.usage_in_bytes, v2 kernel
	Swap       int64 `json:"swap"`                  // v1 total_swap, v2 memory.swap.current
	Slab       int64 `json:"slab,omitempty"`        // v2 only
	Sock       int64 `json:"sock,omitempty"`        // v2 only
	Shmem      int64 `json:"shmem,omitempty"`       // tmpfs and shared memory (part of Cache)
	MappedFile int64 `json:"mapped_file,omitempty"` // file pages mapped into processes
}

// Sample is one reading of a cgroup. Limits of 0 mean "no limit"; figures
// whose files this kernel does not provide are 0.
type Sample struct {
	At         time.Time
	UsageBytes int64
	PeakBytes  int64 // high-water mark kept by the kernel (v1 max_usage_in_bytes, v2 memory.peak)
	LimitBytes int64
	Stat       MemStat
	// OOMKills counts processes the OOM killer killed in this cgroup: the
	// authoritative OOM signal (memory.failcnt is not).
	OOMKills int64
	// OOMEvents counts times the cgroup hit OOM (v2 memory.events "oom"). v1
	// has no such counter, so it is OOMKills, or 1 while under_oom is set.
	OOMEvents     int64
	PidsCurrent   int64
	PidsPeak      int64
	PidsMax       int64
	PidsLimitHits int64 // forks refused by pids.max (pids.events "max")
	CPUSeconds    float64
}

// version is what differs between cgroup v1 (v1.go) and v2 (v2.go): the
// names and formats of the memory and CPU files.
type version interface {
	usageFile() string // current memory usage: the sampler's fast path
	readMemory(c *Cgroup, s *Sample) error
	readCPU(c *Cgroup, s *Sample) error
}

// Cgroup is one run's cgroup, in whichever version the host has: its
// directories and the figures read from them. It reuses one buffer across
// reads, so a mutex serialises callers; it is safe for concurrent use.
type Cgroup struct {
	ver     version
	memDir  string
	pidsDir string // "" when the pids controller is not mounted
	cpuDir  string // v1 cpuacct, "" when not mounted
	dirs    []string

	mu  sync.Mutex
	buf []byte
}

// FromPaths is a container's cgroup as libcontainer reports it
// (State().CgroupPaths): a v1 map of subsystem to directory, or on v2 the
// one directory under the "" key.
func FromPaths(paths map[string]string) *Cgroup {
	var c *Cgroup
	if mem := paths["memory"]; mem != "" {
		c = NewV1(mem, paths["pids"], paths["cpuacct"])
	} else {
		c = NewV2(paths[""])
	}
	seen := map[string]bool{}
	for _, d := range paths {
		if d != "" && !seen[d] {
			seen[d] = true
			c.dirs = append(c.dirs, d)
		}
	}
	sort.Strings(c.dirs)
	return c
}

// NewV1 is a cgroup v1 run cgroup from its memory, pids and cpuacct
// directories; pidsDir and cpuacctDir may be empty.
func NewV1(memoryDir, pidsDir, cpuacctDir string) *Cgroup {
	return &Cgroup{ver: v1{}, memDir: memoryDir, pidsDir: pidsDir, cpuDir: cpuacctDir, dirs: nonEmpty(memoryDir, pidsDir, cpuacctDir), buf: make([]byte, 0, 4096)}
}

// NewV2 is a cgroup v2 run cgroup from its directory.
func NewV2(dir string) *Cgroup {
	return &Cgroup{ver: v2{}, memDir: dir, pidsDir: dir, cpuDir: dir, dirs: nonEmpty(dir), buf: make([]byte, 0, 4096)}
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// V2 reports whether c is a cgroup v2 cgroup.
func (c *Cgroup) V2() bool { _, ok := c.ver.(v2); return ok }

// MemoryDir is the directory holding c's memory files.
func (c *Cgroup) MemoryDir() string { return c.memDir }

// Dirs lists c's directories, one per hierarchy (one on v2).
func (c *Cgroup) Dirs() []string { return append([]string(nil), c.dirs...) }

// ReadUsage returns the current memory usage: one small file, for
// sampling a timeline and for ps.
func (c *Cgroup) ReadUsage() (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.readInt(c.memDir, c.ver.usageFile())
	if err != nil {
		return 0, fmt.Errorf("cgroup: memory usage: %w", err)
	}
	return n, nil
}

// ReadPids returns the number of tasks, 0 if the pids controller is not
// available.
func (c *Cgroup) ReadPids() (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pidsDir == "" {
		return 0, nil
	}
	n, err := c.readOptionalInt(c.pidsDir, "pids.current")
	if err != nil {
		return 0, fmt.Errorf("cgroup: pids: %w", err)
	}
	return n, nil
}

// Read returns every figure. Only memory usage is required; any other file
// the kernel does not provide reads as zero.
func (c *Cgroup) Read() (Sample, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Sample{At: time.Now()}
	if err := c.ver.readMemory(c, &s); err != nil {
		return Sample{}, err
	}
	if c.cpuDir != "" {
		if err := c.ver.readCPU(c, &s); err != nil {
			return Sample{}, err
		}
	}
	if c.pidsDir != "" {
		if err := c.readPids(&s); err != nil {
			return Sample{}, err
		}
	}
	return s, nil
}

// readPids reads the pids controller's files, the same in both versions.
func (c *Cgroup) readPids(s *Sample) error {
	d := c.pidsDir
	if err := c.readValues(d,
		value{"pids.current", "pids", &s.PidsCurrent, false},
		value{"pids.peak", "pids peak", &s.PidsPeak, false},
		value{"pids.max", "pids limit", &s.PidsMax, false},
	); err != nil {
		return err
	}
	if err := c.readKeyed(d, "pids.events", func(k string, v int64) {
		if k == "max" {
			s.PidsLimitHits = v
		}
	}); err != nil {
		return fmt.Errorf("cgroup: pids events: %w", err)
	}
	return nil
}

// load reads dir/name into c.buf, growing it only when a file outgrows it.
func (c *Cgroup) load(dir, name string) ([]byte, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := c.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF || (err == nil && n == 0) {
			break
		}
		if err != nil {
			c.buf = b
			return nil, err
		}
	}
	c.buf = b
	return b, nil
}

// readInt reads a single-value file (ParseValue).
func (c *Cgroup) readInt(dir, name string) (int64, error) {
	b, err := c.load(dir, name)
	if err != nil {
		return 0, err
	}
	n, err := ParseValue(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
	}
	return n, nil
}

// value is a single-value file to read into a Sample's field.
type value struct {
	file     string
	what     string // for the error
	into     *int64
	required bool // else a missing file (older kernel) reads as 0
}

// readValues reads single-value files in dir, in order.
func (c *Cgroup) readValues(dir string, vs ...value) error {
	for _, v := range vs {
		var err error
		if v.required {
			*v.into, err = c.readInt(dir, v.file)
		} else {
			*v.into, err = c.readOptionalInt(dir, v.file)
		}
		if err != nil {
			return fmt.Errorf("cgroup: %s: %w", v.what, err)
		}
	}
	return nil
}

// readOptionalInt is readInt where a missing file (older kernel, absent
// controller) means zero rather than an error.
func (c *Cgroup) readOptionalInt(dir, name string) (int64, error) {
	n, err := c.readInt(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	return n, err
}

// readKeyed calls fn for each line of a flat-keyed file (ParseKeyed). A
// missing file calls fn never and is not an error.
func (c *Cgroup) readKeyed(dir, name string, fn func(key string, v int64)) error {
	b, err := c.load(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := ParseKeyed(b, fn); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
	}
	return nil
}
