package hostfs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"syncbox/testdata/testenv"
)

const tenantUID = 200123 // any unprivileged uid stands for a tenant

// plant makes a symlink at link, owned by uid.
func plant(t *testing.T, target, link string, uid int) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func mustUntrusted(t *testing.T, what string, err error) {
	t.Helper()
	var ul *UntrustedLinkError
	if !errors.As(err, &ul) {
		t.Errorf("%s: %v, want an untrusted-symlink refusal", what, err)
	}
}

func TestSymlinksOnlyRootCouldHavePlantedAreFollowed(t *testing.T) {
	testenv.RequireRoot(t)
	base := t.TempDir()
	os.Chmod(base, 0o755)
	secret := filepath.Join(base, "secret")
	os.WriteFile(secret, []byte("root only"), 0o600)

	// root's own link in a root-only directory: followed.
	plant(t, "secret", filepath.Join(base, "root-link"), 0)
	if b, err := ReadFile(filepath.Join(base, "root-link"), 0); err != nil || string(b) != "root only" {
		t.Errorf("root's own link: %q %v", b, err)
	}
	// A tenant's link: refused, as the last component and in the middle.
	plant(t, base, filepath.Join(base, "tenant-link"), tenantUID)
	_, err := Open(filepath.Join(base, "tenant-link"))
	mustUntrusted(t, "tenant link as last component", err)
	_, err = Open(filepath.Join(base, "tenant-link", "secret"))
	mustUntrusted(t, "tenant link in the middle", err)

	// A root-owned link in a directory the tenant owns (it could have
	// moved it there or swap it any time): refused.
	tdir := filepath.Join(base, "tenant-dir")
	os.Mkdir(tdir, 0o700)
	os.Chown(tdir, tenantUID, tenantUID)
	plant(t, secret, filepath.Join(tdir, "link"), 0)
	_, err = Open(filepath.Join(tdir, "link"))
	mustUntrusted(t, "root link in a tenant's directory", err)

	// World-writable without sticky: refused; sticky (like /tmp): followed.
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	plant(t, secret, filepath.Join(open, "link"), 0)
	_, err = Open(filepath.Join(open, "link"))
	mustUntrusted(t, "root link in a world-writable directory", err)
	unix.Chmod(open, 0o1777)
	if _, err := Open(filepath.Join(open, "link")); err != nil {
		t.Errorf("root link in a sticky directory: %v", err)
	}
}

