package container

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"syncbox/limits/tenant"
	"syncbox/testdata/testenv"
)

// Escape attempts by a hostile connector. Each attempt is a named subtest
// that must be refused, and where the layers differ the test says which
// layer refused it: every syscall attempt runs twice, once under the
// default seccomp profile and once unconfined, so the table shows what the
// capability drop and namespaces refuse on their own and what only the
// filter adds.

// parseAttempts reads "NAME ALLOWED" / "NAME refused: REASON" lines.
func parseAttempts(out string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutSuffix(line, " ALLOWED"); ok {
			m[name] = "ALLOWED"
		} else if name, reason, ok := strings.Cut(line, " refused: "); ok {
			m[name] = reason
		}
	}
	return m
}

// neighbour starts a long-running container whose host pid another
// container must not be able to see, signal or trace.
func neighbour(t *testing.T, root string, uid int) *Container {
	t.Helper()
	c, err := Start(Paths{Root: root}, Spec{ID: fmt.Sprintf("nb%d-%d", os.Getpid(), time.Now().UnixNano()),
		Args: []string{"/bin/sleep", "60"}, Env: []string{"PATH=" + DefaultPath}, UID: uid}, IO{})
	if err != nil {
		t.Fatalf("start neighbour: %v", err)
	}
	t.Cleanup(func() { c.Kill(); c.Wait(); c.Destroy() })
	return c
}

func TestEscapeSyscallsAreRefused(t *testing.T) {
	testenv.RequireRoot(t)
	escape := testenv.Connector(t, "escape")
	root := t.TempDir()
	uid := tenant.UID("escape-a")
	// Same uid as the attacker: only the pid namespace stands in the way.
	nb := neighbour(t, root, uid)
	self, other := fmt.Sprint(os.Getpid()), fmt.Sprint(nb.Pid())
	args := []string{escape, "-pids", self + "," + other}
	confined := parseAttempts(runIn(t, root, Spec{Args: args, UID: uid}).stdout)
	unconfined := parseAttempts(runIn(t, root, Spec{Args: args, UID: uid, SeccompUnconfined: true}).stdout)

	// name: {with seccomp, unconfined}. EPERM in both columns means the
	// missing capability already refuses it and seccomp refuses it earlier;
	// ALLOWED in the second column is what only the filter stops; "refused"
	// is any refusal whose errno depends on the host kernel's build.
	want := map[string][2]string{
		"userns":            {"EPERM", "ALLOWED"}, // unprivileged user namespaces are enabled here
		"userns-mountns":    {"EPERM", "ALLOWED"}, // ... and give a private mount namespace with it
		"mountns":           {"EPERM", "EPERM"},
		"netns":             {"EPERM", "EPERM"},
		"clone3":            {"ENOSYS", "EINVAL"}, // flags out of the filter's sight: libc falls back to clone
		"setns":             {"EPERM", "EPERM"},
		"mount":             {"EPERM", "EPERM"},
		"umount":            {"EPERM", "EPERM"},
		"pivot_root":        {"EPERM", "EPERM"},
		"chroot":            {"EPERM", "EPERM"},
		"mknod-char":        {"EPERM", "EPERM"},
		"mknod-block":       {"EPERM", "EPERM"},
		"ptrace-child":      {"EPERM", "ALLOWED"}, // same uid, no capability needed
		"kill-" + self:      {"ESRCH", "ESRCH"},   // host pids do not exist in the pid namespace
		"kill-" + other:     {"ESRCH", "ESRCH"},
		"ptrace-" + self:    {"EPERM", "ESRCH"},
		"ptrace-" + other:   {"EPERM", "ESRCH"},
		"perf_event_open":   {"EPERM", "ALLOWED"}, // perf_event_paranoid 2 allows self-profiling
		"bpf":               {"EPERM", "EPERM"},
		"keyctl":            {"EPERM", "ALLOWED"},
		"add_key":           {"EPERM", "ALLOWED"},
		"request_key":       {"EPERM", "refused"}, // reaches the key lookup
		"init_module":       {"EPERM", "refused"}, // ENOSYS where the kernel lacks the feature
		"delete_module":     {"EPERM", "refused"}, // ENOSYS where the kernel lacks the feature
		"kexec_load":        {"EPERM", "refused"}, // ENOSYS where the kernel lacks the feature
		"reboot":            {"EPERM", "EPERM"},
		"swapon":            {"EPERM", "EPERM"},
		"userfaultfd":       {"EPERM", "ALLOWED"}, // user-mode-only faults need no privilege
		"open_by_handle_at": {"EPERM", "EPERM"},
		"syslog":            {"EPERM", "EPERM"},
		"acct":              {"EPERM", "EPERM"},
		"settimeofday":      {"EPERM", "EPERM"},
		"clock_settime":     {"EPERM", "EPERM"},
		"iopl":              {"EPERM", "refused"}, // ENOSYS where the kernel lacks the feature
		"ioperm":            {"EPERM", "refused"}, // ENOSYS where the kernel lacks the feature
		"sethostname":       {"EPERM", "EPERM"},
		"personality":       {"EPERM", "ALLOWED"},
		"io_uring_setup":    {"EPERM", "ALLOWED"},
		"io_setup":          {"ENOSYS", "ALLOWED"}, // only the filter stands before fs.aio-max-nr
		"io_submit":         {"ENOSYS", "EINVAL"},
		"socket-vsock":      {"EPERM", ""}, // unconfined: whatever this host's vsock support says
	}
	// Controls: the filter must not break what connectors legitimately do.
	controls := []string{"mknod-fifo", "socket-inet"}

	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		w := want[name]
		t.Run(name, func(t *testing.T) {
			if got := confined[name]; got != w[0] {
				t.Errorf("with seccomp: %q, want %s", got, w[0])
			}
			if got := unconfined[name]; w[1] == "refused" && (got == "" || got == "ALLOWED") || w[1] != "refused" && w[1] != "" && got != w[1] {
				t.Errorf("unconfined: %q, want %s", got, w[1])
			}
		})
	}
	for _, name := range controls {
		t.Run("control/"+name, func(t *testing.T) {
			if confined[name] != "ALLOWED" || unconfined[name] != "ALLOWED" {
				t.Errorf("legitimate call refused: seccomp %q, unconfined %q", confined[name], unconfined[name])
			}
		})
	}
	for name := range confined {
		if _, ok := want[name]; !ok && !slices.Contains(controls, name) {
			t.Errorf("attempt %q has no expectation", name)
		}
	}
}

