package container

import (
	"errors"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"golang.org/x/sys/unix"
)

// The default seccomp profile is an allowlist modelled on Docker's default
// profile for a container without capabilities: every syscall not named
// here fails with EPERM. An allowlist fails closed: a syscall added to a
// future kernel is refused until reviewed (libcontainer answers ENOSYS for
// numbers beyond the newest one listed, so libc falls back gracefully).
//
// Left out on purpose, among others: namespaces (unshare, setns, clone3 and
// clone with namespace flags), mounts (mount, umount2, pivot_root, chroot,
// the fsopen/move_mount family), keyrings (keyctl, add_key, request_key),
// bpf, perf_event_open, ptrace and the cross-process memory and fd calls
// (process_vm_readv/writev, kcmp, pidfd_getfd), kernel modules, kexec,
// reboot, swapon/swapoff, userfaultfd, open_by_handle_at, syslog, acct,
// settimeofday, clock_settime, iopl, ioperm, io_uring, kernel AIO (below),
// sethostname,
// quotactl, vhangup, the NUMA policy calls. Most of these need a capability
// a connector never has; the filter refuses them before the kernel's
// permission checks run, so a kernel bug behind those checks is out of
// reach too, and unprivileged user namespaces (which this kernel allows)
// cannot be used to regain capabilities.
var allowedSyscalls = []string{
	"accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk",
	"cachestat", "capget", "capset", "chdir", "chmod", "chown", "clock_adjtime",
	"clock_getres", "clock_gettime", "clock_nanosleep", "close", "close_range",
	"connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
	"epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
	"eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
	"faccessat2", "fadvise64", "fallocate", "fanotify_mark", "fchdir", "fchmod",
	"fchmodat", "fchmodat2", "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr",
	"flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstatfs",
	"fsync", "ftruncate", "futex", "futex_requeue", "futex_wait", "futex_waitv",
	"futex_wake", "futimesat", "get_robust_list", "get_thread_area", "getcpu",
	"getcwd", "getdents", "getdents64", "getegid", "geteuid", "getgid", "getgroups",
	"getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
	"getpriority", "getrandom", "getresgid", "getresuid", "getrlimit", "getrusage",
	"getsid", "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid",
	"getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
	"inotify_rm_watch",
	"ioctl", "ioprio_get", "ioprio_set", "kill",
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
	"lchown", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
	"lremovexattr", "lseek", "lsetxattr", "lstat", "madvise", "map_shadow_stack",
	"membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat",
	"mlock", "mlock2", "mlockall", "mmap", "modify_ldt", "mprotect", "mq_getsetattr",
	"mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink",
	"mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
	"munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "open",
	"openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
	"pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "prctl", "pread64",
	"preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6", "pwrite64",
	"pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
	"recvfrom", "recvmmsg", "recvmsg", "remap_file_pages", "removexattr", "rename",
	"renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction",
	"rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
	"rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_get_priority_max",
	"sched_get_priority_min", "sched_getaffinity", "sched_getattr", "sched_getparam",
	"sched_getscheduler", "sched_rr_get_interval", "sched_setaffinity",
	"sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
	"select", "semctl", "semget", "semop", "semtimedop", "sendfile", "sendmmsg",
	"sendmsg", "sendto", "set_robust_list", "set_thread_area", "set_tid_address",
	"setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid",
	"setpriority", "setregid", "setresgid", "setresuid", "setreuid", "setrlimit",
	"setsid", "setsockopt", "setuid", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
	"shutdown", "sigaltstack", "signalfd", "signalfd4", "socketpair", "splice",
	"stat", "statfs", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
	"syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
	"timer_getoverrun", "timer_gettime", "timer_settime", "timerfd_create",
	"timerfd_gettime", "timerfd_settime", "times", "tkill", "truncate", "umask",
	"uname", "unlink", "unlinkat", "utime", "utimensat", "utimes", "vfork",
	"vmsplice", "wait4", "waitid", "write", "writev",
}

// nsFlags are the clone flags that create namespaces.
const nsFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// errSeccompNotBuilt is returned when the default profile is asked of a
// binary built without the seccomp tag: running unconfined silently would
// turn a packaging mistake into a weaker sandbox.
var errSeccompNotBuilt = errors.New("this syncbox was built without seccomp support " +
	"(build with -tags seccomp and libseccomp-dev); run with --seccomp=unconfined to accept that")

// seccompConfig is the filter for s: nil when the caller opted out.
func seccompConfig(s *Spec) *configs.Seccomp {
	if s.SeccompUnconfined {
		return nil
	}
	eperm := uint(unix.EPERM)
	enosys := uint(unix.ENOSYS)
	rules := make([]*configs.Syscall, 0, len(allowedSyscalls)+16)
	for _, name := range allowedSyscalls {
		rules = append(rules, &configs.Syscall{Name: name, Action: configs.Allow})
	}
	allowIf := func(name string, args ...*configs.Arg) {
		rules = append(rules, &configs.Syscall{Name: name, Action: configs.Allow, Args: args})
	}
	// clone without namespace flags (x86-64: flags are argument 0).
	allowIf("clone", &configs.Arg{Index: 0, Value: nsFlags, ValueTwo: 0, Op: configs.MaskEqualTo})
	// clone3 passes its flags in memory, out of the filter's sight: answer
	// ENOSYS so glibc falls back to clone, where the flags are checked.
	rules = append(rules, &configs.Syscall{Name: "clone3", Action: configs.Errno, ErrnoRet: &enosys})
	// Kernel AIO (io_setup and the rest): its contexts come from the
	// host-wide fs.aio-max-nr, which one connector could exhaust for every
	// process on the host, root's included; no cgroup bounds it. ENOSYS,
	// so libaio users fall back to synchronous I/O as on a kernel without it.
	for _, name := range []string{"io_setup", "io_submit", "io_cancel", "io_destroy", "io_getevents", "io_pgetevents"} {
		rules = append(rules, &configs.Syscall{Name: name, Action: configs.Errno, ErrnoRet: &enosys})
	}
	// Sockets of every family but vsock (a channel to the hypervisor).
	allowIf("socket", &configs.Arg{Index: 0, Value: unix.AF_VSOCK, Op: configs.NotEqualTo})
	// personality: only the harmless personas Docker allows, and queries.
	const perLinux32, uname26 = 0x0008, 0x0020000 // <linux/personality.h>
	for _, p := range []uint64{0, perLinux32, uname26, uname26 | perLinux32, 0xffffffff} {
		allowIf("personality", &configs.Arg{Index: 0, Value: p, Op: configs.EqualTo})
	}
	// mknod only of FIFOs, sockets and regular files, never device nodes.
	for _, typ := range []uint64{0, unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK} {
		allowIf("mknod", &configs.Arg{Index: 1, Value: unix.S_IFMT, ValueTwo: typ, Op: configs.MaskEqualTo})
		allowIf("mknodat", &configs.Arg{Index: 2, Value: unix.S_IFMT, ValueTwo: typ, Op: configs.MaskEqualTo})
	}
	return &configs.Seccomp{
		DefaultAction:   configs.Errno,
		DefaultErrnoRet: &eperm,
		Syscalls:        rules,
	}
}

// checkSeccompSupport fails a run that wants the default profile when the
// binary cannot apply it.
func checkSeccompSupport(s *Spec) error {
	if !s.SeccompUnconfined && !seccomp.Enabled {
		return errSeccompNotBuilt
	}
	return nil
}