func TestOutputsNeverFollowAPlantedLink(t *testing.T) {
	testenv.RequireRoot(t)
	base := t.TempDir()
	victim := filepath.Join(base, "bashrc")
	os.WriteFile(victim, []byte("# root's shell rc\n"), 0o644)
	out := filepath.Join(base, "out")
	os.Mkdir(out, 0o777)
	os.Chown(out, tenantUID, tenantUID)

	plant(t, victim, filepath.Join(out, "flags.jsonl"), tenantUID)
	_, err := OpenFile(filepath.Join(out, "flags.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	mustUntrusted(t, "append through a planted link", err)

	plant(t, victim, filepath.Join(out, "report.json"), tenantUID)
	if err := WriteFileAtomic(filepath.Join(out, "report.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatalf("atomic write over a planted link: %v", err)
	}
	if fi, _ := os.Lstat(filepath.Join(out, "report.json")); !fi.Mode().IsRegular() {
		t.Errorf("the planted link is still there: %v", fi.Mode())
	}

	// A hard link to the victim (possible where protected_hardlinks is off).
	if err := os.Link(victim, filepath.Join(out, "state.json")); err != nil {
		t.Fatal(err)
	}
	_, err = OpenFile(filepath.Join(out, "state.json"), os.O_WRONLY|os.O_TRUNC, 0)
	if err == nil || !strings.Contains(err.Error(), "hard links") {
		t.Errorf("write through a hard link: %v", err)
	}
	// A FIFO must not hang the runner.
	unix.Mkfifo(filepath.Join(out, "metrics.prom"), 0o666)
	if _, err := OpenFile(filepath.Join(out, "metrics.prom"), os.O_WRONLY|os.O_CREATE, 0o644); err == nil {
		t.Error("a FIFO was opened as an output")
	}
	d, err := OpenDir(out)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Create("report.json", 0o644); !errors.Is(err, unix.EEXIST) {
		t.Errorf("exclusive create over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "# root's shell rc\n" {
		t.Errorf("the victim changed: %q", b)
	}
}

func TestReadFileIsBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	os.WriteFile(p, make([]byte, 1000), 0o600)
	if _, err := ReadFile(p, 999); err == nil {
		t.Error("a 1000-byte file passed a 999-byte bound")
	}
	if b, err := ReadFile(p, 1000); err != nil || len(b) != 1000 {
		t.Errorf("ReadFile at the bound: %d %v", len(b), err)
	}
}

func TestMkdirAllAndAtomicReplace(t *testing.T) {
	base := t.TempDir()
	d, err := MkdirAll(filepath.Join(base, "a", "b", "c"), 0o700)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, v := range []string{"one", "two"} {
		if err := d.WriteFileAtomic("state.json", []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(base, "a", "b", "c", "state.json"))
	ents, _ := os.ReadDir(filepath.Join(base, "a", "b", "c"))
	if string(b) != "two" || len(ents) != 1 {
		t.Errorf("after two replaces: %q, %d entries", b, len(ents))
	}
}

// mkdeep builds a chain of depth directories below dir, by descriptor (a
// path that long could not be named), with a symlink out at the bottom.
func mkdeep(t *testing.T, dir string, depth int, linkTo string) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < depth; i++ {
		if err := unix.Mkdirat(fd, "d", 0o700); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	unix.Symlinkat(linkTo, fd, "out")
	unix.Close(fd)
}

// memDir is a temporary directory on a tmpfs when there is one: on this
// machine's disk each mkdir of a 30,000-deep chain costs over a millisecond.
func memDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/dev/shm", "hostfs-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// The attack from issue 12: 30,000 nested directories outlasted the
// workdir's removal. RemoveAll needs a name per level, not a descriptor.
func TestRemoveAllRemovesA30000DeepTree(t *testing.T) {
	base := memDir(t)
	keep := filepath.Join(base, "keep")
	os.WriteFile(keep, []byte("x"), 0o600)
	work := filepath.Join(base, "work")
	os.Mkdir(work, 0o700)
	mkdeep(t, work, 30000, base)
	t0 := time.Now()
	if err := RemoveAll(work); err != nil {
		t.Fatalf("RemoveAll: %v", err)
	}
	if _, err := os.Lstat(work); !os.IsNotExist(err) {
		t.Errorf("the tree is still there: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a symlink in the tree was followed: %v", err)
	}
	t.Logf("removed in %v", time.Since(t0))
}

func TestRemoveAllRefusesToCrossAMount(t *testing.T) {
	testenv.RequireRoot(t)
	base := t.TempDir()
	mnt := filepath.Join(base, "work", "sub", "mnt")
	os.MkdirAll(mnt, 0o700)
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	os.WriteFile(filepath.Join(mnt, "precious"), []byte("x"), 0o600)
	if err := RemoveAll(filepath.Join(base, "work")); err == nil {
		t.Error("RemoveAll went through a mount point")
	}
	if _, err := os.Stat(filepath.Join(mnt, "precious")); err != nil {
		t.Errorf("a file on the mounted filesystem was removed: %v", err)
	}
}

// An operator's own descriptor (/dev/stdin, a shell's <(cmd)) can be read:
// it belongs to the runner, not to a path a tenant could write.
func TestReadFileOfTheRunnersOwnDescriptor(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() { w.Write([]byte("from a pipe")); w.Close() }()
	b, err := ReadFile(filepath.Join("/dev/fd", strconv.Itoa(int(r.Fd()))), 1<<20)
	if err != nil || string(b) != "from a pipe" {
		t.Errorf("ReadFile(/dev/fd/N): %q %v", b, err)
	}
}