// probe is a shell function: "probe NAME CMD..." prints NAME ALLOWED when
// CMD succeeds, else NAME refused: and CMD's error output.
//
// sys_mount calls mount(2) itself: util-linux mount refuses a non-root
// caller before the syscall, which would prove nothing.
const probe = `sys_mount() { /usr/bin/python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b"none", b"/tmp", sys.argv[1].encode(), 0, sys.argv[2].encode() or None):
    sys.exit("mount: " + os.strerror(ctypes.get_errno()))' "$@"; }
probe() { n=$1; shift; if out=$("$@" 2>&1); then echo "$n ALLOWED"; else echo "$n refused: $(echo "$out" | head -n1)"; fi; }
`

func TestEscapeFilesystemAndTenantsAreRefused(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	home := t.TempDir()
	uidA, uidB := tenant.UID("escape-a"), tenant.UID("escape-b")
	if _, err := tenant.Prepare(home, "escape-a"); err != nil {
		t.Fatal(err)
	}
	stateA := tenant.Dir(home, "escape-a")
	os.WriteFile(filepath.Join(stateA, "state.json"), []byte("a-state"), 0o600)
	os.Chown(filepath.Join(stateA, "state.json"), uidA, uidA)

	// A shared read-write export both tenants see, with a planted symlink.
	shared := t.TempDir()
	os.Chmod(shared, 0o1777)
	if err := os.Symlink("/etc/shadow", filepath.Join(shared, "shadow-link")); err != nil {
		t.Fatal(err)
	}
	sharedBind := Bind{Source: shared, Destination: "/shared", Writable: true}

	// Tenant A writes a private file into the shared export, while one of
	// its runs holds a secret.
	a := runIn(t, root, Spec{UID: uidA, Binds: []Bind{sharedBind}, Args: []string{"/bin/sh", "-c",
		"umask 077; echo a-private > /shared/a-private && stat -c '%u %a' /shared/a-private"}})
	if a.exit.Code != 0 || strings.TrimSpace(a.stdout) != fmt.Sprintf("%d 600", uidA) {
		t.Fatalf("tenant A could not write its file: %v %q %q", a.exit, a.stdout, a.stderr)
	}
	holder, err := Start(Paths{Root: root}, Spec{ID: fmt.Sprintf("sec%d", os.Getpid()), UID: uidA,
		Args: []string{"/bin/sleep", "60"}, Env: []string{"PATH=" + DefaultPath},
		Files: []File{{Destination: "/run/secrets/token", Content: []byte("a-secret")}}}, IO{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Kill(); holder.Wait(); holder.Destroy() })
	secretA := filepath.Join(root, "runs", holder.ID, "files", "0-token")
	if b, err := os.ReadFile(secretA); err != nil || string(b) != "a-secret" {
		t.Fatalf("tenant A's staged secret not where expected: %v", err)
	}

	hostname, _ := os.Hostname()
	script := probe + fmt.Sprintf(`
probe read-other-tenant-file cat /shared/a-private
probe overwrite-other-tenant-file sh -c 'echo x > /shared/a-private'
probe read-other-tenant-state cat /astate/state.json
probe list-other-tenant-state ls /astate
probe read-other-tenant-secret cat %[1]s
probe read-other-tenant-secret-mounted cat /run/secrets/token
probe symlink-in-bind cat /shared/shadow-link
probe see-host-process ls /proc/%[2]d
probe signal-host-process kill -0 %[2]d
probe write-proc-sys sh -c 'echo escaped > /proc/sys/kernel/hostname'
probe sysrq sh -c 'echo h > /proc/sysrq-trigger'
probe read-kcore sh -c 'test $(head -c 16 /proc/kcore | wc -c) -gt 0'
probe read-kallsyms-addresses sh -c 'head -n1 /proc/kallsyms | grep -qv "^0000000000000000"'
probe see-other-cgroups sh -c 'find /sys/fs/cgroup -name "syncbox-*" -o -name "*.slice" | grep .'
probe raise-pids-limit sh -c 'echo max > /sys/fs/cgroup/pids/pids.max || echo max > /sys/fs/cgroup/pids.max'
probe raise-memory-limit sh -c 'echo -1 > /sys/fs/cgroup/memory/memory.limit_in_bytes || echo max > /sys/fs/cgroup/memory.max'
probe mount-cgroup sys_mount cgroup pids
probe mount-tmpfs sys_mount tmpfs ""
probe mknod-device mknod /tmp/null c 1 3
probe chroot chroot /tmp /bin/true
probe unshare-mount unshare -m true
probe unshare-user unshare -U true
probe unshare-user-mount unshare -Urm mount -t tmpfs none /tmp
probe hostname hostname escaped
probe write-etc touch /etc/escape
probe write-usr touch /usr/escape
probe write-root-dir touch /escape
probe read-shadow cat /etc/shadow
probe read-root-home ls /root
probe raise-core-limit sh -c 'ulimit -c unlimited'
probe raise-nofile-limit sh -c 'ulimit -n 65536'
`, secretA, os.Getpid())
	for _, mode := range []struct {
		name       string
		unconfined bool
	}{{"seccomp", false}, {"unconfined", true}} {
		t.Run(mode.name, func(t *testing.T) {
			r := runIn(t, root, Spec{UID: uidB, SeccompUnconfined: mode.unconfined, Args: []string{"/bin/sh", "-c", script},
				Binds: []Bind{sharedBind, {Source: stateA, Destination: "/astate"}}})
			got := parseAttempts(r.stdout)
			if len(got) < 30 {
				t.Fatalf("only %d probes ran: %s %s", len(got), r.stdout, r.stderr)
			}
			for name, reason := range got {
				t.Run(name, func(t *testing.T) {
					// Without the filter a user namespace is still possible
					// (harmless by itself: no host privilege comes with it).
					allowed := mode.unconfined && (name == "unshare-user" || name == "unshare-user-mount")
					if (reason == "ALLOWED") != allowed {
						t.Errorf("%s: %s", name, reason)
					}
					// A missing tool would be a refusal that proves nothing.
					if strings.Contains(reason, "not found") {
						t.Errorf("%s: probe could not run: %s", name, reason)
					}
					t.Log(reason)
				})
			}
		})
	}
	if h, _ := os.Hostname(); h != hostname {
		t.Errorf("host hostname changed to %q", h)
	}
	if b, _ := os.ReadFile(filepath.Join(shared, "a-private")); string(b) != "a-private\n" {
		t.Errorf("tenant A's file was changed: %q", b)
	}
	for _, p := range []string{"/etc/escape", "/usr/escape"} {
		if _, err := os.Stat(p); err == nil {
			os.Remove(p)
			t.Errorf("%s reached the host", p)
		}
	}
}

