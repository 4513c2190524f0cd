package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	occgroups "github.com/opencontainers/cgroups"
	devcfg "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"golang.org/x/sys/unix"

	"syncbox/run/cgroup"
)

// Network is the container's network mode.
type Network string

const (
	NetworkNone Network = "none" // a private network namespace with only loopback
	NetworkHost Network = "host" // the host's network namespace
)

// ParseNetwork reads a --network value.
func ParseNetwork(s string) (Network, error) {
	switch Network(s) {
	case NetworkNone, NetworkHost:
		return Network(s), nil
	}
	return "", fmt.Errorf("unknown network mode %q (want none or host)", s)
}

// Defaults for what a Spec leaves zero.
const (
	DefaultPids     = 256 // with nofile, bounded by the host's file table (hostlimits.go)
	DefaultTmpBytes = 64 << 20
	DefaultUID      = 65534
	DefaultHostname = "syncbox"
	nofileLimit     = 1024
	// DefaultCPUShares is every run's CPU weight (cgroup v1 cpu.shares; v2
	// cpu.weight 100 by libcontainer's conversion): each run weighs as much
	// as another however many processes it starts, so a run of 100 busy
	// workers cannot starve one of a single process.
	DefaultCPUShares = 1024
	cgroupPrefix     = "syncbox-"
	cpuPeriodMicros  = 100000
)

// File is content the runner places inside the container read-only, owned
// by the connector's uid: an input state, a config, a secret. It is copied
// into the run directory, so later changes on the host do not reach a
// running connector and the host file's own permissions do not matter.
type File struct {
	Destination string // absolute path inside the container
	Content     []byte
	Mode        os.FileMode // default 0400
}

// Spec describes one container run. Zero values mean the defaults above.
type Spec struct {
	ID          string   // unique run id: letters, digits, '-' (used in paths and the cgroup name)
	Args        []string // as given; resolved with Inspect
	Env         []string // the complete environment; nothing is inherited
	Binds       []Bind
	Network     Network
	MemoryBytes int64   // hard limit, no swap beyond it; 0 = none
	Pids        int64   // max processes; 0 = DefaultPids
	CPUs        float64 // CPU quota in cores; 0 = none
	UID, GID    int     // 0 means DefaultUID; root is never used
	Hostname    string
	TmpBytes    int64 // size of the private /tmp and /dev/shm tmpfs
	Cwd         string
	Files       []File // small files staged by the runner and bound read-only
	Workdir     string // host dir bound read-write at WorkdirPath and used as cwd ("" = a private tmpfs there)
	// WorkBytes bounds the private tmpfs workdir used when Workdir is ""
	// (0 = DefaultWorkBytes); see workdirMount.
	WorkBytes int64
	// WorkdirOwned says the run owns Workdir: if its runner dies, Cleanup
	// removes it with the rest (the runner removes it itself otherwise).
	WorkdirOwned bool
	// SeccompUnconfined turns off the default seccomp allowlist.
	SeccompUnconfined bool

	autoBinds  []string // what the program needs from the host (Inspect), bound read-only
	cgroupPath string   // cgroup v2: absolute path inside the runner's cgroup (cgroup.Claim)
	staged     []Bind   // Files, once written
}

