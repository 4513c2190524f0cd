package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"syncbox/testdata/testenv"
)

// These run on the real kernel: cgroup v1 on this host, v2 in the qemu
// guest (run/e2e's TestCgroupV2Guest runs them there, in a service leaf
// and in a pod's cgroup namespace).

// TestMain lets the test binary be its own child process: one that holds
// or allocates memory once it has been moved into a test cgroup, so these
// tests need nothing but the kernel (the v2 guest has no python).
func TestMain(m *testing.M) {
	if what := os.Getenv("SYNCBOX_CGROUP_CHILD"); what != "" {
		child(what)
		return
	}
	os.Exit(m.Run())
}

var sink [][]byte

// child waits for a line on stdin (sent once it is in the test cgroup),
// then "hold:N" touches N MiB, says "ready" and waits for another line;
// "hog" allocates 8 MiB chunks until the OOM killer takes it.
func child(what string) {
	in := bufio.NewReader(os.Stdin)
	in.ReadString('\n')
	touch := func(n int) {
		b := make([]byte, n<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		sink = append(sink, b)
	}
	if what == "hog" {
		for {
			touch(8)
		}
	}
	n, _ := strconv.Atoi(what[len("hold:"):])
	touch(n)
	fmt.Println("ready")
	in.ReadString('\n')
}

// makeTestCgroup creates a run-like cgroup, syncbox-cgroup-test-<pid>,
// inside this process's own cgroup as the runner would (on v2 through
// Claim), in the memory, pids and CPU hierarchies, and removes it when
// the test ends.
func makeTestCgroup(t *testing.T) (*Cgroup, Layout) {
	t.Helper()
	testenv.RequireRoot(t)
	name := fmt.Sprintf("syncbox-cgroup-test-%d", os.Getpid())
	l, err := Host()
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	if l.Mode == Unified {
		p, err := Claim(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := Release(); err != nil {
				t.Error(err)
			}
		})
		dirs = []string{filepath.Join(Root, p)}
	} else {
		for _, ctl := range []string{"memory", "pids", "cpuacct"} {
			if d := l.Dir(ctl); d != "" {
				dirs = append(dirs, filepath.Join(d, name))
			}
		}
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("create test cgroup: %v", err)
		}
		t.Cleanup(func() {
			// The kernel may take a moment to release a just-killed task.
			var err error
			for range 50 {
				if err = os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Errorf("remove test cgroup %s: %v", d, err)
		})
	}
	return l.Find(name), l
}

// startIn starts a child (see child) and moves it into c before it runs.
// done closes when it has exited.
func startIn(t *testing.T, c *Cgroup, what string) (done <-chan struct{}, pid int, stdin io.WriteCloser, stdout *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SYNCBOX_CGROUP_CHILD="+what)
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
	for _, d := range c.Dirs() {
		if _, err := os.Stat(d); err != nil {
			continue // a hierarchy the test did not create the cgroup in
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
			t.Fatalf("move child into %s: %v", d, err)
		}
	}
	if _, err := io.WriteString(in, "go\n"); err != nil {
		t.Fatal(err)
	}
	return exited, cmd.Process.Pid, in, bufio.NewReader(out)
}

func setLimit(t *testing.T, dir, file string, v int64) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(strconv.FormatInt(v, 10)), 0); err != nil {
		t.Fatalf("set %s: %v", file, err)
	}
}

