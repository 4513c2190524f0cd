// Package cgstats reads a container cgroup's memory, pids and CPU figures on
// cgroup v1 and v2, and samples memory usage over a run into a bounded
// timeline, so syncbox can report how much memory a connector used and why
// it was OOM-killed.
//
// It only reads cgroup files; creating and destroying cgroups is the
// container code's job.
package cgstats

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// v1Unlimited is the smallest value treated as "no limit" on cgroup v1: the
// kernel reports an unset limit as LONG_MAX rounded down to a page.
const v1Unlimited = int64(1) << 62

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

// Reader reads one cgroup's files. It reuses one buffer across reads, so a
// mutex serialises callers; it is safe for concurrent use.
type Reader struct {
	v2      bool
	memDir  string
	pidsDir string
	cpuDir  string

	mu  sync.Mutex
	buf []byte
}

// NewReader returns a Reader for a container's cgroup. paths is the v1 map
// subsystem→absolute directory (libcontainer State().CgroupPaths); unified
// is the v2 directory. v2 is used when there is no v1 memory path and a
// unified directory is given, either as unified or under the "" key
// (how libcontainer reports a v2 cgroup).
func NewReader(paths map[string]string, unified string) *Reader {
	if mem := paths["memory"]; mem != "" {
		return NewV1Reader(mem, paths["pids"], paths["cpuacct"])
	}
	if unified == "" {
		unified = paths[""]
	}
	return NewV2Reader(unified)
}

// NewV1Reader reads a cgroup v1 container from its memory, pids and cpuacct
// directories; pidsDir and cpuacctDir may be empty.
func NewV1Reader(memoryDir, pidsDir, cpuacctDir string) *Reader {
	return &Reader{memDir: memoryDir, pidsDir: pidsDir, cpuDir: cpuacctDir, buf: make([]byte, 0, 4096)}
}

// NewV2Reader reads a cgroup v2 container from its unified directory.
func NewV2Reader(dir string) *Reader {
	return &Reader{v2: true, memDir: dir, pidsDir: dir, cpuDir: dir, buf: make([]byte, 0, 4096)}
}

// V2 reports whether the Reader reads the cgroup v2 layout.
func (r *Reader) V2() bool { return r.v2 }

// ReadUsage returns the cgroup's current memory usage: the fast path, one
// small file, for sampling a timeline.
func (r *Reader) ReadUsage() (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := "memory.usage_in_bytes"
	if r.v2 {
		name = "memory.current"
	}
	n, err := r.readInt(r.memDir, name)
	if err != nil {
		return 0, fmt.Errorf("cgstats: memory usage: %w", err)
	}
	return n, nil
}

// ReadPids returns the number of tasks in the cgroup, 0 if the pids
// controller is not available.
func (r *Reader) ReadPids() (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pidsDir == "" {
		return 0, nil
	}
	n, err := r.readOptionalInt(r.pidsDir, "pids.current")
	if err != nil {
		return 0, fmt.Errorf("cgstats: pids: %w", err)
	}
	return n, nil
}

// Read returns every figure. Only memory usage is required; any other file
// the kernel does not provide reads as zero.
func (r *Reader) Read() (Sample, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Sample{At: time.Now()}
	var err error
	if r.v2 {
		err = r.readV2(&s)
	} else {
		err = r.readV1(&s)
	}
	if err != nil {
		return Sample{}, err
	}
	if r.pidsDir != "" {
		if err := r.readPids(&s); err != nil {
			return Sample{}, err
		}
	}
	return s, nil
}

func (r *Reader) readV1(s *Sample) error {
	d := r.memDir
	var err error
	if s.UsageBytes, err = r.readInt(d, "memory.usage_in_bytes"); err != nil {
		return fmt.Errorf("cgstats: memory usage: %w", err)
	}
	if s.PeakBytes, err = r.readOptionalInt(d, "memory.max_usage_in_bytes"); err != nil {
		return fmt.Errorf("cgstats: memory peak: %w", err)
	}
	if s.LimitBytes, err = r.readOptionalInt(d, "memory.limit_in_bytes"); err != nil {
		return fmt.Errorf("cgstats: memory limit: %w", err)
	}
	if s.LimitBytes >= v1Unlimited {
		s.LimitBytes = 0
	}
	// The kernel lists the local figures first and the hierarchical total_*
	// ones after, so the totals win when present.
	if err := r.readKeyed(d, "memory.stat", func(k []byte, v int64) {
		switch string(k) {
		case "rss", "total_rss":
			s.Stat.RSS = v
		case "cache", "total_cache":
			s.Stat.Cache = v
		case "swap", "total_swap":
			s.Stat.Swap = v
		case "shmem", "total_shmem":
			s.Stat.Shmem = v
		case "mapped_file", "total_mapped_file":
			s.Stat.MappedFile = v
		}
	}); err != nil {
		return fmt.Errorf("cgstats: memory stat: %w", err)
	}
	if s.Stat.Kernel, err = r.readOptionalInt(d, "memory.kmem.usage_in_bytes"); err != nil {
		return fmt.Errorf("cgstats: kernel memory: %w", err)
	}
	var underOOM int64
	if err := r.readKeyed(d, "memory.oom_control", func(k []byte, v int64) {
		switch string(k) {
		case "oom_kill":
			s.OOMKills = v
		case "under_oom":
			underOOM = v
		}
	}); err != nil {
		return fmt.Errorf("cgstats: oom control: %w", err)
	}
	s.OOMEvents = s.OOMKills
	if s.OOMEvents == 0 && underOOM > 0 {
		s.OOMEvents = 1
	}
	if r.cpuDir != "" {
		ns, err := r.readOptionalInt(r.cpuDir, "cpuacct.usage")
		if err != nil {
			return fmt.Errorf("cgstats: cpu usage: %w", err)
		}
		s.CPUSeconds = float64(ns) / 1e9
	}
	return nil
}