func TestEscapeSymlinkedBindSourceIsRefused(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	// Planted by a tenant, in a directory the tenant owns.
	dir := t.TempDir()
	os.Chown(dir, tenant.UID("escape-a"), tenant.UID("escape-a"))
	link := filepath.Join(dir, "export")
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	os.Lchown(link, tenant.UID("escape-a"), tenant.UID("escape-a"))
	_, err := Start(Paths{Root: root}, Spec{ID: "symbind", Args: []string{"/bin/true"},
		Binds: []Bind{{Source: link, Destination: "/data", Writable: true}}}, IO{})
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("a symlinked bind source was accepted: %v", err)
	}
	// A symlink in the middle of the path too: /tmp/x/link/sub.
	_, err = Start(Paths{Root: root}, Spec{ID: "symbind2", Args: []string{"/bin/true"},
		Binds: []Bind{{Source: filepath.Join(link, "ssl"), Destination: "/data"}}}, IO{})
	if err == nil {
		t.Fatal("a bind source below a symlink was accepted")
	}
	assertGone(t, root, "symbind")
}

func TestSecretsAndWorkdirBelongToTheRun(t *testing.T) {
	testenv.RequireRoot(t)
	root, home := t.TempDir(), t.TempDir()
	work, uid, err := tenant.NewWorkdir(home, "escape-a", "run1")
	if err != nil {
		t.Fatal(err)
	}
	r := runIn(t, root, Spec{UID: uid, Workdir: work, Env: []string{"PATH=" + DefaultPath},
		Files: []File{{Destination: "/run/secrets/token", Content: []byte("s3cret")}},
		Args: []string{"/bin/sh", "-c", probe + `echo "cwd=$(pwd)"
echo "secret=$(stat -c '%u %a' /run/secrets/token) $(cat /run/secrets/token)"
echo "work=$(stat -c '%u %a' /run/syncbox/work)"
echo out > /run/syncbox/work/result && echo wrote
probe write-secret sh -c 'echo x > /run/secrets/token'
probe chmod-secret chmod 600 /run/secrets/token
probe secret-in-env sh -c 'tr "\0" "\n" < /proc/self/environ | grep -q s3cret'
`}})
	for _, w := range []string{"cwd=/run/syncbox/work\n", fmt.Sprintf("secret=%d 400 s3cret\n", uid), fmt.Sprintf("work=%d 700\n", uid), "wrote\n"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("missing %q in:\n%s%s", w, r.stdout, r.stderr)
		}
	}
	for name, reason := range parseAttempts(r.stdout) {
		if reason == "ALLOWED" {
			t.Errorf("%s allowed", name)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(work, "result")); string(b) != "out\n" {
		t.Errorf("workdir did not write through: %q", b)
	}
}

