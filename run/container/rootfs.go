package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// Bind exposes a host file or directory inside the container.
type Bind struct {
	Source      string // absolute host path
	Destination string // absolute container path
	Writable    bool
}

// etcShared are the /etc entries a connector may need to run ordinary
// programs (dynamic linker cache, Debian alternatives, TLS roots, time zone,
// interpreter configuration). Nothing with secrets: no shadow, gshadow,
// sudoers, ssh, ssl/private, machine-id.
var etcShared = []string{
	"alternatives", "ca-certificates", "ca-certificates.conf", "gai.conf", "host.conf",
	"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "mime.types", "networks",
	"os-release", "perl", "postgresql-common", "protocols", "python3", "python3.11",
	"services", "ssl/certs", "ssl/openssl.cnf", "timezone",
}

// systemDirs are bound read-only into every container (when present), plus
// the merged-usr symlinks recreated as symlinks.
var systemDirs = []string{"/usr"}

// buildRootfs lays out the empty rootfs directory on the host: the
// merged-usr symlinks and a generated minimal /etc. Mount points for the
// binds are created by libcontainer before the rootfs is made read-only.
func buildRootfs(rootfs string, s *Spec) error {
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return fmt.Errorf("create rootfs: %w", err)
	}
	for _, l := range []string{"bin", "sbin", "lib", "lib64", "lib32", "libx32"} {
		target, err := os.Readlink("/" + l)
		if err != nil {
			continue // not a merged-usr link on this host (or absent)
		}
		if err := os.Symlink(target, filepath.Join(rootfs, l)); err != nil {
			return fmt.Errorf("rootfs link /%s: %w", l, err)
		}
	}
	etc := filepath.Join(rootfs, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return fmt.Errorf("create rootfs /etc: %w", err)
	}
	user := "syncbox"
	files := map[string]string{
		"passwd": fmt.Sprintf("root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"+
			"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"+
			"%s:x:%d:%d:syncbox connector:/tmp:/usr/sbin/nologin\n", user, s.UID, s.GID),
		"group":         fmt.Sprintf("root:x:0:\nnogroup:x:65534:\n%s:x:%d:\n", user, s.GID),
		"hosts":         fmt.Sprintf("127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n", s.Hostname),
		"hostname":      s.Hostname + "\n",
		"nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
	}
	if s.Network == NetworkHost {
		if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
			files["resolv.conf"] = string(b)
		}
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("rootfs /etc/%s: %w", name, err)
		}
	}
	// Symlinks in /etc (os-release, localtime) are recreated, not bound:
	// their targets resolve inside the container's own /usr.
	for _, name := range etcShared {
		src := filepath.Join("/etc", name)
		fi, err := os.Lstat(src)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(src)
		if err != nil {
			continue
		}
		dst := filepath.Join(etc, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("rootfs /etc: %w", err)
		}
		if err := os.Symlink(target, dst); err != nil {
			return fmt.Errorf("rootfs /etc/%s: %w", name, err)
		}
	}
	return nil
}

const (
	bindRO     = unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV
	bindRW     = unix.MS_BIND | unix.MS_REC | unix.MS_NOSUID | unix.MS_NODEV
	noExecDev  = unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV
	tmpfsFlags = unix.MS_NOSUID | unix.MS_NODEV
)

