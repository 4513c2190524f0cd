package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"syncbox/limits/tenant"
	"syncbox/testdata/testenv"
)

// swapper is the script of a tenant's run that keeps exchanging its
// export directory with a symlink to target (a host path), as fast as it
// can, with renameat2(RENAME_EXCHANGE).
const swapper = `import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
os.symlink(sys.argv[1], "/t/evil")
print("swapping", flush=True)
a, b = b"/t/export", b"/t/evil"
while True:
    libc.syscall(316, -100, a, -100, b, 2)  # renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
`

// The attack from issue 12: a run binds T/export while a concurrent run
// of the same tenant, which can write T, swaps export with a link to a
// root-only host directory. Validation and libcontainer's mount each
// resolved the path: the swap in between mounted the target. Now the
// source is opened once and mounted from the descriptor, and a tenant's
// link is refused: every run sees the real export or fails to start.
// ("caught" counts runs whose mount libcontainer did redirect: each of
// those ran the connector with the root-only directory before.)
func TestEscapeBindSourceSwapRaceNeverLeaks(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	uid := tenant.UID("escape-a")
	secret := t.TempDir() // root's, 0700
	os.WriteFile(filepath.Join(secret, "secret"), []byte("root only"), 0o600)
	shared := filepath.Join(t.TempDir(), "t")
	os.Mkdir(shared, 0o755)
	os.Mkdir(filepath.Join(shared, "export"), 0o755)
	os.WriteFile(filepath.Join(shared, "export", "data"), []byte("tenant data"), 0o644)
	for _, p := range []string{shared, filepath.Join(shared, "export"), filepath.Join(shared, "export", "data")} {
		os.Chown(p, uid, uid)
	}

	swap, err := Start(Paths{Root: root}, Spec{ID: fmt.Sprintf("swap%d", os.Getpid()), UID: uid,
		Env:   []string{"PATH=" + DefaultPath},
		Binds: []Bind{{Source: shared, Destination: "/t", Writable: true}},
		Args:  []string{"/usr/bin/python3", "-c", swapper, secret}}, IO{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { swap.Kill(); swap.Wait(); swap.Destroy() })
	line := make([]byte, 9)
	if _, err := swap.Stdout.Read(line); err != nil || string(line) != "swapping\n" {
		t.Fatalf("swapper did not start: %q %v", line, err)
	}

	const runs = 100
	var leaks, clean, refused, caught int
	other := map[string]int{}
	for i := 0; i < runs; i++ {
		id := fmt.Sprintf("race%d-%d", os.Getpid(), i)
		c, err := Start(Paths{Root: root}, Spec{ID: id, UID: uid, Env: []string{"PATH=" + DefaultPath},
			Binds: []Bind{{Source: filepath.Join(shared, "export"), Destination: "/data", Writable: true}},
			Args:  []string{"/bin/sh", "-c", "if test -e /data/secret; then echo LEAK; elif test -e /data/data; then echo clean; else echo other; fi"}},
			IO{})
		if err != nil {
			switch {
			case strings.Contains(err.Error(), "changed while it was being mounted"):
				caught++ // libcontainer mounted the swapped path: stopped before exec
			case strings.Contains(err.Error(), "symlink"):
				refused++
			default:
				other[err.Error()]++
			}
			assertGone(t, root, id)
			continue
		}
		out := make([]byte, 64)
		n, _ := c.Stdout.Read(out)
		c.Wait()
		c.Destroy()
		switch strings.TrimSpace(string(out[:n])) {
		case "LEAK":
			leaks++
		case "clean":
			clean++
		default:
			other[string(out[:n])]++
		}
	}
	t.Logf("%d runs: %d saw the real export, %d refused the tenant's link at resolution, "+
		"%d caught a redirected mount before exec, %d leaked, other: %v", runs, clean, refused, caught, leaks, other)
	if leaks > 0 {
		t.Errorf("%d of %d runs mounted the root-only directory", leaks, runs)
	}
	if refused == 0 || clean == 0 {
		t.Errorf("the race was not exercised (clean %d, refused %d): the test proves nothing", clean, refused)
	}
	if len(other) > 0 {
		t.Errorf("unexpected outcomes: %v", other)
	}
	if _, err := os.Stat(filepath.Join(secret, "secret")); err != nil {
		t.Errorf("the secret was touched: %v", err)
	}
}