// startTrue runs /bin/true in a fresh container, start to destroy.
func startTrue(b *testing.B, root string, i int, unconfined bool) time.Duration {
	t0 := time.Now()
	c, err := Start(Paths{Root: root}, Spec{ID: fmt.Sprintf("b%d-%d", os.Getpid(), i), Args: []string{"/bin/true"},
		Env: []string{"PATH=" + DefaultPath}, SeccompUnconfined: unconfined}, IO{})
	if err != nil {
		b.Fatal(err)
	}
	if exit, err := c.Wait(); err != nil || exit.Code != 0 {
		b.Fatalf("exit %v %v", exit, err)
	}
	if err := c.Destroy(); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

func medianMS(d []time.Duration) float64 { return float64(testenv.Median(d).Microseconds()) / 1000 }

// benchStart measures create+run+wait+destroy of /bin/true and reports
// the median, which a few slow outliers do not move.
func benchStart(b *testing.B, unconfined bool) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	root := b.TempDir()
	var times []time.Duration
	for i := 0; b.Loop(); i++ {
		times = append(times, startTrue(b, root, i, unconfined))
	}
	b.ReportMetric(medianMS(times), "ms-median")
}

// BenchmarkStartSeccompOverhead alternates both modes in every iteration,
// so load from other processes hits both alike, and reports the median
// of the paired differences: the filter's own start-up cost.
func BenchmarkStartSeccompOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	root := b.TempDir()
	var with, without, diff []time.Duration
	for i := 0; b.Loop(); i++ {
		var w, u time.Duration
		if i%2 == 0 {
			w, u = startTrue(b, root, 2*i, false), startTrue(b, root, 2*i+1, true)
		} else {
			u, w = startTrue(b, root, 2*i+1, true), startTrue(b, root, 2*i, false)
		}
		with, without, diff = append(with, w), append(without, u), append(diff, w-u)
	}
	b.ReportMetric(medianMS(with), "ms-seccomp")
	b.ReportMetric(medianMS(without), "ms-unconfined")
	b.ReportMetric(medianMS(diff), "ms-overhead")
}