// mounts lists what the container sees besides its empty root: a fresh
// /proc, a minimal /dev, a private /tmp, the system directories, the shared
// part of /etc, the connector's executable and the user's binds.
func mounts(s *Spec) []*configs.Mount {
	m := []*configs.Mount{
		{Source: "proc", Destination: "/proc", Device: "proc", Flags: noExecDev},
		{Source: "tmpfs", Destination: "/dev", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
		{Source: "devpts", Destination: "/dev/pts", Device: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620"},
		{Source: "shm", Destination: "/dev/shm", Device: "tmpfs", Flags: noExecDev, Data: fmt.Sprintf("mode=1777,size=%d", s.TmpBytes)},
		{Source: "mqueue", Destination: "/dev/mqueue", Device: "mqueue", Flags: noExecDev},
		{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs", Flags: tmpfsFlags, Data: fmt.Sprintf("mode=1777,size=%d", s.TmpBytes)},
		cgroupfsMount(),
	}
	for _, d := range systemDirs {
		if _, err := os.Stat(d); err == nil {
			m = append(m, bindMount(d, d, false))
		}
	}
	for _, name := range etcShared {
		src := filepath.Join("/etc", name)
		fi, err := os.Lstat(src)
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			continue
		}
		m = append(m, bindMount(src, src, false))
	}
	for _, p := range s.autoBinds {
		m = append(m, bindMount(p, p, false))
	}
	for _, b := range s.Binds {
		m = append(m, bindMount(b.Source, b.Destination, b.Writable))
	}
	for _, b := range s.staged {
		m = append(m, bindMount(b.Source, b.Destination, false))
	}
	if s.Workdir != "" {
		m = append(m, bindMount(s.Workdir, WorkdirPath, true))
	} else {
		m = append(m, workdirMount(s))
	}
	return m
}

// DefaultWorkBytes is the size of the private workdir: room for the
// downloads and spills connectors make, not for filling a host.
const DefaultWorkBytes = 1 << 30

// workBytesPerInode is the tmpfs workdir's inode budget, one per 16 KiB
// (mkfs.ext4's default ratio): 65,536 files in the default 1 GiB.
const workBytesPerInode = 16 << 10

// workdirMount is the run's private working directory: a tmpfs with a
// kernel-enforced size and inode count, owned by the connector's uid.
// Its pages are charged to the container's memory cgroup (so they count
// against the memory limit, as /tmp does), it lives in the container's
// mount namespace only, and the kernel frees it with the namespace: no
// host disk is used and nothing is left to remove, whatever shape (a
// 30,000-deep tree) or size the connector gave it, even when the runner
// dies.
func workdirMount(s *Spec) *configs.Mount {
	inodes := max(s.WorkBytes/workBytesPerInode, 1024)
	return &configs.Mount{Source: "tmpfs", Destination: WorkdirPath, Device: "tmpfs", Flags: tmpfsFlags,
		Data: fmt.Sprintf("mode=0700,uid=%d,gid=%d,size=%d,nr_inodes=%d", s.UID, s.GID, s.WorkBytes, inodes)}
}

// WorkdirPath is where Spec.Workdir appears inside the container.
const WorkdirPath = "/run/syncbox/work"

// checkWorkdir validates Spec.Workdir like a bind, and keeps user binds
// off WorkdirPath so they cannot shadow the run's private directory.
func checkWorkdir(s *Spec) error {
	if s.Workdir == "" {
		return nil
	}
	if err := checkBind(Bind{Source: s.Workdir, Destination: WorkdirPath}); err != nil {
		return fmt.Errorf("workdir: %w", err)
	}
	for _, b := range s.Binds {
		if filepath.Clean(b.Destination) == WorkdirPath {
			return fmt.Errorf("bind destination %s is the run's working directory", b.Destination)
		}
	}
	return nil
}

// stageFiles writes s.Files into dir (outside the rootfs) owned by the
// connector's uid and records the binds that expose them.
func stageFiles(dir string, s *Spec) error {
	if len(s.Files) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	for i, f := range s.Files {
		mode := f.Mode
		if mode == 0 {
			mode = 0o400
		}
		p := filepath.Join(dir, fmt.Sprintf("%d-%s", i, filepath.Base(f.Destination)))
		if err := os.WriteFile(p, f.Content, mode); err != nil {
			return err
		}
		if err := os.Chown(p, s.UID, s.GID); err != nil {
			return err
		}
		s.staged = append(s.staged, Bind{Source: p, Destination: f.Destination})
	}
	return nil
}

func bindMount(src, dst string, rw bool) *configs.Mount {
	flags := bindRO
	if rw {
		flags = bindRW
	}
	return &configs.Mount{Source: src, Destination: dst, Device: "bind", Flags: flags}
}

// maskedPaths and readonlyPaths follow runc's defaults: kernel interfaces a
// container must neither read (keys, kcore, timers) nor write (sysctl, sysrq).
var maskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/proc/interrupts", "/sys/firmware", "/sys/devices/virtual/powercap",
}

var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// checkBind validates a user bind before it reaches libcontainer, so a typo
// is a clear usage error instead of an opaque mount failure.
func checkBind(b Bind) error {
	if !filepath.IsAbs(b.Source) || !filepath.IsAbs(b.Destination) {
		return fmt.Errorf("bind %s:%s: paths must be absolute", b.Source, b.Destination)
	}
	// The source itself is opened once, by hostfs's path rule, when the
	// container is created (bindsrc.go): checking it here by path would
	// only be a check of what the path named a moment earlier.
	clean := filepath.Clean(b.Destination)
	for _, reserved := range []string{"/", "/proc", "/dev", "/etc", "/usr", "/tmp"} {
		if clean == reserved || strings.HasPrefix(clean, "/proc/") || strings.HasPrefix(clean, "/dev/") {
			return fmt.Errorf("bind destination %s would cover a system directory of the container", b.Destination)
		}
	}
	return nil
}