func (s *Spec) normalize() error {
	if s.ID == "" || !ValidID(s.ID) {
		return fmt.Errorf("invalid run id %q", s.ID)
	}
	if len(s.Args) == 0 {
		return fmt.Errorf("no command")
	}
	prog, err := Inspect(s.Args, s.Binds)
	if err != nil {
		return err
	}
	s.Args, s.autoBinds = prog.Args, prog.Binds
	if s.Network == "" {
		s.Network = NetworkNone
	}
	if s.Pids == 0 {
		s.Pids = DefaultPids
	}
	if s.UID == 0 {
		s.UID = DefaultUID
	}
	if s.GID == 0 {
		s.GID = s.UID
	}
	if s.Hostname == "" {
		s.Hostname = DefaultHostname
	}
	if s.TmpBytes == 0 {
		s.TmpBytes = DefaultTmpBytes
	}
	if s.WorkBytes == 0 {
		s.WorkBytes = DefaultWorkBytes
	}
	if s.Cwd == "" {
		s.Cwd = WorkdirPath
	}
	if err := checkWorkdir(s); err != nil {
		return err
	}
	if err := checkSeccompSupport(s); err != nil {
		return err
	}
	for _, b := range s.Binds {
		if err := checkBind(b); err != nil {
			return err
		}
		if err := checkWritableBind(b, s.UID, s.GID); err != nil {
			return err
		}
		// syncbox's own files (state, config, workdir, secrets) live there.
		for _, own := range []string{"/run/syncbox", "/run/secrets"} {
			if d := filepath.Clean(b.Destination); d == own || strings.HasPrefix(d, own+"/") || d == "/run" {
				return fmt.Errorf("bind destination %s is reserved for syncbox's own files", b.Destination)
			}
		}
	}
	for _, f := range s.Files {
		if !filepath.IsAbs(f.Destination) {
			return fmt.Errorf("file destination %q must be absolute", f.Destination)
		}
	}
	return nil
}

// ValidID reports whether id can name a run: it becomes a path and a cgroup name.
func ValidID(id string) bool {
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return id != "" && len(id) <= 64
}

// CgroupName is the single-level cgroup name of run id, relative to the
// runner's own cgroup in each hierarchy.
func CgroupName(id string) string { return cgroupPrefix + id }

// libcontainerConfig turns a Spec into libcontainer's configuration.
func libcontainerConfig(s *Spec, rootfs string) *configs.Config {
	ns := configs.Namespaces{
		{Type: configs.NEWNS}, {Type: configs.NEWUTS}, {Type: configs.NEWIPC},
		{Type: configs.NEWPID}, {Type: configs.NEWCGROUP},
	}
	var networks []*configs.Network
	if s.Network == NetworkNone {
		ns = append(ns, configs.Namespace{Type: configs.NEWNET})
		networks = []*configs.Network{{Type: "loopback"}}
	}
	var rules []*devcfg.Rule
	for _, d := range specconv.AllowedDevices {
		rules = append(rules, &d.Rule)
	}
	res := &occgroups.Resources{
		PidsLimit: &s.Pids,
		Devices:   rules,
		CpuShares: DefaultCPUShares,
	}
	if s.MemoryBytes > 0 {
		res.Memory = s.MemoryBytes
		if l, err := cgroup.Host(); err == nil && cgroup.SwapAccounting(l) {
			res.MemorySwap = s.MemoryBytes // memory+swap = memory: no swap beyond the limit
		}
	}
	if s.CPUs > 0 {
		res.CpuPeriod = cpuPeriodMicros
		res.CpuQuota = int64(s.CPUs * cpuPeriodMicros)
	}
	return &configs.Config{
		Rootfs:            rootfs,
		Readonlyfs:        true,
		RootPropagation:   unix.MS_PRIVATE | unix.MS_REC,
		Hostname:          s.Hostname,
		Namespaces:        ns,
		Networks:          networks,
		Mounts:            mounts(s),
		Devices:           specconv.AllowedDevices,
		MaskPaths:         maskedPaths,
		ReadonlyPaths:     readonlyPaths,
		Capabilities:      &configs.Capabilities{}, // none, in every set
		NoNewPrivileges:   true,
		ParentDeathSignal: int(unix.SIGKILL),
		Seccomp:           seccompConfig(s),
		Rlimits: []configs.Rlimit{
			{Type: unix.RLIMIT_NOFILE, Hard: nofileFor(s.Pids), Soft: nofileFor(s.Pids)},
			{Type: unix.RLIMIT_CORE, Hard: 0, Soft: 0},
		},
		Cgroups: &occgroups.Cgroup{
			Path:      cgroupPathOf(s),
			Resources: res,
		},
	}
}

// cgroupPathOf is the run's cgroup: relative (nested under the runner's own
// cgroup in each v1 hierarchy) or, on v2, absolute inside it.
func cgroupPathOf(s *Spec) string {
	if s.cgroupPath != "" {
		return s.cgroupPath
	}
	return CgroupName(s.ID)
}