func BenchmarkStartSeccomp(b *testing.B)    { benchStart(b, false) }
func BenchmarkStartUnconfined(b *testing.B) { benchStart(b, true) }

// The allowlist must never grow one of the calls the escape tests rely on
// the filter to refuse.
func TestSeccompAllowlistLeavesOutDangerousCalls(t *testing.T) {
	for _, name := range []string{"unshare", "setns", "clone3", "mount", "umount2", "pivot_root", "chroot",
		"fsopen", "fsmount", "move_mount", "open_tree", "keyctl", "add_key", "request_key", "bpf", "ptrace",
		"process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "perf_event_open", "init_module",
		"finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
		"userfaultfd", "open_by_handle_at", "syslog", "acct", "settimeofday", "clock_settime", "iopl", "ioperm",
		"io_uring_setup", "io_setup", "io_submit", "io_getevents", "sethostname", "setdomainname", "quotactl", "vhangup", "lookup_dcookie"} {
		if slices.Contains(allowedSyscalls, name) {
			t.Errorf("%s is on the allowlist", name)
		}
	}
}

// The filter must not get in the way of what connectors ordinarily do:
// threads, subprocesses, sockets, TLS, sqlite, multiprocessing.
func TestSeccompKeepsOrdinaryConnectorsWorking(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	r := runIn(t, root, Spec{Args: []string{"/bin/sh", "-c", `grep '^Seccomp:' /proc/self/status
/usr/bin/python3 - <<'PY'
import concurrent.futures, json, multiprocessing, os, socket, sqlite3, ssl, subprocess, tempfile, threading
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    assert sum(ex.map(lambda x: x * x, range(100))) == 328350
with multiprocessing.Pool(2) as p:
    assert p.map(abs, [-1, -2]) == [1, 2]
assert subprocess.run(["/bin/echo", "hi"], capture_output=True).stdout == b"hi\n"
a, b = socket.socketpair(); a.sendall(b"x"); assert b.recv(1) == b"x"
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); s.close()
ssl.create_default_context()
db = sqlite3.connect(os.path.join(tempfile.mkdtemp(), "t.db")); db.execute("create table t(x)"); db.commit()
os.mkfifo("/tmp/fifo")
print("python ok")
PY
echo a b c | tr ' ' '\n' | sort -r | head -n1`}})
	if r.exit.Code != 0 || !strings.Contains(r.stdout, "Seccomp:\t2") || !strings.Contains(r.stdout, "python ok\nc\n") {
		t.Fatalf("exit %v\nstdout %s\nstderr %s", r.exit, r.stdout, r.stderr)
	}
	u := runIn(t, root, Spec{SeccompUnconfined: true, Args: []string{"/bin/sh", "-c", `grep '^Seccomp:' /proc/self/status`}})
	if !strings.Contains(u.stdout, "Seccomp:\t0") {
		t.Errorf("unconfined run is filtered: %s", u.stdout)
	}
}
