package runlock

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func spec(home, tenant, name, id string) Spec {
	return Spec{Home: home, Tenant: tenant, Name: name, RunID: id}
}

func mustAcquire(t *testing.T, s Spec) *Lock {
	t.Helper()
	l, err := Acquire(context.Background(), s)
	if err != nil {
		t.Fatalf("Acquire(%s/%s): %v", s.Tenant, s.Name, err)
	}
	t.Cleanup(func() { l.Release() })
	return l
}

func TestSecondAcquireIsRefusedWithTheHoldersRecord(t *testing.T) {
	home := t.TempDir()
	first := mustAcquire(t, spec(home, "acme", "tap-x", "run-1"))
	_, err := Acquire(context.Background(), spec(home, "acme", "tap-x", "run-2"))
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second Acquire: %v, want *HeldError", err)
	}
	h := held.Holder
	host, _ := os.Hostname()
	if h.RunID != "run-1" || h.PID != os.Getpid() || h.Machine != host || h.Started.IsZero() || h.Token != first.Token() {
		t.Errorf("holder %+v; want run-1, pid %d on %s, token %d", h, os.Getpid(), host, first.Token())
	}
	if !strings.Contains(err.Error(), "run-1") || !strings.Contains(err.Error(), "already running") {
		t.Errorf("error %q does not name the holder", err)
	}
}

func TestOtherTenantsAndConnectorsDoNotBlock(t *testing.T) {
	home := t.TempDir()
	mustAcquire(t, spec(home, "acme", "tap-x", "run-1"))
	mustAcquire(t, spec(home, "globex", "tap-x", "run-2"))
	mustAcquire(t, spec(home, "acme", "tap-y", "run-3"))
}

func TestReleaseFreesAndTheTokenGrows(t *testing.T) {
	home := t.TempDir()
	var last int64
	for i := range 3 {
		l, err := Acquire(context.Background(), spec(home, "acme", "tap-x", "run"))
		if err != nil {
			t.Fatal(err)
		}
		if l.Token() <= last {
			t.Errorf("acquisition %d: token %d, not above %d", i, l.Token(), last)
		}
		last = l.Token()
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(); err != nil {
			t.Errorf("second Release: %v", err)
		}
	}
}

func TestWaitTakesTheLockWhenItIsReleased(t *testing.T) {
	home := t.TempDir()
	first, err := Acquire(context.Background(), spec(home, "acme", "tap-x", "run-1"))
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, func() { first.Release() })
	s := spec(home, "acme", "tap-x", "run-2")
	s.Wait = 10 * time.Second
	t0 := time.Now()
	second := mustAcquire(t, s)
	if d := time.Since(t0); d < 250*time.Millisecond {
		t.Errorf("got the lock after %s, before it was released", d)
	}
	if second.Holder().RunID != "run-2" {
		t.Errorf("holder %+v", second.Holder())
	}
}

func TestWaitGivesUpAtItsLimitAndOnCancel(t *testing.T) {
	home := t.TempDir()
	mustAcquire(t, spec(home, "acme", "tap-x", "run-1"))
	s := spec(home, "acme", "tap-x", "run-2")
	s.Wait = 300 * time.Millisecond
	_, err := Acquire(context.Background(), s)
	var held *HeldError
	if !errors.As(err, &held) || held.Waited < 300*time.Millisecond {
		t.Fatalf("Acquire with a 300ms wait: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	s.Wait = time.Hour
	_, err = Acquire(ctx, s)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire with a cancelled context: %v", err)
	}
}

// A holder killed with SIGKILL cannot clean up; the kernel drops its flock
// with its last descriptor, so the lock is free at once.
func TestKilledHolderFreesTheLockAtOnce(t *testing.T) {
	home := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestHelperHolder$")
	child.Env = append(os.Environ(), "RUNLOCK_HELPER_HOME="+home)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf[:4]) != "held" {
		t.Fatalf("helper did not take the lock: %q %v", buf, err)
	}
	_, err = Acquire(context.Background(), spec(home, "acme", "tap-x", "run-2"))
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.PID != child.Process.Pid || held.Holder.RunID != "helper" {
		t.Fatalf("while the helper holds it: %v (holder %+v)", err, held)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	l := mustAcquire(t, spec(home, "acme", "tap-x", "run-3"))
	if l.Token() != 2 {
		t.Errorf("token %d after the helper's 1", l.Token())
	}
}

func TestHelperHolder(t *testing.T) {
	home := os.Getenv("RUNLOCK_HELPER_HOME")
	if home == "" {
		t.Skip("helper process for TestKilledHolderFreesTheLockAtOnce")
	}
	if _, err := Acquire(context.Background(), spec(home, "acme", "tap-x", "helper")); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("held\n")
	time.Sleep(time.Minute)
}

func TestPlantedLinksAndForeignFilesAreRefused(t *testing.T) {
	t.Run("locks dir is a symlink", func(t *testing.T) {
		home, elsewhere := t.TempDir(), t.TempDir()
		if err := os.Symlink(elsewhere, filepath.Join(home, LocksDir)); err != nil {
			t.Fatal(err)
		}
		_, err := Acquire(context.Background(), spec(home, "acme", "tap-x", "r"))
		if err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Fatalf("Acquire through a symlinked locks dir: %v", err)
		}
		if ents, _ := os.ReadDir(elsewhere); len(ents) > 0 {
			t.Errorf("created %s in the link's target", ents[0].Name())
		}
	})
	t.Run("lock file is a symlink", func(t *testing.T) {
		home := t.TempDir()
		dir := filepath.Join(home, LocksDir, "acme")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(t.TempDir(), "victim")
		if err := os.Symlink(target, filepath.Join(dir, "tap-x.lock")); err != nil {
			t.Fatal(err)
		}
		if _, err := Acquire(context.Background(), spec(home, "acme", "tap-x", "r")); err == nil {
			t.Fatal("Acquire followed a symlinked lock file")
		}
		if _, err := os.Lstat(target); err == nil {
			t.Error("the link's target was created")
		}
	})
	t.Run("tenant dir writable by others", func(t *testing.T) {
		home := t.TempDir()
		dir := filepath.Join(home, LocksDir, "acme")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		_, err := Acquire(context.Background(), spec(home, "acme", "tap-x", "r"))
		if err == nil || !strings.Contains(err.Error(), "writable") {
			t.Fatalf("Acquire in a world-writable dir: %v", err)
		}
	})
	t.Run("lock file owned by someone else", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("chown needs root")
		}
		home := t.TempDir()
		dir := filepath.Join(home, LocksDir, "acme")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "tap-x.lock")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		_, err := Acquire(context.Background(), spec(home, "acme", "tap-x", "r"))
		if err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Fatalf("Acquire of a foreign lock file: %v", err)
		}
	})
	t.Run("bad names", func(t *testing.T) {
		home := t.TempDir()
		for _, k := range []Key{{"", "x"}, {"a", ""}, {"..", "x"}, {"a", "../x"}, {"a/b", "x"}} {
			if _, err := Acquire(context.Background(), spec(home, k.Tenant, k.Name, "r")); err == nil {
				t.Errorf("Acquire(%q, %q) accepted", k.Tenant, k.Name)
			}
		}
	})
}
