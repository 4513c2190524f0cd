package cgroup

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	occgroups "github.com/opencontainers/cgroups"
)

// Where a run's cgroup goes on each kind of host, from its real
// /proc/self files: always below the runner's own cgroup, in every
// hierarchy it belongs to.
func TestLayoutOfRealHosts(t *testing.T) {
	for _, tc := range []struct {
		host   string
		cgroup string // replaces the fixture's /proc/self/cgroup when set
		mode   Mode
		dirs   []string // Dirs("syncbox-r1")
		mem    string   // Find("syncbox-r1").MemoryDir()
	}{
		{host: "v1-hybrid-this-host", mode: Hybrid,
			dirs: []string{"/sys/fs/cgroup/systemd/syncbox-r1", "/sys/fs/cgroup/pids/syncbox-r1", "/sys/fs/cgroup/blkio/syncbox-r1",
				"/sys/fs/cgroup/freezer/syncbox-r1", "/sys/fs/cgroup/devices/syncbox-r1",
				"/sys/fs/cgroup/memory/process_api/3a8cc44dadf2f3a6c2add0d9c03355ee/syncbox-r1",
				"/sys/fs/cgroup/cpuset/syncbox-r1", "/sys/fs/cgroup/cpuacct/syncbox-r1", "/sys/fs/cgroup/cpu/syncbox-r1",
				"/sys/fs/cgroup/unified/syncbox-r1"},
			mem: "/sys/fs/cgroup/memory/process_api/3a8cc44dadf2f3a6c2add0d9c03355ee/syncbox-r1"},
		{host: "v2-systemd-leaf", mode: Unified,
			dirs: []string{"/sys/fs/cgroup/system.slice/cron.service/syncbox-r1"},
			mem:  "/sys/fs/cgroup/system.slice/cron.service/syncbox-r1"},
		// While containers run the runner sits in its leaf; runs still go
		// beside it, in its own cgroup.
		{host: "v2-systemd-leaf", cgroup: "0::/system.slice/cron.service/syncbox-runner-4242\n", mode: Unified,
			dirs: []string{"/sys/fs/cgroup/system.slice/cron.service/syncbox-r1"},
			mem:  "/sys/fs/cgroup/system.slice/cron.service/syncbox-r1"},
		// A pod's cgroup namespace: its root is the runner's own cgroup.
		{host: "v2-pod", mode: Unified, dirs: []string{"/sys/fs/cgroup/syncbox-r1"}, mem: "/sys/fs/cgroup/syncbox-r1"},
	} {
		t.Run(tc.host+tc.cgroup, func(t *testing.T) {
			pc := procFixture(t, tc.host, "cgroup")
			if tc.cgroup != "" {
				pc = []byte(tc.cgroup)
			}
			l, err := LayoutOf(pc, procFixture(t, tc.host, "mountinfo"))
			if err != nil {
				t.Fatal(err)
			}
			if l.Mode != tc.mode {
				t.Errorf("mode %v, want %v", l.Mode, tc.mode)
			}
			if got := l.Dirs("syncbox-r1"); !reflect.DeepEqual(got, tc.dirs) {
				t.Errorf("Dirs:\n got %q\nwant %q", got, tc.dirs)
			}
			c := l.Find("syncbox-r1")
			if c.MemoryDir() != tc.mem || c.V2() != (tc.mode == Unified) || !reflect.DeepEqual(c.Dirs(), tc.dirs) {
				t.Errorf("Find: memory %s (v2 %v), dirs %q", c.MemoryDir(), c.V2(), c.Dirs())
			}
		})
	}
}

func TestLayoutOfOtherShapes(t *testing.T) {
	const v1mounts = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n" +
		"35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
	for _, tc := range []struct {
		name, cgroup, mountinfo string
		mode                    Mode
		dirs                    []string
		err                     string
	}{
		// Debian 10 and the like: cpu and cpuacct co-mounted, no cgroup2.
		{name: "legacy co-mounted", cgroup: "4:cpu,cpuacct:/a\n3:memory:/docker/abc/b\n", mountinfo: v1mounts, mode: Legacy,
			dirs: []string{"/sys/fs/cgroup/cpu,cpuacct/a/x", "/sys/fs/cgroup/memory/b/x"}},
		// A hierarchy with no mount here (net_cls) is left out.
		{name: "unmounted hierarchy", cgroup: "5:net_cls:/\n4:cpu,cpuacct:/\n", mountinfo: v1mounts, mode: Legacy,
			dirs: []string{"/sys/fs/cgroup/cpu,cpuacct/x"}},
		{name: "no cgroup mounts", cgroup: "0::/\n", mountinfo: "22 1 0:21 / /proc rw - proc proc rw\n", err: "no cgroup filesystem is mounted"},
		{name: "bad /proc/self/cgroup", cgroup: "garbage\n", mountinfo: v1mounts, err: "/proc/PID/cgroup: line 1"},
		{name: "bad mountinfo", cgroup: "0::/\n", mountinfo: "garbage\n", err: "mountinfo: line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := LayoutOf([]byte(tc.cgroup), []byte(tc.mountinfo))
			checkErr(t, err, tc.err)
			if tc.err != "" {
				return
			}
			if l.Mode != tc.mode || !reflect.DeepEqual(l.Dirs("x"), tc.dirs) {
				t.Errorf("mode %v dirs %q; want %v %q", l.Mode, l.Dirs("x"), tc.mode, tc.dirs)
			}
		})
	}
}

// On the real kernel (v1 here, v2 in the guest) the layout agrees with
// libcontainer's own detection, which picks its cgroup manager: were they
// to differ, runs' cgroups would be looked for where they are not.
func TestHostLayoutAgreesWithLibcontainer(t *testing.T) {
	l, err := Host()
	if err != nil {
		t.Fatal(err)
	}
	want := Legacy
	switch {
	case occgroups.IsCgroup2UnifiedMode():
		want = Unified
	case occgroups.IsCgroup2HybridMode():
		want = Hybrid
	}
	if l.Mode != want {
		t.Errorf("Host().Mode = %v; libcontainer says %v", l.Mode, want)
	}
	if l.Mode != Unified {
		mem, err := occgroups.FindCgroupMountpoint("", "memory")
		if err != nil || !strings.HasPrefix(l.Dir("memory"), mem+"/") && l.Dir("memory") != mem {
			t.Errorf("memory dir %q is not in libcontainer's memory mount %q (%v)", l.Dir("memory"), mem, err)
		}
	}
	// Every own directory exists: the runner is in it.
	for _, h := range l.Hierarchies {
		if st, err := os.Stat(h.Own); err != nil || !st.IsDir() {
			t.Errorf("own cgroup %s: %v", h.Own, err)
		}
	}
	if len(l.Hierarchies) == 0 {
		t.Error("no hierarchies")
	}
}

// A run named like the runner's leaf (run id "runner-<pid>") would be put
// in the runner's own cgroup on v2; a name with a slash would leave the
// runner's subtree. Refused before anything is read or made.
func TestClaimRefusesNamesOutsideARunsPlace(t *testing.T) {
	for _, name := range []string{"syncbox-runner-" + strconv.Itoa(os.Getpid()), "syncbox-runner-1", "../syncbox-x", "a/b", "", ".."} {
		if p, err := Claim(name); err == nil {
			Release()
			t.Errorf("Claim(%q) = %q, nil; want a refusal", name, p)
		}
	}
}
