package cgstats

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ownV1Dirs returns this process's own v1 cgroup directory for each of the
// wanted controllers, from /proc/self/cgroup.
func ownV1Dirs(t *testing.T, controllers ...string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skipf("no /proc/self/cgroup: %v", err)
	}
	dirs := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || f[1] == "" {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			for _, want := range controllers {
				if c != want {
					continue
				}
				// Co-mounted controllers (cpu,cpuacct) share one mount.
				for _, mnt := range []string{f[1], c} {
					d := filepath.Join("/sys/fs/cgroup", mnt, f[2])
					if st, err := os.Stat(d); err == nil && st.IsDir() {
						dirs[c] = d
						break
					}
				}
			}
		}
	}
	for _, c := range controllers {
		if dirs[c] == "" {
			t.Skipf("no cgroup v1 %s controller for this process", c)
		}
	}
	return dirs
}

// makeTestCgroup creates syncbox-cgstats-test-<pid> under this process's own
// cgroup in each controller and removes it when the test ends.
func makeTestCgroup(t *testing.T) map[string]string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating cgroups needs root")
	}
	own := ownV1Dirs(t, "memory", "pids", "cpuacct")
	name := fmt.Sprintf("syncbox-cgstats-test-%d", os.Getpid())
	paths := map[string]string{}
	for c, d := range own {
		p := filepath.Join(d, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatalf("create test cgroup: %v", err)
		}
		paths[c] = p
		t.Cleanup(func() {
			// The kernel may take a moment to release a just-killed task.
			var err error
			for range 50 {
				if err = os.Remove(p); err == nil || errors.Is(err, os.ErrNotExist) {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Errorf("remove test cgroup %s: %v", p, err)
		})
	}
	return paths
}

// startInCgroup starts python3 running script, moves it into the cgroup, and
// only then lets it run (it waits for a line on stdin first).
// done closes when the child has exited.
func startInCgroup(t *testing.T, paths map[string]string, script string) (done <-chan struct{}, stdin io.WriteCloser, stdout *bufio.Reader) {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("no %s", py)
	}
	cmd := exec.Command(py, "-c", "import sys\nsys.stdin.readline()\n"+script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	// Registered after the cgroup cleanups, so it runs before them.
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	for _, p := range paths {
		if err := os.WriteFile(filepath.Join(p, "cgroup.procs"), fmt.Appendf(nil, "%d", cmd.Process.Pid), 0); err != nil {
			t.Fatalf("move child into %s: %v", p, err)
		}
	}
	if _, err := io.WriteString(in, "go\n"); err != nil {
		t.Fatal(err)
	}
	return exited, in, bufio.NewReader(out)
}

func setLimit(t *testing.T, dir, file string, v int64) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, file), fmt.Appendf(nil, "%d", v), 0); err != nil {
		t.Fatalf("set %s: %v", file, err)
	}
}

func TestRealV1CgroupFigures(t *testing.T) {
	paths := makeTestCgroup(t)
	setLimit(t, paths["memory"], "memory.limit_in_bytes", 128*mib)
	setLimit(t, paths["pids"], "pids.max", 16)

	r := NewReader(paths, "")
	smp := NewSampler(r, 20*time.Millisecond)
	smp.Start()
	_, in, out := startInCgroup(t, paths, `
b = bytearray(48 << 20)
for i in range(0, len(b), 4096): b[i] = 1
print("ready", flush=True)
sys.stdin.readline()
`)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	time.Sleep(100 * time.Millisecond)
	s, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	tl := smp.Stop()
	t.Logf("sample: %+v", s)
	if s.UsageBytes < 48*mib || s.PeakBytes < s.UsageBytes || s.Stat.RSS < 40*mib {
		t.Errorf("usage %d peak %d rss %d; the child holds 48 MiB", s.UsageBytes, s.PeakBytes, s.Stat.RSS)
	}
	if s.LimitBytes != 128*mib || s.PidsMax != 16 || s.PidsCurrent < 1 || s.CPUSeconds <= 0 {
		t.Errorf("limit %d pids.max %d pids %d cpu %f", s.LimitBytes, s.PidsMax, s.PidsCurrent, s.CPUSeconds)
	}
	if s.OOMKills != 0 {
		t.Errorf("OOMKills = %d without an OOM", s.OOMKills)
	}
	if tl.MaxUsageBytes < 48*mib || len(tl.Points) < 2 || tl.MaxPids < 1 {
		t.Errorf("sampler saw max %d in %d points, pids %d", tl.MaxUsageBytes, len(tl.Points), tl.MaxPids)
	}
	_ = in.Close()
}

func TestRealV1OOMKill(t *testing.T) {
	paths := makeTestCgroup(t)
	mem := paths["memory"]
	setLimit(t, mem, "memory.limit_in_bytes", 32*mib)
	// Without a swap limit the kernel could swap instead of killing.
	if _, err := os.Stat(filepath.Join(mem, "memory.memsw.limit_in_bytes")); err == nil {
		setLimit(t, mem, "memory.memsw.limit_in_bytes", 32*mib)
	}
	exited, _, _ := startInCgroup(t, paths, `
b = []
while True: b.append(bytearray(8 << 20))
`)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the child was not OOM-killed within 10s")
	}
	s, err := NewReader(paths, "").Read()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sample: %+v", s)
	if s.OOMKills != 1 || s.OOMEvents != 1 || s.PeakBytes != 32*mib {
		t.Errorf("after OOM: kills %d events %d peak %d; want 1, 1, the 32 MiB limit", s.OOMKills, s.OOMEvents, s.PeakBytes)
	}
}
