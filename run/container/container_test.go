package container

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"syncbox/testdata/testenv"
)

func TestMain(m *testing.M) {
	// libcontainer re-executes this test binary as "init" in the container.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		PrepareInit()
		libcontainer.Init()
	}
	os.Exit(m.Run())
}

type ran struct {
	id     string
	exit   Exit
	stdout string
	stderr string
	cg     map[string]string
}

// runIn runs args in a fresh container under root and returns its output.
func runIn(t *testing.T, root string, s Spec) ran {
	t.Helper()
	if s.ID == "" {
		s.ID = fmt.Sprintf("t%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	if s.Env == nil {
		s.Env = []string{"PATH=" + DefaultPath}
	}
	var errBuf bytes.Buffer
	c, err := Start(Paths{Root: root}, s, IO{Stderr: &errBuf})
	if err != nil {
		t.Fatalf("start %v: %v", s.Args, err)
	}
	out, _ := io.ReadAll(c.Stdout)
	exit, err := c.Wait()
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	cg := c.CgroupPaths()
	if err := c.Destroy(); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	return ran{id: s.ID, exit: exit, stdout: string(out), stderr: errBuf.String(), cg: cg}
}

// assertGone checks that nothing of run id is left: no cgroup in any
// hierarchy, no libcontainer state, no run dir.
func assertGone(t *testing.T, root, id string) {
	t.Helper()
	for _, d := range CgroupDirs(id) {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup left behind: %s", d)
		}
	}
	for _, d := range []string{filepath.Join(root, "runs", id), filepath.Join(root, "lc", id)} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("state left behind: %s", d)
		}
	}
}

func TestConnectorIsPID1InItsOwnNamespaces(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	hostname, _ := os.Hostname()
	r := runIn(t, root, Spec{Args: []string{"/bin/sh", "-c",
		`echo "pid=$$"; echo "host=$(cat /proc/sys/kernel/hostname)"; echo "procs=$(ls /proc | grep -c '^[0-9]')"; ` +
			`echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ,)"; echo "uid=$(id -u)"; ` +
			`grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status; grep NoNewPrivs /proc/self/status`}})
	if r.exit.Code != 0 {
		t.Fatalf("exit %v, stderr %s", r.exit, r.stderr)
	}
	want := []string{"pid=1\n", "host=syncbox\n", "ifaces=lo,\n", "uid=65534\n",
		"CapPrm:\t0000000000000000", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1"}
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("missing %q in:\n%s", w, r.stdout)
		}
	}
	if hostname == "syncbox" {
		t.Errorf("host is itself named syncbox; the hostname check proves nothing")
	}
	// sh, ls, grep and the subshell: a handful, never the host's hundreds.
	if n := field(r.stdout, "procs"); n < 1 || n > 5 {
		t.Errorf("container sees %d processes; want only its own", n)
	}
	assertGone(t, root, r.id)
}

func TestHostFilesAreInvisibleAndSystemReadOnly(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	secretDir := t.TempDir()
	planted := filepath.Join(secretDir, "planted.txt")
	os.WriteFile(planted, []byte("secret"), 0o644)
	rootPlant := filepath.Join("/root", fmt.Sprintf(".syncbox-test-%d", os.Getpid()))
	if err := os.WriteFile(rootPlant, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(rootPlant)
	wd, _ := os.Getwd()
	script := fmt.Sprintf(`for f in %s %s %s/go.mod /etc/shadow /home; do if cat "$f" >/dev/null 2>&1 || ls "$f" >/dev/null 2>&1; then echo "VISIBLE $f"; fi; done
for d in /usr /etc /; do if touch "$d/syncbox-probe" 2>/dev/null; then echo "WRITABLE $d"; fi; done
echo ok > /tmp/scratch && echo "tmp=$(cat /tmp/scratch)"
grep -E ' / | /usr ' /proc/self/mounts | grep -c ' ro,'`, planted, rootPlant, wd)
	r := runIn(t, root, Spec{Args: []string{"/bin/sh", "-c", script}})
	if strings.Contains(r.stdout, "VISIBLE") || strings.Contains(r.stdout, "WRITABLE") {
		t.Errorf("isolation broken:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "tmp=ok") {
		t.Errorf("private /tmp not writable:\n%s%s", r.stdout, r.stderr)
	}
	if !strings.HasSuffix(strings.TrimSpace(r.stdout), "2") {
		t.Errorf("/ and /usr should both be mounted read-only:\n%s", r.stdout)
	}
	for _, f := range []string{filepath.Join(root, "runs", r.id, "rootfs", "usr", "syncbox-probe"), "/usr/syncbox-probe"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("probe file reached the host: %s", f)
		}
	}
}

func TestBindsAreReadOnlyUnlessAskedAndExecutableIsBoundIn(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	ro, rw := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(ro, "data.txt"), []byte("from host"), 0o644)
	os.Chmod(rw, 0o777)
	exe := filepath.Join(t.TempDir(), "tap.sh")
	os.WriteFile(exe, []byte("#!/bin/sh\ncat /in/data.txt; echo; touch /in/x 2>/dev/null && echo RO-WRITABLE; echo out > /out/result && echo wrote\n"), 0o755)
	r := runIn(t, root, Spec{Args: []string{exe}, Binds: []Bind{
		{Source: ro, Destination: "/in"}, {Source: rw, Destination: "/out", Writable: true}}})
	if r.exit.Code != 0 || !strings.Contains(r.stdout, "from host") || !strings.Contains(r.stdout, "wrote") || strings.Contains(r.stdout, "RO-WRITABLE") {
		t.Fatalf("exit %v stdout %q stderr %q", r.exit, r.stdout, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(rw, "result")); string(b) != "out\n" {
		t.Errorf("rw bind did not write through: %q", b)
	}
}

func TestMemoryLimitKillsTheHogWhileANeighbourFinishes(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	memhog, demo := testenv.Connector(t, "memhog"), testenv.Connector(t, "tap-demo")
	var hog, ok ran
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		hog = runIn(t, root, Spec{ID: "hog" + strconv.Itoa(os.Getpid()), Args: []string{memhog, "-mib", "400", "-delay", "5ms"}, MemoryBytes: 64 << 20})
	}()
	go func() {
		defer wg.Done()
		ok = runIn(t, root, Spec{ID: "ok" + strconv.Itoa(os.Getpid()), Args: []string{demo, "-records", "5000", "-giant-bytes", "0"}, MemoryBytes: 64 << 20})
	}()
	wg.Wait()
	if !hog.exit.Signaled || hog.exit.Signal != 9 {
		t.Errorf("hog: %v, want killed by SIGKILL", hog.exit)
	}
	if ok.exit.Code != 0 {
		t.Fatalf("neighbour: %v %s", ok.exit, ok.stderr)
	}
	if n := strings.Count(ok.stdout, `"type":"RECORD"`); n != 15000 {
		t.Errorf("neighbour delivered %d records, want 15000", n)
	}
	assertGone(t, root, hog.id)
	assertGone(t, root, ok.id)
}

