// Package pgtest starts throwaway PostgreSQL 15 clusters for tests: one
// per test, reachable only through a unix socket (no TCP listener), with
// trust auth on that socket, stopped and removed when the test ends. Tests
// of the PostgreSQL connectors and of the shared store (package fleet)
// use it; nothing outside tests may.
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a throwaway PostgreSQL cluster reachable only through a unix
// socket in SockDir (no TCP listener), with trust auth on that socket.
type Server struct {
	SockDir string
	dataDir string
	bin     string
	logPath string
	cred    *syscall.Credential
	env     []string
	base    string
	exited  chan error
	pid     int
}

// binDir is where Debian's postgresql-15 package puts the server.
func binDir() string {
	if d := os.Getenv("SYNCBOX_PG_BIN"); d != "" {
		return d
	}
	return "/usr/lib/postgresql/15/bin"
}

// Start creates a cluster in a new temporary directory and starts it as
// the postgres OS user (the server refuses to run as root). It is stopped
// and removed when the test ends, passed or failed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binDir()
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			Unavailable(t, "PostgreSQL server binaries: %v", err)
		}
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		Unavailable(t, "OS user postgres (initdb and the server must not run as root): %v", err)
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)

	base, err := os.MkdirTemp("", "syncbox-pg-")
	if err != nil {
		t.Fatalf("postgres temp dir: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(base); err != nil {
			t.Errorf("remove postgres temp dir: %v", err)
		}
	})
	s := &Server{SockDir: filepath.Join(base, "sock"), dataDir: filepath.Join(base, "data"), bin: bin,
		logPath: filepath.Join(base, "postgres.log"), base: base,
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, env: []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}}
	// The socket dir is the only thing bound into containers; their uid
	// (65534) must be able to reach the socket in it.
	if err := os.Mkdir(s.SockDir, 0o777); err != nil {
		t.Fatalf("socket dir: %v", err)
	}
	for _, d := range []string{base, s.SockDir} {
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatalf("chown %s to postgres: %v", d, err)
		}
	}
	if err := os.Chmod(s.SockDir, 0o777); err != nil { // umask applied to Mkdir
		t.Fatalf("chmod socket dir: %v", err)
	}

	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.dataDir, "-U", "postgres",
		"--auth-local=trust", "--auth-host=reject", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	initdb.Env = s.env
	initdb.Dir = base
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// Durability is irrelevant for a throwaway cluster; lz4 makes storing
	// the giant values fast and their WAL small.
	conf := fmt.Sprintf(`
listen_addresses = ''
unix_socket_directories = '%s'
unix_socket_permissions = 0777
fsync = off
synchronous_commit = off
full_page_writes = off
default_toast_compression = lz4
max_wal_size = 2GB
`, s.SockDir)
	f, err := os.OpenFile(filepath.Join(s.dataDir, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatalf("configure postgres: %v", err)
	}
	t.Cleanup(func() { s.stop(t) })
	s.launch(t)
	return s
}

// launch starts the server and waits until it accepts connections.
// pg_ctl start would daemonize the server out of reach; started as a child
// with a parent-death signal, it cannot outlive a crashed test.
func (s *Server) launch(t testing.TB) {
	t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("postgres log: %v", err)
	}
	defer logf.Close()
	srv := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.dataDir)
	srv.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	srv.Env = s.env
	srv.Dir = s.base
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	s.pid = srv.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	s.exited = exited

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		conn, err := s.Connect(ctx, "postgres")
		if err == nil {
			conn.Close(ctx)
			return
		}
		select {
		case werr := <-exited:
			exited <- werr // for stop
			t.Fatalf("postgres exited at startup: %v\n%s", werr, s.LogTail())
		case <-ctx.Done():
			t.Fatalf("postgres not ready after 60s: %v\n%s", err, s.LogTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Kill stops the server at once, as a crash would (pg_ctl stop -m
// immediate: every session is cut without a goodbye). Restart brings it
// back on the same data.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.stop(t)
}

// Restart starts a killed server again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.launch(t)
}

func (s *Server) stop(t testing.TB) {
	if s.exited == nil {
		return
	}
	stop := exec.Command(filepath.Join(s.bin, "pg_ctl"), "stop", "-D", s.dataDir, "-m", "immediate", "-w", "-t", "30")
	stop.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	stop.Env = s.env
	if out, err := stop.CombinedOutput(); err != nil {
		t.Logf("pg_ctl stop: %v\n%s", err, out)
		syscall.Kill(s.pid, syscall.SIGKILL)
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Errorf("postgres (pid %d) did not exit", s.pid)
	}
	s.exited = nil
}

// Connect opens a connection to db over the unix socket.
func (s *Server) Connect(ctx context.Context, db string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s user=postgres dbname=%s sslmode=disable", s.SockDir, db))
	if err != nil {
		return nil, fmt.Errorf("connect to %s via %s: %w", db, s.SockDir, err)
	}
	return conn, nil
}

// Conn is Connect for tests: it fails the test, and closes at its end.
func (s *Server) Conn(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := s.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return c
}

// URL is a postgres:// URL for db over the unix socket.
func (s *Server) URL(db string) string {
	return "postgres://postgres@/" + db + "?host=" + s.SockDir + "&sslmode=disable"
}

// LogTail is the end of the server's log, for failure messages.
func (s *Server) LogTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// Unavailable skips a test whose prerequisites are missing, except in CI,
// where a silently skipped end-to-end test would hide a broken setup.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "unavailable: " + fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Exec runs statements one by one, failing the test on the first error.
func Exec(t testing.TB, c *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		start := time.Now()
		if _, err := c.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", strings.Join(strings.Fields(q), " "), err)
		}
		if d := time.Since(start); d > time.Second {
			t.Logf("%.1fs: %.80s", d.Seconds(), strings.Join(strings.Fields(q), " "))
		}
	}
}
