package cgroup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const mib = int64(1) << 20

func fixture(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "testdata", "cgroup"}, parts...)...)
}

func v1Fixture(name string) map[string]string {
	return map[string]string{
		"memory":  fixture("v1", name, "memory"),
		"pids":    fixture("v1", name, "pids"),
		"cpuacct": fixture("v1", name, "cpuacct"),
	}
}

// The v1 fixtures were copied from a real cgroup on this kind of host: a
// python process holding ~20 MiB plus 4 MiB of page cache under a 64 MiB
// limit, and one allocating until the OOM killer took it.
func TestReadV1Running(t *testing.T) {
	r := FromPaths(v1Fixture("running"))
	if r.V2() {
		t.Fatal("v1 paths read as v2")
	}
	s, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	want := Sample{
		UsageBytes:  37658624,
		PeakBytes:   41918464,
		LimitBytes:  64 * mib,
		Stat:        MemStat{RSS: 24576000, Cache: 12566528, Kernel: 393216, Swap: 0, MappedFile: 3694592},
		PidsCurrent: 4, PidsPeak: 4, PidsMax: 32,
		CPUSeconds: 0.351522949,
	}
	want.At = s.At
	if s != want {
		t.Errorf("Read() =\n %+v\nwant\n %+v", s, want)
	}
	u, err := r.ReadUsage()
	if err != nil || u != want.UsageBytes {
		t.Errorf("ReadUsage() = %d, %v; want %d", u, err, want.UsageBytes)
	}
	p, err := r.ReadPids()
	if err != nil || p != 4 {
		t.Errorf("ReadPids() = %d, %v; want 4", p, err)
	}
}

func TestReadV1OOMUsesOOMControlNotFailcnt(t *testing.T) {
	dir := fixture("v1", "oom", "memory")
	fc, err := os.ReadFile(filepath.Join(dir, "memory.failcnt"))
	if err != nil || strings.TrimSpace(string(fc)) != "0" {
		t.Fatalf("fixture should show failcnt 0 after an OOM kill, got %q, %v", fc, err)
	}
	s, err := FromPaths(v1Fixture("oom")).Read()
	if err != nil {
		t.Fatal(err)
	}
	if s.OOMKills != 1 || s.OOMEvents != 1 {
		t.Errorf("OOMKills, OOMEvents = %d, %d; want 1, 1", s.OOMKills, s.OOMEvents)
	}
	if s.PeakBytes != s.LimitBytes || s.LimitBytes != 64*mib {
		t.Errorf("peak %d, limit %d; an OOM-killed cgroup peaks at its 64 MiB limit", s.PeakBytes, s.LimitBytes)
	}
	if s.PidsCurrent != 0 || s.PidsPeak != 4 {
		t.Errorf("pids current %d peak %d; want 0 and 4", s.PidsCurrent, s.PidsPeak)
	}
}

func TestReadV1UnlimitedAndMissingOptionalFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "memory.usage_in_bytes", "1048576\n")
	write(t, dir, "memory.limit_in_bytes", "9223372036854771712\n")
	s, err := NewV1(dir, "", "").Read()
	if err != nil {
		t.Fatalf("missing optional files must not fail: %v", err)
	}
	if s.UsageBytes != mib || s.LimitBytes != 0 || s.PeakBytes != 0 || s.Stat != (MemStat{}) {
		t.Errorf("got %+v; want usage 1 MiB, unlimited (0), the rest zero", s)
	}
}

func TestReadFailsWithoutUsage(t *testing.T) {
	for _, r := range []*Cgroup{NewV1(t.TempDir(), "", ""), NewV2(t.TempDir())} {
		if _, err := r.Read(); err == nil || !strings.Contains(err.Error(), "memory usage") {
			t.Errorf("Read() on an empty dir: err = %v; want a memory usage error", err)
		}
		if _, err := r.ReadUsage(); err == nil {
			t.Error("ReadUsage() on an empty dir succeeded")
		}
	}
}

func TestReadRejectsCorruptNumber(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "memory.current", "12abc\n")
	_, err := NewV2(dir).ReadUsage()
	if err == nil || !strings.Contains(err.Error(), "memory.current") {
		t.Errorf("err = %v; want one naming memory.current", err)
	}
}

