// Package testenv is what syncbox's tests need from their machine: root
// (containers and cgroups), and the test connectors `make build` puts in
// bin/. One place, so every package skips or fails the same way.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// RequireRoot skips a test that needs root, except in CI (CI=true runs as
// root), where a missing privilege is a failure, never a silent skip.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("container tests must run as root in CI")
	}
	t.Skip("needs root")
}

// Connector returns the absolute path of a test connector built by
// `make build`: $SYNCBOX_CONNECTORS/name, else bin/name in this checkout.
func Connector(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("SYNCBOX_CONNECTORS")
	if dir == "" {
		_, self, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(self), "..", "..", "bin")
	}
	p, err := filepath.Abs(filepath.Join(dir, name))
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("connector %s not built: %v", name, err)
		}
		t.Skipf("connector %s not built (run make build): %v", name, err)
	}
	return p
}

// Median of ds (not sorted in place): benchmarks report medians because a
// 2-core VM's outliers say more about the VM than about the code.
func Median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// RequireDisk skips a test that needs more free space in dir than there
// is, saying how much it needed and found: a full disk is a property of
// the machine, not a defect of the code under test.
func RequireDisk(t testing.TB, dir string, need int64) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return // cannot tell: let the test try
	}
	if free := int64(st.Bavail) * st.Bsize; free < need {
		t.Skipf("needs %d MiB free in %s, has %d MiB", need>>20, dir, free>>20)
	}
}

// RequireFile skips a test whose third-party program or file at path is
// absent, naming the Debian package that provides it, except in CI (where
// .ci/deps installs it): there a missing dependency is a failure.
func RequireFile(t testing.TB, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s missing: install %s (.ci/deps test)", path, pkg)
	}
	t.Skipf("%s missing: install %s", path, pkg)
}

// TenantDir makes a directory owned by uid: a path the tenant can write,
// where attacks plant links.
func TenantDir(t testing.TB, uid int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tenant")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// PlantLink makes a symlink at link pointing to target, owned by uid, as
// a tenant would plant it.
func PlantLink(t testing.TB, target, link string, uid int) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, uid, uid); err != nil {
		t.Fatal(err)
	}
}
