package container

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"syncbox/limits/tenant"
	"syncbox/testdata/testenv"
)

// startWith runs s with io and returns stdout, the exit and stderr stats.
func startWith(t *testing.T, root string, s Spec, o IO, feed func(c *Container)) (string, Exit, StderrStats) {
	t.Helper()
	if s.ID == "" {
		s.ID = fmt.Sprintf("io%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	if s.Env == nil {
		s.Env = []string{"PATH=" + DefaultPath}
	}
	c, err := Start(Paths{Root: root}, s, o)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer c.Destroy()
	if feed != nil {
		go feed(c)
	}
	out, _ := io.ReadAll(c.Stdout)
	exit, err := c.Wait()
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	st := c.StderrStats()
	if err := c.Destroy(); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	assertGone(t, root, s.ID)
	return string(out), exit, st
}

type fileID struct {
	uid, gid uint32
	mode     uint32
	content  string
}

func identify(t *testing.T, path string) fileID {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	id := fileID{uid: st.Uid, gid: st.Gid, mode: st.Mode}
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		b, _ := os.ReadFile(path)
		id.content = string(b)
	}
	return id
}

// openPTY returns a fresh pseudo-terminal's secondary side: a stand-in
// for the operator's terminal.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	pts, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pts.Close() })
	// Drain the terminal so the connector's writes never block on it.
	go io.Copy(io.Discard, ptmx)
	return pts, name
}

// The attack from issue 12: a cron job's `2>>log`, a `<file` and the
// operator's terminal reached the connector, which then owned them. The
// connector here reopens its stdio through /proc/self/fd and tries to
// read what was there before, chmod it 666 and truncate it.
func TestCallersStdioNeverReachesTheConnector(t *testing.T) {
	testenv.RequireRoot(t)
	root, dir := t.TempDir(), t.TempDir()
	logPath, inPath := filepath.Join(dir, "cron.log"), filepath.Join(dir, "input")
	os.WriteFile(logPath, []byte("an earlier job's private line\n"), 0o600)
	os.WriteFile(inPath, []byte("line for the connector\n"), 0o600)
	before := map[string]fileID{logPath: identify(t, logPath), inPath: identify(t, inPath)}

	logF, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer logF.Close()
	inF, err := os.Open(inPath)
	if err != nil {
		t.Fatal(err)
	}
	defer inF.Close()

	script := `import os, sys
print("stdin:", sys.stdin.readline().strip())
for fd in (0, 2):
    p = "/proc/self/fd/%d" % fd
    print(fd, "is", os.readlink(p).split(":")[0])
    try:
        os.chmod(p, 0o666); print(fd, "chmod ALLOWED")
    except OSError as e:
        print(fd, "chmod refused:", e.strerror)
    try:
        r = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
        data = os.read(r, 4096)
        print(fd, "read", "LEAK" if b"earlier" in data else "nothing")
    except OSError as e:
        print(fd, "read refused:", e.strerror)
    try:
        os.close(os.open(p, os.O_WRONLY | os.O_TRUNC | os.O_NONBLOCK)); print(fd, "truncate tried")
    except OSError as e:
        print(fd, "truncate refused:", e.strerror)
sys.stderr.write("connector says hi\n")
`
	uid := tenant.UID("escape-a")
	out, exit, _ := startWith(t, root, Spec{UID: uid, Args: []string{"/usr/bin/python3", "-c", script}},
		IO{Stdin: inF, Stderr: logF}, nil)
	if exit.Code != 0 {
		t.Fatalf("connector: %v\n%s", exit, out)
	}
	if !strings.Contains(out, "stdin: line for the connector") {
		t.Errorf("stdin was not forwarded:\n%s", out)
	}
	for _, leak := range []string{"LEAK", "0 is /", "2 is /"} {
		if strings.Contains(out, leak) {
			t.Errorf("the connector reached the caller's file (%q):\n%s", leak, out)
		}
	}
	for path, want := range before {
		got := identify(t, path)
		if path == logPath {
			want.content += "connector says hi\n" // appended by the runner, as root
		}
		if got != want {
			t.Errorf("%s changed: %+v, want %+v", path, got, want)
		}
	}

	// The operator's terminal: its owner and mode stay the operator's.
	pts, name := openPTY(t)
	ptsBefore := identify(t, name)
	startWith(t, root, Spec{UID: uid, Args: []string{"/bin/sh", "-c", "chmod 666 /proc/self/fd/2; echo on the terminal >&2"}},
		IO{Stderr: pts}, nil)
	if got := identify(t, name); got.uid != ptsBefore.uid || got.mode != ptsBefore.mode {
		t.Errorf("terminal %s changed owner or mode: %+v, was %+v", name, got, ptsBefore)
	}
}

