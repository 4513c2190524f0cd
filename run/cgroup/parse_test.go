package cgroup

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func procFixture(t *testing.T, host, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixture("proc", host, file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseProcCgroup(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []ProcEntry
		err  string // a part of the error; "" for none
	}{
		{name: "v2 host", in: "0::/system.slice/cron.service\n",
			want: []ProcEntry{{ID: 0, Path: "/system.slice/cron.service"}}},
		{name: "pod", in: "0::/\n", want: []ProcEntry{{ID: 0, Path: "/"}}},
		{name: "co-mounted and named", in: "4:cpu,cpuacct:/a\n1:name=systemd:/user.slice\n",
			want: []ProcEntry{{ID: 4, Controllers: []string{"cpu", "cpuacct"}, Path: "/a"}, {ID: 1, Controllers: []string{"name=systemd"}, Path: "/user.slice"}}},
		{name: "path with colons", in: "0::/a:b:c\n", want: []ProcEntry{{ID: 0, Path: "/a:b:c"}}},
		{name: "no trailing newline, blank lines", in: "\n0::/x", want: []ProcEntry{{ID: 0, Path: "/x"}}},
		{name: "empty", in: "", want: nil},
		{name: "truncated", in: "0::/\n4:memory", err: `line 2 "4:memory": want ID:CONTROLLERS:PATH`},
		{name: "missing fields", in: "memory\n", err: "line 1"},
		{name: "bad id", in: "x:memory:/\n", err: `hierarchy id "x" is not a number`},
		{name: "huge id", in: "99999999999999999999999:memory:/\n", err: "is not a number"},
		{name: "negative id", in: "-1:memory:/\n", err: "is not a number"},
		{name: "relative path", in: "0::system.slice\n", err: `path "system.slice" is not absolute`},
		{name: "huge line", in: "0::" + strings.Repeat("x", 1<<20) + "\n", err: "(1048579 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProcCgroup([]byte(tc.in))
			checkErr(t, err, tc.err)
			if tc.err == "" && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one with %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not say %q", err, want)
	case err != nil && len(err.Error()) > 300:
		t.Fatalf("error of %d bytes: a malformed line must not be repeated whole", len(err.Error()))
	}
}

// The fixtures are real /proc/self files: this host (v1 hybrid, copied
// with cat), a Debian 12 systemd host and a containerd pod (v2).
func TestParseProcCgroupFixtures(t *testing.T) {
	got, err := ParseProcCgroup(procFixture(t, "v1-hybrid-this-host", "cgroup"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || got[0].ID != 9 || !reflect.DeepEqual(got[0].Controllers, []string{"name=systemd"}) ||
		got[5].Path != "/process_api/3a8cc44dadf2f3a6c2add0d9c03355ee" || got[9].ID != 0 || got[9].Controllers != nil {
		t.Errorf("this host: %+v", got)
	}
}

func TestParseCgroupMounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []Mount
		err  string
	}{
		{name: "v2 with optional fields", in: "32 22 0:27 / /sys/fs/cgroup rw,nosuid shared:9 master:2 - cgroup2 cgroup2 rw,nsdelegate\n",
			want: []Mount{{V2: true, Root: "/", Point: "/sys/fs/cgroup", Options: []string{"rw", "nsdelegate"}}}},
		{name: "v1 co-mounted", in: "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
			want: []Mount{{Root: "/", Point: "/sys/fs/cgroup/cpu,cpuacct", Options: []string{"rw", "cpu", "cpuacct"}}}},
		{name: "subtree mounted, escaped space", in: `40 31 0:37 /docker/abc /sys/fs/cgroup/my\040mem rw - cgroup cgroup rw,memory` + "\n",
			want: []Mount{{Root: "/docker/abc", Point: "/sys/fs/cgroup/my mem", Options: []string{"rw", "memory"}}}},
		{name: "other filesystems left out", in: "22 1 0:21 / /proc rw - proc proc rw\n27 1 254:0 / / rw - ext4 /dev/vda rw\n", want: nil},
		{name: "no super options", in: "41 31 0:38 / /u rw - cgroup2 cgroup2\n", want: []Mount{{V2: true, Root: "/", Point: "/u"}}},
		{name: "truncated", in: "41 31 0:38 / /sys/fs/cgroup rw - cgro", err: "line 1"},
		{name: "no separator", in: "41 31 0:38 / /sys/fs/cgroup rw cgroup2 cgroup2 rw\n", err: `no " - " separator`},
		{name: "missing fields", in: "41 31 / - cgroup2 cgroup2 rw\n", err: "3 fields before"},
		{name: "bad escape", in: `41 31 0:38 / /a\09x rw - cgroup2 cgroup2 rw` + "\n", err: `bad escape "\\09x"`},
		{name: "truncated escape", in: `41 31 0:38 / /a\04 rw - cgroup2 cgroup2 rw` + "\n", err: "truncated escape"},
		{name: "huge line", in: "41 31 0:38 / /" + strings.Repeat("a", 1<<20) + " rw\n", err: "bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCgroupMounts([]byte(tc.in))
			checkErr(t, err, tc.err)
			if tc.err == "" && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseCgroupMountsFixtures(t *testing.T) {
	for host, want := range map[string]int{"v1-hybrid-this-host": 10, "v2-systemd-leaf": 1, "v2-pod": 1} {
		got, err := ParseCgroupMounts(procFixture(t, host, "mountinfo"))
		if err != nil || len(got) != want {
			t.Errorf("%s: %d cgroup mounts, %v; want %d", host, len(got), err, want)
		}
	}
}

func TestParseKeyed(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want map[string]int64
		err  string
	}{
		{name: "memory.events", in: "low 0\nhigh 0\nmax 41\noom 1\noom_kill 1\noom_group_kill 0\n",
			want: map[string]int64{"low": 0, "high": 0, "max": 41, "oom": 1, "oom_kill": 1, "oom_group_kill": 0}},
		{name: "v1 oom_control", in: "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
			want: map[string]int64{"oom_kill_disable": 0, "under_oom": 0, "oom_kill": 1}},
		{name: "v1 unlimited hierarchical limit fits", in: "hierarchical_memory_limit 9223372036854771712\n",
			want: map[string]int64{"hierarchical_memory_limit": 9223372036854771712}},
		{name: "no trailing newline", in: "anon 7", want: map[string]int64{"anon": 7}},
		{name: "empty", in: "", want: map[string]int64{}},
		{name: "truncated line", in: "anon 7\nfile", err: `line 2 "file": want KEY VALUE`},
		{name: "missing value", in: "anon \n", err: "not a decimal integer"},
		{name: "missing key", in: " 7\n", err: "want KEY VALUE"},
		{name: "not a number", in: "anon 7x\n", err: `line 1 "anon 7x": value: not a decimal integer`},
		{name: "beyond int64", in: "anon 18446744073709551615\n", err: "out of range for int64"},
		{name: "huge value", in: "anon " + strings.Repeat("9", 100000) + "\n", err: "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]int64{}
			err := ParseKeyed([]byte(tc.in), func(k string, v int64) { got[k] = v })
			checkErr(t, err, tc.err)
			if tc.err == "" && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// Every flat-keyed file of the v1 fixtures, copied from a real cgroup,
// parses without error.
func TestParseKeyedRealV1Files(t *testing.T) {
	for _, f := range []string{"v1/running/memory/memory.stat", "v1/oom/memory/memory.stat", "v1/oom/memory/memory.oom_control"} {
		b, err := os.ReadFile(fixture(strings.Split(f, "/")...))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		if err := ParseKeyed(b, func(string, int64) { n++ }); err != nil || n == 0 {
			t.Errorf("%s: %d keys, %v", f, n, err)
		}
	}
}

func TestParseValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{"104857600\n", 104857600, ""},
		{"max\n", 0, ""},
		{"9223372036854771712\n", 9223372036854771712, ""},
		{"", 0, "empty"},
		{"\n", 0, "empty"},
		{"12abc\n", 0, "not a decimal integer"},
		{"-\n", 0, "not a decimal integer"},
		{"99999999999999999999\n", 0, "out of range"},
	} {
		got, err := ParseValue([]byte(tc.in))
		checkErr(t, err, tc.err)
		if got != tc.want {
			t.Errorf("ParseValue(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