func TestRealCgroupFigures(t *testing.T) {
	c, l := makeTestCgroup(t)
	mem, pids := c.MemoryDir(), c.pidsDir
	if c.V2() {
		setLimit(t, mem, "memory.max", 128*mib)
	} else {
		setLimit(t, mem, "memory.limit_in_bytes", 128*mib)
	}
	setLimit(t, pids, "pids.max", 16)
	_, pid, in, out := startIn(t, c, "hold:48")
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	s, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s sample: %+v", l.Mode, s)
	if s.UsageBytes < 48*mib || s.PeakBytes < s.UsageBytes || s.Stat.RSS < 40*mib {
		t.Errorf("usage %d peak %d rss %d; the child holds 48 MiB", s.UsageBytes, s.PeakBytes, s.Stat.RSS)
	}
	if s.LimitBytes != 128*mib || s.PidsMax != 16 || s.PidsCurrent < 1 || s.CPUSeconds <= 0 {
		t.Errorf("limit %d pids.max %d pids %d cpu %f", s.LimitBytes, s.PidsMax, s.PidsCurrent, s.CPUSeconds)
	}
	if s.OOMKills != 0 {
		t.Errorf("OOMKills = %d without an OOM", s.OOMKills)
	}
	// The fast path (the sampler's, and ps's) reads the same usage.
	if u, err := c.ReadUsage(); err != nil || u < 48*mib {
		t.Errorf("ReadUsage() = %d, %v; the child holds 48 MiB", u, err)
	}
	if n, err := c.ReadPids(); err != nil || n < 1 {
		t.Errorf("ReadPids() = %d, %v", n, err)
	}
	if got, err := c.Procs(); err != nil || !slices.Equal(got, []int{pid}) {
		t.Errorf("Procs() = %v, %v; want the child %d alone", got, err, pid)
	}
	_ = in.Close()
}

func TestRealOOMKill(t *testing.T) {
	c, _ := makeTestCgroup(t)
	mem := c.MemoryDir()
	if c.V2() {
		setLimit(t, mem, "memory.max", 32*mib)
		if _, err := os.Stat(filepath.Join(mem, "memory.swap.max")); err == nil {
			setLimit(t, mem, "memory.swap.max", 0)
		}
	} else {
		setLimit(t, mem, "memory.limit_in_bytes", 32*mib)
		// Without a swap limit the kernel could swap instead of killing.
		if _, err := os.Stat(filepath.Join(mem, "memory.memsw.limit_in_bytes")); err == nil {
			setLimit(t, mem, "memory.memsw.limit_in_bytes", 32*mib)
		}
	}
	exited, _, _, _ := startIn(t, c, "hog")
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the child was not OOM-killed within 30s")
	}
	s, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sample: %+v", s)
	// v2 counts each time the cgroup hit OOM; v1 has only the kills. The
	// peak is the limit, or a page above it: v2's memory.peak in the
	// guest's 6.1 kernel (33558528), and v1's max_usage_in_bytes once on
	// the loaded 6.18 host (a charge that raced the kill).
	const slack = mib
	if s.OOMKills != 1 || s.OOMEvents < 1 || (!c.V2() && s.OOMEvents != 1) || s.PeakBytes < 32*mib || s.PeakBytes > 32*mib+slack {
		t.Errorf("after OOM: kills %d events %d peak %d; want 1, 1 (v2: at least 1), the 32 MiB limit (up to 1 MiB above)", s.OOMKills, s.OOMEvents, s.PeakBytes)
	}
}

// What cleanup does for a run whose runner died: its processes killed, its
// cgroup gone from every hierarchy, and only that.
func TestRealRemoveKillsWhatIsInsideAndRemovesEveryDirectory(t *testing.T) {
	c, _ := makeTestCgroup(t)
	exited, pid, _, out := startIn(t, c, "hold:1")
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	var made []string
	for _, d := range c.Dirs() {
		if _, err := os.Stat(d); err == nil {
			made = append(made, d)
		}
	}
	removed, err := c.Remove()
	if err != nil || !slices.Equal(removed, made) {
		t.Errorf("Remove() = %v, %v; want every directory made: %v", removed, err, made)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("child %d still runs after Remove", pid)
	}
	for _, d := range made {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after Remove: %v", d, err)
		}
	}
	if again, err := c.Remove(); err != nil || len(again) != 0 {
		t.Errorf("second Remove() = %v, %v; want nothing to do", again, err)
	}
}
