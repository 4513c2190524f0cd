package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"syncbox/limits/tenant"
	"syncbox/run/hostfs"
	"syncbox/testdata/testenv"
)

// Host exhaustion attacks from issue 12, each against the defaults.

func TestEscapeWorkdirFallocateIsRefused(t *testing.T) {
	testenv.RequireRoot(t)
	r := runIn(t, t.TempDir(), Spec{MemoryBytes: 128 << 20, Args: []string{"/bin/sh", "-c",
		`echo control > small && cat small
if fallocate -l 3G big 2>/dev/null; then echo "3G ALLOWED"; else echo "3G refused"; fi
df -B1 --output=size . | tail -n1`}})
	if !strings.Contains(r.stdout, "control\n") {
		t.Fatalf("the workdir is not writable: %q %q", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "3G refused") {
		t.Errorf("a 3 GiB fallocate in the workdir succeeded:\n%s", r.stdout)
	}
	lines := strings.Fields(r.stdout)
	if size, _ := strconv.ParseInt(lines[len(lines)-1], 10, 64); size != DefaultWorkBytes {
		t.Errorf("workdir size %d, want %d", size, DefaultWorkBytes)
	}
}

func TestEscapeWorkdirInodesAreBounded(t *testing.T) {
	testenv.RequireRoot(t)
	r := runIn(t, t.TempDir(), Spec{Args: []string{"/usr/bin/python3", "-c", `import os
n = 0
try:
    while n < 300000:
        os.close(os.open("f%d" % n, os.O_CREAT | os.O_WRONLY, 0o600)); n += 1
    print(n, "ALLOWED")
except OSError as e:
    print(n, "refused:", e.strerror)`}})
	var n int
	var rest string
	fmt.Sscanf(r.stdout, "%d %s", &n, &rest)
	if strings.Contains(r.stdout, "ALLOWED") || n > DefaultWorkBytes/workBytesPerInode || n == 0 {
		t.Errorf("created %d files (limit %d): %q %q", n, DefaultWorkBytes/workBytesPerInode, r.stdout, r.stderr)
	}
	t.Logf("%s", strings.TrimSpace(r.stdout))
}

// deepTree makes 30,000 nested directories in the connector's cwd.
const deepTree = `import os
for i in range(30000):
    os.mkdir("d"); os.chdir("d")
print("deep")`

func TestEscapeDeepTreeLeavesNothingOnTheHost(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	// The default workdir: a tmpfs the kernel frees with the container.
	r := runIn(t, root, Spec{Args: []string{"/usr/bin/python3", "-c", deepTree}})
	if r.stdout != "deep\n" {
		t.Fatalf("tree not made: %q %q", r.stdout, r.stderr)
	}
	assertGone(t, root, r.id)

	// A host workdir (kept for inspection, or given by a caller): the
	// removal syncbox uses must get rid of the same tree.
	// On a tmpfs if there is one: on this machine's disk the 30,000
	// mkdirs alone take most of a minute.
	home, err := os.MkdirTemp("/dev/shm", "syncbox-test-")
	if err != nil {
		home = t.TempDir()
	} else {
		t.Cleanup(func() { hostfs.RemoveAll(home) })
	}
	work, uid, err := tenant.NewWorkdir(home, "escape-a", "deep1")
	if err != nil {
		t.Fatal(err)
	}
	r = runIn(t, root, Spec{UID: uid, Workdir: work, Args: []string{"/usr/bin/python3", "-c", deepTree}})
	if r.stdout != "deep\n" {
		t.Fatalf("tree not made in the host workdir: %q %q", r.stdout, r.stderr)
	}
	if err := hostfs.RemoveAll(work); err != nil {
		t.Fatalf("remove the host workdir: %v", err)
	}
	if _, err := os.Lstat(work); !os.IsNotExist(err) {
		t.Errorf("host workdir still there: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(work)); len(ents) != 0 {
		t.Errorf("left in the tenant's work dir: %v", ents)
	}
}

// pids x nofile bounds the file handles one run can hold: the defaults
// must leave the host's file table (fs.file-max) its share for others.
func TestEscapeFileTableShareIsBounded(t *testing.T) {
	testenv.RequireRoot(t)
	r := runIn(t, t.TempDir(), Spec{Args: []string{"/usr/bin/python3", "-c", `import os
n = 0
try:
    while True:
        os.open("/dev/null", os.O_RDONLY); n += 1
except OSError as e:
    print(n, e.strerror)`}})
	var n uint64
	fmt.Sscanf(r.stdout, "%d", &n)
	fileMax := hostFileMax()
	if n == 0 || fileMax == 0 {
		t.Fatalf("no figures: %q %q (file-max %d)", r.stdout, r.stderr, fileMax)
	}
	perRun := (n + 3) * DefaultPids
	t.Logf("one process opened %d files; %d processes may hold %d of the host's %d", n, DefaultPids, perRun, fileMax)
	if perRun > fileMax/fileTableShare+DefaultPids*3 {
		t.Errorf("one run may hold %d file handles, more than 1/%d of the host's %d", perRun, fileTableShare, fileMax)
	}
}
