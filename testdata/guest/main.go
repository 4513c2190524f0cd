// Command guest is the init of the cgroup v2 test guest (make test-cgroup2):
// it mounts what a host has, lays out cgroups as a systemd host and a pod
// would, runs the test binaries it was given in each layout and prints one
// sentinel line per binary and a final one on the serial console, which
// the host test reads. It is built for that guest only and never runs on a
// real host (it mounts, writes cgroups and powers off).
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	dir      = "/usr/local/syncbox"        // binaries, under /usr so containers see them
	cg       = "/sys/fs/cgroup"            // the cgroup2 mount
	sentinel = "SYNCBOX-GUEST"             // prefix of every line the host parses
	leaf     = "system.slice/cron.service" // where a cron job's runner lives
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "pod-shim" {
		podShim(os.Args[2:])
		return
	}
	code := 1
	defer func() {
		fmt.Printf("%s-DONE %d\n", sentinel, code)
		unix.Sync()
		unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	}()
	if err := setup(); err != nil {
		fmt.Printf("%s setup FAIL %v\n", sentinel, err)
		return
	}
	fail := 0
	for _, layout := range []string{"leaf", "pod"} {
		if _, err := os.Stat(filepath.Join(dir, "diag.sh")); err == nil {
			runTest(test{layout, "/usr/bin/sh", filepath.Join(dir, "diag.sh")})
		}
		for _, t := range tests() {
			if t.layout == layout && !runTest(t) {
				fail++
			}
		}
	}
	if fail == 0 {
		code = 0
	}
}

func must(err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func setup() error {
	for _, m := range []struct{ src, dst, fs, data string }{
		{"proc", "/proc", "proc", ""}, {"sysfs", "/sys", "sysfs", ""}, {"devtmpfs", "/dev", "devtmpfs", ""},
		{"tmpfs", "/tmp", "tmpfs", "mode=1777"}, {"tmpfs", "/run", "tmpfs", "mode=755"},
		{"cgroup2", cg, "cgroup2", ""},
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fs, 0, m.data); err != nil && err != unix.EBUSY {
			return must(err, "mount "+m.dst)
		}
	}
	// As on the CI host (Debian's default of 3 refuses even self-profiling).
	os.WriteFile("/proc/sys/kernel/perf_event_paranoid", []byte("2"), 0)
	// As systemd does: controllers enabled down to the service cgroups.
	ctl := []byte("+memory +pids +cpu")
	for _, d := range []string{"", "system.slice"} {
		os.MkdirAll(filepath.Join(cg, d), 0o755)
		if err := os.WriteFile(filepath.Join(cg, d, "cgroup.subtree_control"), ctl, 0); err != nil {
			return must(err, "enable controllers in /"+d)
		}
	}
	for _, d := range []string{leaf, "kubepods/pod1"} {
		if err := os.MkdirAll(filepath.Join(cg, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(cg, "kubepods", "cgroup.subtree_control"), ctl, 0); err != nil {
		return must(err, "enable controllers in kubepods")
	}
	fmt.Printf("guest: kernel cgroup2 mounted; controllers: %s", readFile(filepath.Join(cg, "cgroup.controllers")))
	return nil
}

func readFile(p string) string { b, _ := os.ReadFile(p); return string(b) }

// test is one test binary and the tests of it to run in one layout:
// tests.txt holds "layout binary regexp" lines.
type test struct{ layout, bin, run string }

func tests() []test {
	f, err := os.Open(filepath.Join(dir, "tests.txt"))
	if err != nil {
		fmt.Printf("%s tests.txt FAIL %v\n", sentinel, err)
		return nil
	}
	defer f.Close()
	var ts []test
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 {
			ts = append(ts, test{f[0], f[1], f[2]})
		}
	}
	return ts
}

// runTest runs one test binary in layout: "leaf" puts it (the runner) in
// system.slice/cron.service, a populated leaf as a cron job's is; "pod"
// starts it in its own cgroup and mount namespaces rooted at
// kubepods/pod1, with cgroup2 mounted inside, as in a Kubernetes pod
// whose root cgroup holds processes.
func runTest(t test) bool {
	layout := t.layout
	start := time.Now()
	args := []string{"-test.v", "-test.count=1", "-test.timeout=10m", "-test.run", t.run}
	if filepath.IsAbs(t.bin) {
		args = []string{t.run}
	}
	var cmd *exec.Cmd
	bin := t.bin
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(dir, bin)
	}
	cgdir := filepath.Join(cg, leaf)
	if layout == "pod" {
		cgdir = filepath.Join(cg, "kubepods/pod1")
		cmd = exec.Command("/proc/self/exe", append([]string{"pod-shim", bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	fd, err := unix.Open(cgdir, unix.O_DIRECTORY|unix.O_PATH, 0)
	if err != nil {
		fmt.Printf("%s %s %s FAIL open cgroup: %v\n", sentinel, layout, t.bin, err)
		return false
	}
	defer unix.Close(fd)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if layout == "pod" {
		cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWCGROUP | unix.CLONE_NEWNS
	}
	cmd.Dir = "/tmp"
	cmd.Env = []string{"PATH=/usr/bin:/usr/sbin", "CI=true", "HOME=/tmp",
		"SYNCBOX_BIN=" + filepath.Join(dir, "syncbox"), "SYNCBOX_CONNECTORS=" + filepath.Join(dir, "bin")}
	if layout == "leaf" {
		// What systemd-run --scope -p Delegate=yes would give each
		// syncbox a cron job starts: a cgroup of its own in system.slice.
		cmd.Env = append(cmd.Env, "SYNCBOX_TEST_SCOPES="+filepath.Join(cg, "system.slice"))
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	before := cgroupDirs()
	err = cmd.Run()
	left := leftovers(before)
	ok := err == nil && left == ""
	verdict := "PASS"
	if !ok {
		verdict = fmt.Sprintf("FAIL %v %s", err, left)
	}
	fmt.Printf("%s %s %s %s (%.1fs)\n", sentinel, layout, t.bin, verdict, time.Since(start).Seconds())
	return ok
}

// cgroupDirs lists every cgroup of the guest.
func cgroupDirs() map[string]bool {
	dirs := map[string]bool{}
	filepath.WalkDir(cg, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs[p] = true
		}
		return nil
	})
	return dirs
}

// leftovers names any cgroup a test binary left anywhere in the hierarchy.
func leftovers(before map[string]bool) string {
	var left []string
	for d := range cgroupDirs() {
		if !before[d] {
			left = append(left, d)
		}
	}
	if len(left) == 0 {
		return ""
	}
	return "cgroups left behind: " + strings.Join(left, " ")
}

// podShim runs inside the new cgroup and mount namespaces: it mounts
// cgroup2 afresh, so /sys/fs/cgroup is the pod's own cgroup as a container
// runtime would show it, and execs the test binary.
func podShim(args []string) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Println("pod-shim: make / private:", err)
		os.Exit(1)
	}
	unix.Unmount(cg, unix.MNT_DETACH)
	if err := unix.Mount("cgroup2", cg, "cgroup2", 0, ""); err != nil {
		fmt.Println("pod-shim: mount cgroup2:", err)
		os.Exit(1)
	}
	fmt.Printf("guest: pod cgroup %s", readFile("/proc/self/cgroup"))
	if err := unix.Exec(args[0], args, os.Environ()); err != nil {
		fmt.Println("pod-shim: exec:", err)
		os.Exit(1)
	}
}
