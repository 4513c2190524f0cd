// Command escape is a hostile test connector: it tries the syscalls a
// connector would use to break out of its container and prints one line
// per attempt, "NAME ALLOWED" or "NAME refused: ERRNO", so a test can
// assert each refusal and its reason (EPERM from seccomp or from the
// missing capability, ESRCH from the pid namespace, ...).
//
// Every attempt is harmless if it succeeds: namespaces are created in a
// throwaway child, the clock is set to its current value, reboot only
// toggles Ctrl-Alt-Del, modules and kexec images are empty.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	pids := flag.String("pids", "", "comma-separated host pids to signal and trace (outside the container)")
	flag.Parse()

	try("userns", func() error { return child(unix.CLONE_NEWUSER) })
	try("userns-mountns", func() error { return child(unix.CLONE_NEWUSER | unix.CLONE_NEWNS) })
	try("mountns", func() error { return child(unix.CLONE_NEWNS) })
	try("netns", func() error { return child(unix.CLONE_NEWNET) })
	try("clone3", func() error {
		_, _, e := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0) // size 0: the kernel says EINVAL, a filter ENOSYS
		return errnoErr(e)
	})
	try("setns", func() error {
		fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Setns(fd, 0)
	})
	try("mount", func() error { return unix.Mount("none", "/tmp", "tmpfs", 0, "") })
	try("umount", func() error { return unix.Unmount("/proc", unix.MNT_DETACH) })
	try("pivot_root", func() error { return unix.PivotRoot("/tmp", "/tmp") })
	try("chroot", func() error { return unix.Chroot("/tmp") })
	try("mknod-char", func() error { return unix.Mknod("/tmp/escape-null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))) })
	try("mknod-block", func() error { return unix.Mknod("/tmp/escape-sda", unix.S_IFBLK|0o666, int(unix.Mkdev(8, 0))) })
	try("mknod-fifo", func() error { return unix.Mknod("/tmp/escape-fifo", unix.S_IFIFO|0o600, 0) })
	try("ptrace-child", ptraceChild)
	for _, p := range strings.Split(*pids, ",") {
		pid, err := strconv.Atoi(p)
		if err != nil {
			continue
		}
		try("kill-"+p, func() error { return unix.Kill(pid, 0) })
		try("ptrace-"+p, func() error { return ptraceAttach(pid) })
	}
	try("perf_event_open", func() error {
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_TASK_CLOCK,
			Bits: unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv}
		attr.Size = uint32(unsafe.Sizeof(attr))
		fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, 0)
		closeOK(fd, err)
		return err
	})
	try("bpf", func() error {
		attr := [5]uint32{2 /* BPF_MAP_TYPE_ARRAY */, 4, 4, 1, 0}
		fd, _, e := unix.Syscall(unix.SYS_BPF, 0 /* BPF_MAP_CREATE */, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		closeOK(int(fd), errnoErr(e))
		return errnoErr(e)
	})
	try("keyctl", func() error { _, err := unix.KeyctlJoinSessionKeyring("escape"); return err })
	try("add_key", func() error {
		_, err := unix.AddKey("user", "escape", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		return err
	})
	try("request_key", func() error {
		_, err := unix.RequestKey("user", "escape-none", "", unix.KEY_SPEC_PROCESS_KEYRING)
		return err
	})
	try("init_module", func() error { return unix.InitModule([]byte{0}, "") })
	try("delete_module", func() error { return unix.DeleteModule("ext4", unix.O_NONBLOCK) })
	try("kexec_load", func() error {
		_, _, e := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0, 0, 0)
		return errnoErr(e)
	})
	try("reboot", func() error { return unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF) })
	try("swapon", func() error {
		p, _ := unix.BytePtrFromString("/tmp/escape-swap")
		_, _, e := unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(p)), 0, 0)
		return errnoErr(e)
	})
	try("userfaultfd", func() error {
		fd, _, e := unix.Syscall(unix.SYS_USERFAULTFD, 1 /* UFFD_USER_MODE_ONLY */, 0, 0)
		closeOK(int(fd), errnoErr(e))
		return errnoErr(e)
	})
	try("open_by_handle_at", func() error {
		h := unix.NewFileHandle(1, []byte{0, 0, 0, 0, 0, 0, 0, 0})
		fd, err := unix.OpenByHandleAt(unix.AT_FDCWD, h, unix.O_RDONLY)
		closeOK(fd, err)
		return err
	})
	try("syslog", func() error { _, err := unix.Klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, nil); return err })
	try("acct", func() error { return unix.Acct("") })
	try("settimeofday", func() error {
		var tv unix.Timeval
		if err := unix.Gettimeofday(&tv); err != nil {
			return err
		}
		return unix.Settimeofday(&tv)
	})
	try("clock_settime", func() error {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &ts); err != nil {
			return err
		}
		return unix.ClockSettime(unix.CLOCK_REALTIME, &ts)
	})
	try("iopl", func() error { return unix.Iopl(3) })
	try("ioperm", func() error { return unix.Ioperm(0x80, 1, 1) })
	try("sethostname", func() error { return unix.Sethostname([]byte("escaped")) })
	try("personality", func() error {
		_, _, e := unix.Syscall(unix.SYS_PERSONALITY, 0x0040000 /* ADDR_NO_RANDOMIZE */, 0, 0)
		unix.Syscall(unix.SYS_PERSONALITY, 0, 0, 0)
		return errnoErr(e)
	})
	try("io_uring_setup", func() error {
		var params [120]byte
		fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
		closeOK(int(fd), errnoErr(e))
		return errnoErr(e)
	})
	// Kernel AIO contexts count against the host-wide fs.aio-max-nr: a
	// connector taking them all made a root host process's io_setup fail.
	try("io_setup", func() error {
		var ctx uint64
		_, _, e := unix.Syscall(unix.SYS_IO_SETUP, 1, uintptr(unsafe.Pointer(&ctx)), 0)
		if e == 0 {
			unix.Syscall(unix.SYS_IO_DESTROY, uintptr(ctx), 0, 0)
		}
		return errnoErr(e)
	})
	try("io_submit", func() error {
		_, _, e := unix.Syscall(unix.SYS_IO_SUBMIT, 0, 0, 0) // ctx 0: the kernel says EINVAL, a filter ENOSYS
		return errnoErr(e)
	})
	try("socket-vsock", func() error {
		fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
		closeOK(fd, err)
		return err
	})
	try("socket-inet", func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		closeOK(fd, err)
		return err
	})
}