// The v2 fixtures follow the formats in the kernel's
// Documentation/admin-guide/cgroup-v2.rst.
func TestReadV2Running(t *testing.T) {
	r := NewV2(fixture("v2", "running"))
	if !r.V2() {
		t.Fatal("unified dir read as v1")
	}
	s, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	want := Sample{
		UsageBytes: 38662144,
		PeakBytes:  41918464,
		LimitBytes: 64 * mib,
		Stat: MemStat{RSS: 24576000, Cache: 12566528, Kernel: 1511424, Swap: 0,
			Slab: 1048576, Sock: 8192, MappedFile: 3538944},
		PidsCurrent: 4, PidsPeak: 4, PidsMax: 32,
		CPUSeconds: 0.351522,
	}
	want.At = s.At
	if s != want {
		t.Errorf("Read() =\n %+v\nwant\n %+v", s, want)
	}
}

func TestReadV2OOM(t *testing.T) {
	// libcontainer reports a v2 cgroup under the "" key.
	s, err := FromPaths(map[string]string{"": fixture("v2", "oom")}).Read()
	if err != nil {
		t.Fatal(err)
	}
	if s.OOMKills != 1 || s.OOMEvents != 1 {
		t.Errorf("OOMKills, OOMEvents = %d, %d; want 1, 1", s.OOMKills, s.OOMEvents)
	}
	if s.PeakBytes != 64*mib || s.Stat.Swap != mib || s.PidsMax != 0 {
		t.Errorf("peak %d swap %d pids.max %d; want 64 MiB, 1 MiB, 0 (max)", s.PeakBytes, s.Stat.Swap, s.PidsMax)
	}
}

func TestReadV2OldKernel(t *testing.T) {
	s, err := NewV2(fixture("v2", "old-kernel")).Read()
	if err != nil {
		t.Fatal(err)
	}
	// No "kernel" line before 5.18: kernel_stack+pagetables+percpu+sock+slab.
	if want := int64(98304 + 348160 + 0 + 8192 + 1048576); s.Stat.Kernel != want {
		t.Errorf("Kernel = %d; want the sum of its parts %d", s.Stat.Kernel, want)
	}
	if s.PeakBytes != 0 || s.PidsPeak != 0 || s.LimitBytes != 0 || s.Stat.Swap != 0 {
		t.Errorf("absent memory.peak/pids.peak/swap and memory.max \"max\" should read 0: %+v", s)
	}
}

func TestReaderGrowsBufferForLargeFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "memory.current", "1\n")
	var b strings.Builder
	for b.Len() < 20000 {
		b.WriteString("pgscan_something_long 12345\n")
	}
	b.WriteString("anon 777\n")
	write(t, dir, "memory.stat", b.String())
	s, err := NewV2(dir).Read()
	if err != nil || s.Stat.RSS != 777 {
		t.Errorf("RSS = %d, %v; want 777 from the end of a 20 kB memory.stat", s.Stat.RSS, err)
	}
}

func BenchmarkReadUsage(b *testing.B) {
	r := FromPaths(v1Fixture("running"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadUsage(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	r := FromPaths(v1Fixture("running"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Read(); err != nil {
			b.Fatal(err)
		}
	}
}

func write(t testing.TB, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// With child cgroups, memory.stat's local figures exclude them and the
// total_* ones include them; the container's memory is the total.
func TestReadV1PrefersHierarchicalTotals(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "memory.usage_in_bytes", "100\n")
	write(t, dir, "memory.stat", "cache 1\nrss 2\nswap 3\ntotal_cache 10\ntotal_rss 20\ntotal_swap 30\n")
	s, err := NewV1(dir, "", "").Read()
	if err != nil {
		t.Fatal(err)
	}
	if s.Stat.Cache != 10 || s.Stat.RSS != 20 || s.Stat.Swap != 30 {
		t.Errorf("stat %+v; want the total_* figures", s.Stat)
	}
	write(t, dir, "memory.stat", "cache 1\nrss 2\n")
	if s, _ := NewV1(dir, "", "").Read(); s.Stat.Cache != 1 || s.Stat.RSS != 2 {
		t.Errorf("without totals: stat %+v; want the local figures", s.Stat)
	}
}