func (r *Reader) readV2(s *Sample) error {
	d := r.memDir
	var err error
	if s.UsageBytes, err = r.readInt(d, "memory.current"); err != nil {
		return fmt.Errorf("cgstats: memory usage: %w", err)
	}
	if s.PeakBytes, err = r.readOptionalInt(d, "memory.peak"); err != nil {
		return fmt.Errorf("cgstats: memory peak: %w", err)
	}
	if s.LimitBytes, err = r.readOptionalInt(d, "memory.max"); err != nil {
		return fmt.Errorf("cgstats: memory limit: %w", err)
	}
	// Kernels before 5.18 have no "kernel" line; sum its parts instead.
	var kernel, parts int64
	hasKernel := false
	if err := r.readKeyed(d, "memory.stat", func(k []byte, v int64) {
		switch string(k) {
		case "anon":
			s.Stat.RSS = v
		case "file":
			s.Stat.Cache = v
		case "kernel":
			kernel, hasKernel = v, true
		case "slab":
			s.Stat.Slab = v
			parts += v
		case "sock":
			s.Stat.Sock = v
			parts += v
		case "kernel_stack", "pagetables", "sec_pagetables", "percpu", "vmalloc":
			parts += v
		case "shmem":
			s.Stat.Shmem = v
		case "file_mapped":
			s.Stat.MappedFile = v
		}
	}); err != nil {
		return fmt.Errorf("cgstats: memory stat: %w", err)
	}
	s.Stat.Kernel = parts
	if hasKernel {
		s.Stat.Kernel = kernel
	}
	if s.Stat.Swap, err = r.readOptionalInt(d, "memory.swap.current"); err != nil {
		return fmt.Errorf("cgstats: swap usage: %w", err)
	}
	if err := r.readKeyed(d, "memory.events", func(k []byte, v int64) {
		switch string(k) {
		case "oom":
			s.OOMEvents = v
		case "oom_kill":
			s.OOMKills = v
		}
	}); err != nil {
		return fmt.Errorf("cgstats: memory events: %w", err)
	}
	if err := r.readKeyed(d, "cpu.stat", func(k []byte, v int64) {
		if string(k) == "usage_usec" {
			s.CPUSeconds = float64(v) / 1e6
		}
	}); err != nil {
		return fmt.Errorf("cgstats: cpu stat: %w", err)
	}
	return nil
}

func (r *Reader) readPids(s *Sample) error {
	d := r.pidsDir
	var err error
	if s.PidsCurrent, err = r.readOptionalInt(d, "pids.current"); err != nil {
		return fmt.Errorf("cgstats: pids: %w", err)
	}
	if s.PidsPeak, err = r.readOptionalInt(d, "pids.peak"); err != nil {
		return fmt.Errorf("cgstats: pids peak: %w", err)
	}
	if s.PidsMax, err = r.readOptionalInt(d, "pids.max"); err != nil {
		return fmt.Errorf("cgstats: pids limit: %w", err)
	}
	if err := r.readKeyed(d, "pids.events", func(k []byte, v int64) {
		if string(k) == "max" {
			s.PidsLimitHits = v
		}
	}); err != nil {
		return fmt.Errorf("cgstats: pids events: %w", err)
	}
	return nil
}

// load reads dir/name into r.buf, growing it only when a file outgrows it.
func (r *Reader) load(dir, name string) ([]byte, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := r.buf[:0]
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
			r.buf = b
			return nil, err
		}
	}
	r.buf = b
	return b, nil
}

// readInt reads a single-number file; "max" (v2's "no limit") reads as 0.
func (r *Reader) readInt(dir, name string) (int64, error) {
	b, err := r.load(dir, name)
	if err != nil {
		return 0, err
	}
	b = bytes.TrimSpace(b)
	if string(b) == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
	}
	return n, nil
}

// readOptionalInt is readInt where a missing file (older kernel, absent
// controller) means zero rather than an error.
func (r *Reader) readOptionalInt(dir, name string) (int64, error) {
	n, err := r.readInt(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	return n, err
}

// readKeyed calls fn for each "key value" line of a flat-keyed file such as
// memory.stat. A missing file calls fn never and is not an error.
func (r *Reader) readKeyed(dir, name string, fn func(key []byte, v int64)) error {
	b, err := r.load(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		sp := bytes.IndexByte(line, ' ')
		if sp <= 0 {
			continue
		}
		v, err := strconv.ParseInt(string(bytes.TrimSpace(line[sp+1:])), 10, 64)
		if err != nil {
			continue // not a counter (e.g. a future non-numeric key)
		}
		fn(line[:sp], v)
	}
	return nil
}