func TestPidsLimitContainsAForkBomb(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	id := fmt.Sprintf("bomb%d", os.Getpid())
	// The classic bomb; PID 1 only waits (a builtin: it needs no fork).
	c, err := Start(Paths{Root: root}, Spec{ID: id, Args: []string{"/bin/sh", "-c", "bomb() { while :; do bomb & bomb & wait; done; }; bomb"},
		Pids: 32, CPUs: 0.5, Env: []string{"PATH=" + DefaultPath}}, IO{})
	if err != nil {
		t.Fatal(err)
	}
	pids := c.CgroupPaths()["pids"]
	if pids == "" {
		pids = c.CgroupPaths()[""] // cgroup v2: one directory
	}
	maxSeen := 0
	var events []byte
	// At least 1.5 s; longer (up to 10 s) on a slow machine (an emulated
	// guest) until the bomb has hit the limit at least once.
	start := time.Now()
	for time.Since(start) < 10*time.Second {
		b, _ := os.ReadFile(filepath.Join(pids, "pids.current"))
		if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n > maxSeen {
			maxSeen = n
		}
		events, _ = os.ReadFile(filepath.Join(pids, "pids.events"))
		if time.Since(start) > 1500*time.Millisecond && strings.HasPrefix(string(events), "max ") && !strings.HasPrefix(string(events), "max 0") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Kill(); err != nil {
		t.Errorf("kill: %v", err)
	}
	c.Wait()
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	if maxSeen > 32 || maxSeen < 16 {
		t.Errorf("the bomb reached %d processes; want it to hit the limit of 32 and stop there", maxSeen)
	}
	if !strings.HasPrefix(string(events), "max ") || strings.HasPrefix(string(events), "max 0") {
		t.Errorf("pids.events shows no refused fork: %q", events)
	}
	assertGone(t, root, id)
}

func TestCleanupReclaimsARunWhoseRunnerDied(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	id := fmt.Sprintf("dead%d", os.Getpid())
	c, err := Start(Paths{Root: root}, Spec{ID: id, Args: []string{"/bin/sleep", "60"}, Env: []string{"PATH=" + DefaultPath}}, IO{})
	if err != nil {
		t.Fatal(err)
	}
	// While the runner lives, cleanup must not touch the run.
	if gone, err := Cleanup(Paths{Root: root}); err != nil || len(gone) != 0 {
		t.Fatalf("cleanup touched a live run: %v %v", gone, err)
	}
	// Simulate the runner's death: its lock goes away, nothing else runs.
	c.lock.Close()
	gone, err := Cleanup(Paths{Root: root})
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if len(gone) == 0 {
		t.Fatal("cleanup found nothing to remove")
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the dead run's connector is still running")
	}
	assertGone(t, root, id)
}

func TestSetupFailureCleansUp(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	_, err := Start(Paths{Root: root}, Spec{ID: "bad1", Args: []string{"/nonexistent/tap"}}, IO{})
	if err == nil {
		t.Fatal("start of a missing command succeeded")
	}
	_, err = Start(Paths{Root: root}, Spec{ID: "bad2", Args: []string{"/bin/true"}, Binds: []Bind{{Source: "/nonexistent", Destination: "/x"}}}, IO{})
	if err == nil {
		t.Fatal("bind of a missing source succeeded")
	}
	assertGone(t, root, "bad1")
	assertGone(t, root, "bad2")
}

func field(out, key string) int {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}
