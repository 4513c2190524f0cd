package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"syncbox/testdata/testenv"
)

// guestTests are the tests run inside the cgroup v2 guest, as "layout
// binary regexp": reading, OOM counters and removal of real cgroups,
// containers, limits and their visibility, OOM and the report, ps,
// escapes. A focused subset: every container start costs 2-3 s
// under TCG. In "leaf" the test binary sits in system.slice/cron.service
// and each syncbox it starts gets a scope of its own, as systemd-run
// --scope -p Delegate=yes gives; in "pod" the test binary is the main
// process at the root of a cgroup namespace, and a syncbox sharing that
// cgroup with another process must be refused with the way out.
var guestTests = []string{
	"leaf cgroup.test ^(TestReal|TestHostLayout)",
	"leaf container.test ^(TestMemoryLimitKillsTheHogWhileANeighbourFinishes|TestContainerSeesItsOwnLimitsReadOnly|TestEscapeSyscallsAreRefused|TestARunsCgroupFoundByIDIsTheOneItRunsIn)$",
	"leaf cmd.test ^(TestOOMGivesExit3AndADiagnosisAPersonCanActOn|TestPsShowsTheMemoryARunsCgroupHolds)$",
	"pod cgroup.test ^(TestReal|TestHostLayout)",
	"pod container.test ^(TestMemoryLimitKillsTheHogWhileANeighbourFinishes|TestContainerSeesItsOwnLimitsReadOnly|TestARunsCgroupFoundByIDIsTheOneItRunsIn)$",
	"pod cmd.test ^TestCgroupV2SharedCgroupIsRefused$",
}

// TestCgroupV2Guest boots Debian's cloud kernel (cgroup v2 only) under qemu
// with an initramfs of busybox, the static syncbox binary, its connectors
// and test binaries, and runs guestTests there twice: with the runner in
// a populated leaf (system.slice/cron.service, a cron job on a systemd
// host) and in a cgroup namespace whose root holds processes (a pod). This
// host is cgroup v1; without this, v2 would never be exercised. The guest
// has no glibc at all, which is also the proof that the binary is static.
func TestCgroupV2Guest(t *testing.T) {
	testenv.RequireRoot(t)
	qemu := "/usr/bin/qemu-system-x86_64"
	testenv.RequireFile(t, qemu, "qemu-system-x86")
	testenv.RequireFile(t, "/bin/busybox", "busybox-static")
	bin := syncboxBin(t)
	connectors := binDir("SYNCBOX_CONNECTORS", "../../bin")
	kernel := cloudKernel(t)

	work := t.TempDir()
	root := filepath.Join(work, "root")
	ours := filepath.Join(root, "usr/local/syncbox")
	os.MkdirAll(filepath.Join(ours, "bin"), 0o755)
	build := func(out string, args ...string) {
		cmd := exec.Command("go", args...)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, b)
		}
	}
	static := []string{"-tags", "seccomp netgo osusergo", "-ldflags", "-extldflags -static"}
	build("", append([]string{"test", "-c", "-o", filepath.Join(ours, "cgroup.test")}, append(static, "./run/cgroup")...)...)
	build("", append([]string{"test", "-c", "-o", filepath.Join(ours, "container.test")}, append(static, "./run/container")...)...)
	build("", append([]string{"test", "-c", "-o", filepath.Join(ours, "cmd.test")}, append(static, "./cmd")...)...)
	cmd := exec.Command("go", "build", "-o", filepath.Join(ours, "guest"), "./testdata/guest")
	cmd.Dir, cmd.Env = "../..", append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build guest: %v\n%s", err, b)
	}
	copyFile(t, bin, filepath.Join(ours, "syncbox"))
	for _, c := range []string{"memhog", "tap-demo", "escape"} {
		copyFile(t, filepath.Join(connectors, c), filepath.Join(ours, "bin", c))
	}
	tests := guestTests
	if only := os.Getenv("SYNCBOX_GUEST_TESTS"); only != "" { // "layout binary regexp": one, to debug
		tests = []string{only}
	}
	os.WriteFile(filepath.Join(ours, "tests.txt"), []byte(strings.Join(tests, "\n")+"\n"), 0o644)
	if diag := os.Getenv("SYNCBOX_GUEST_DIAG"); diag != "" { // a script run in each layout first
		copyFile(t, diag, filepath.Join(ours, "diag.sh"))
	}

	// busybox for /usr/bin/sh and the tools the tests' scripts use; merged
	// /usr, since containers bind only /usr.
	os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755)
	copyFile(t, "/bin/busybox", filepath.Join(root, "usr/bin/busybox"))
	applets, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range strings.Fields(string(applets)) {
		os.Symlink("busybox", filepath.Join(root, "usr/bin", a))
	}
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		os.MkdirAll(filepath.Join(root, "usr", l), 0o755)
		os.Symlink("usr/"+l, filepath.Join(root, l))
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "etc", "newroot"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	// pivot_root cannot leave the initramfs: copy into a tmpfs, switch_root.
	os.WriteFile(filepath.Join(root, "init"), []byte(`#!/usr/bin/sh
mount -t proc proc /proc
mount -t tmpfs -o size=2500m tmpfs /newroot
for e in /*; do [ "$e" = /newroot ] || [ "$e" = /proc ] || cp -a "$e" /newroot/; done
mkdir -p /newroot/proc
umount /proc
exec switch_root /newroot /usr/local/syncbox/guest
`), 0o755)
	initrd := filepath.Join(work, "initrd.gz")
	if err := writeInitramfs(root, initrd); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	start := time.Now()
	q := exec.CommandContext(ctx, qemu, "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "3072",
		"-nographic", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 rdinit=/init quiet")
	var out bytes.Buffer
	q.Stdout, q.Stderr = &out, &out
	q.Stdin = nil
	qerr := q.Run()
	console := strings.ReplaceAll(out.String(), "\r", "")
	os.WriteFile(filepath.Join(os.TempDir(), "syncbox-cgroup2-guest.log"), []byte(console), 0o644)
	t.Logf("guest ran %.0fs (%v); console log: %s", time.Since(start).Seconds(), qerr, filepath.Join(os.TempDir(), "syncbox-cgroup2-guest.log"))

	results := regexp.MustCompile(`(?m)^SYNCBOX-GUEST (\S+) (\S+) (PASS|FAIL)(.*)$`).FindAllStringSubmatch(console, -1)
	done := regexp.MustCompile(`(?m)^SYNCBOX-GUEST-DONE (\d+)$`).FindStringSubmatch(console)
	failed := false
	for _, r := range results {
		t.Logf("%s %s %s%s", r[1], r[2], r[3], r[4])
		failed = failed || r[3] == "FAIL"
	}
	if done == nil || done[1] != "0" || failed || len(results) != len(tests) {
		t.Errorf("cgroup v2 guest: %d of %d results, done=%v; console tail:\n%s", len(results), len(tests), done, lastLines(console, 120))
	}
}