// try runs one attempt and prints its line.
func try(name string, f func() error) {
	err := f()
	if err == nil {
		fmt.Printf("%s ALLOWED\n", name)
		return
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		fmt.Printf("%s refused: %s\n", name, unix.ErrnoName(errno))
		return
	}
	fmt.Printf("%s refused: %v\n", name, err)
}

// child starts /bin/true with new namespaces: the clone is what counts.
func child(flags uintptr) error {
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
	return cmd.Run()
}

// ptraceChild attaches to a child of the same uid: allowed by the kernel
// without any capability, so only a seccomp filter refuses it.
func ptraceChild() error {
	cmd := exec.Command("/bin/sleep", "10")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start target: %w", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(20 * time.Millisecond) // past exec, so the target is dumpable
	return ptraceAttach(cmd.Process.Pid)
}

func ptraceAttach(pid int) error {
	// ptrace requests must come from the thread that attached.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.PtraceAttach(pid); err != nil {
		return err
	}
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, unix.WALL, nil)
	return unix.PtraceDetach(pid)
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func closeOK(fd int, err error) {
	if err == nil && fd >= 0 {
		unix.Close(fd)
	}
}

func init() {
	// Sanity: the attempts must run as the unprivileged connector.
	if os.Geteuid() == 0 {
		fmt.Fprintln(os.Stderr, "escape: refusing to run as root")
		os.Exit(2)
	}
}