// Two tenants' runs given the same stderr used to share one pipe: each
// could read the other's lines through /proc/self/fd/2.
func TestEachContainerHasItsOwnStderrPipe(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	shared := &syncBuffer{}
	done := make(chan string)
	go func() {
		out, _, _ := startWith(t, root, Spec{UID: tenant.UID("escape-a"), Args: []string{"/bin/sh", "-c",
			`for i in $(seq 50); do echo "a-secret-$i" >&2; sleep 0.01; done`}}, IO{Stderr: shared}, nil)
		done <- out
	}()
	out, _, _ := startWith(t, root, Spec{UID: tenant.UID("escape-b"), Args: []string{"/usr/bin/python3", "-c", `import os, time
r = os.open("/proc/self/fd/2", os.O_RDONLY | os.O_NONBLOCK)
got = b""
for _ in range(50):
    try: got += os.read(r, 65536)
    except BlockingIOError: pass
    time.sleep(0.01)
print("LEAK" if b"a-secret" in got else "nothing")`}}, IO{Stderr: shared}, nil)
	<-done
	if strings.Contains(out, "LEAK") {
		t.Errorf("tenant B read tenant A's stderr: %s", out)
	}
	if !strings.Contains(shared.String(), "a-secret-50") {
		t.Errorf("tenant A's stderr did not reach the log: %q", shared.String())
	}
}

// A connector flooding stderr must not fill the host's logs: 300 MB in,
// DefaultStderrCap out, the rest counted.
func TestStderrFloodIsCapped(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "log")
	logF, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logF.Close()
	const flood = 300_000_000
	_, exit, st := startWith(t, root, Spec{Args: []string{"/bin/sh", "-c",
		fmt.Sprintf("yes 'a line of connector noise' | head -c %d >&2", flood)}}, IO{Stderr: logF}, nil)
	if exit.Code != 0 {
		t.Fatalf("connector: %v", exit)
	}
	fi, _ := os.Stat(logPath)
	if fi.Size() > DefaultStderrCap+200 {
		t.Errorf("the log grew to %d bytes; the cap is %d", fi.Size(), DefaultStderrCap)
	}
	if st.Copied != DefaultStderrCap || st.Copied+st.Dropped != flood {
		t.Errorf("stats %+v: want %d copied and %d dropped", st, DefaultStderrCap, flood-DefaultStderrCap)
	}
	b, _ := os.ReadFile(logPath)
	if !bytes.Contains(b, []byte("connector stderr reached its cap")) {
		t.Errorf("the log does not say why it stops")
	}
}

func TestStdinIsNullUnlessForwardedOrPiped(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	// Nothing forwarded: EOF at once, not the runner's own stdin.
	out, _, _ := startWith(t, root, Spec{Args: []string{"/bin/sh", "-c", "cat; readlink /proc/self/fd/0"}}, IO{}, nil)
	if out != "/dev/null\n" {
		t.Errorf("stdin without forwarding: %q", out)
	}
	out, _, _ = startWith(t, root, Spec{Args: []string{"/bin/cat"}}, IO{StdinPipe: true}, func(c *Container) {
		c.Stdin.Write([]byte("through the pipe\n"))
		c.Stdin.Close()
	})
	if out != "through the pipe\n" {
		t.Errorf("stdin pipe: %q", out)
	}
	if _, err := Start(Paths{Root: root}, Spec{ID: "both", Args: []string{"/bin/true"}},
		IO{Stdin: strings.NewReader("x"), StdinPipe: true}); err == nil {
		t.Error("Stdin and StdinPipe together were accepted")
	}
	assertGone(t, root, "both")
}

func TestStderrReachesTheLogWithoutTerminalControls(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	var log syncBuffer
	startWith(t, root, Spec{Args: []string{"/bin/sh", "-c", `printf '\033]0;pwned\007\033[2Jwarning: \033[31mdisk\033[0m slow\rhidden?\n' >&2`}},
		IO{Stderr: &log}, nil)
	if got := log.String(); got != "warning: disk slow\nhidden?\n" {
		t.Errorf("stderr reached the log as %q", got)
	}
}

// syncBuffer is a bytes.Buffer several copiers may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