func lastLines(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// cloudKernel returns Debian's cloud kernel image, downloaded once with
// apt-get into a cache directory (SYNCBOX_TEST_CACHE, default
// /var/cache/syncbox-test).
func cloudKernel(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("SYNCBOX_TEST_CACHE")
	if cache == "" {
		cache = "/var/cache/syncbox-test"
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "kernel/boot/vmlinuz-*")); len(m) > 0 {
		return m[0]
	}
	os.MkdirAll(cache, 0o755)
	deps, err := exec.Command("apt-cache", "depends", "linux-image-cloud-amd64").Output()
	if err != nil {
		testenv.RequireFile(t, "/nonexistent/linux-image-cloud-amd64", "apt-get update (linux-image-cloud-amd64 unknown)")
	}
	m := regexp.MustCompile(`Depends: (linux-image-\S+-cloud-amd64)`).FindStringSubmatch(string(deps))
	if m == nil {
		t.Fatalf("no versioned kernel in: %s", deps)
	}
	dl := exec.Command("apt-get", "download", m[1])
	dl.Dir = cache
	if b, err := dl.CombinedOutput(); err != nil {
		t.Fatalf("apt-get download %s: %v\n%s", m[1], err, b)
	}
	debs, _ := filepath.Glob(filepath.Join(cache, m[1]+"_*.deb"))
	if len(debs) == 0 {
		t.Fatalf("no %s .deb in %s", m[1], cache)
	}
	if b, err := exec.Command("dpkg-deb", "-x", debs[0], filepath.Join(cache, "kernel")).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, b)
	}
	os.Remove(debs[0])
	k, _ := filepath.Glob(filepath.Join(cache, "kernel/boot/vmlinuz-*"))
	if len(k) == 0 {
		t.Fatal("no vmlinuz in the kernel package")
	}
	return k[0]
}

// writeInitramfs packs dir as a gzipped newc cpio archive, the format the
// kernel unpacks into its initial rootfs.
func writeInitramfs(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	ino := 1
	hdr := func(name string, mode uint32, size int) {
		fmt.Fprintf(gz, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name)+1, 0)
		io.WriteString(gz, name+"\x00")
		pad(gz, 110+len(name)+1)
		ino++
	}
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		name, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			hdr(name, 0o120777, len(target))
			io.WriteString(gz, target)
			pad(gz, len(target))
		case fi.IsDir():
			hdr(name, 0o40755, 0)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			hdr(name, 0o100000|uint32(fi.Mode().Perm()), len(b))
			gz.Write(b)
			pad(gz, len(b))
		}
		return nil
	})
	if err != nil {
		return err
	}
	hdr("TRAILER!!!", 0, 0)
	if err := gz.Close(); err != nil {
		return err
	}
	return f.Close()
}

func pad(w io.Writer, n int) {
	if r := n % 4; r != 0 {
		w.Write(make([]byte, 4-r))
	}
}
