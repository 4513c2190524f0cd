package tenant

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestUIDIsStableInRangeAndNeverPrivileged(t *testing.T) {
	// Pinned: a changed derivation would orphan every tenant's files.
	if UID("acme") != 650063 || UID("default") != 250686 {
		t.Fatalf("uid derivation changed: acme %d, default %d", UID("acme"), UID("default"))
	}
	if UID("acme") == UID("globex") {
		t.Errorf("two everyday tenants share uid %d", UID("acme"))
	}
	for i := range 10000 {
		u := UID(fmt.Sprintf("tenant-%d", i))
		if u < FirstUID || u >= FirstUID+UIDCount || u == 0 || u == 65534 {
			t.Fatalf("uid %d out of range", u)
		}
	}
	// Pinned: a change of hash would move every tenant's files' owner.
	if got := UID("default"); got != FirstUID+int(fnv64a("default")%UIDCount) {
		t.Errorf("UID(default) = %d", got)
	}
}

func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func TestValidateRefusesPathEscapes(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "../x", "a/b", "/abs", "a\x00b", "a b", "é", strings.Repeat("a", 129)} {
		if err := Validate(bad); err == nil {
			t.Errorf("Validate(%q) accepted", bad)
		}
	}
	for _, good := range []string{"default", "acme-prod", "a.b_c", "..x", "X9"} {
		if err := Validate(good); err != nil {
			t.Errorf("Validate(%q): %v", good, err)
		}
	}
}

func TestPrepareMakesOwnerOnlyDirsAndRefusesSymlinks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	home := t.TempDir()
	dir, uid, err := NewWorkdir(home, "acme", "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(home, "tenants", "acme", "work", "run-1") || uid != UID("acme") {
		t.Fatalf("dir %s uid %d", dir, uid)
	}
	for _, d := range []string{Dir(home, "acme"), filepath.Dir(dir), dir} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != 0o700 || int(st.Uid) != uid || int(st.Gid) != uid {
			t.Errorf("%s: mode %v owner %d:%d, want 0700 %d:%d", d, fi.Mode().Perm(), st.Uid, st.Gid, uid, uid)
		}
	}
	if _, _, err := NewWorkdir(home, "acme", "run-1"); err == nil {
		t.Error("an existing workdir was reused")
	}
	// A planted symlink in place of a tenant dir is refused, not followed.
	os.Symlink("/etc", Dir(home, "evil"))
	if _, err := Prepare(home, "evil"); err == nil {
		t.Error("a symlinked tenant dir was accepted")
	}
	if fi, _ := os.Stat("/etc"); fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Fatal("/etc changed owner")
	}
	// A home reached through a symlink yields the canonical workdir path.
	linked := filepath.Join(t.TempDir(), "home-link")
	os.Symlink(home, linked)
	dir, _, err = NewWorkdir(linked, "acme", "run-2")
	if err != nil || dir != filepath.Join(home, "tenants", "acme", "work", "run-2") {
		t.Errorf("workdir via linked home: %s %v", dir, err)
	}
}

func TestPrepareRefusesATenantOnAnotherTenantsUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	// Birthday search for two names that collide: ~1300 names on average.
	seen := map[int]string{}
	var a, b string
	for i := 0; a == ""; i++ {
		n := fmt.Sprintf("t%d", i)
		if prev, ok := seen[UID(n)]; ok {
			a, b = prev, n
		}
		seen[UID(n)] = n
	}
	home := t.TempDir()
	if _, err := Prepare(home, a); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(home, a); err != nil {
		t.Fatalf("second prepare of the same tenant: %v", err)
	}
	_, err := Prepare(home, b)
	if err == nil || !strings.Contains(err.Error(), "already used by tenant") {
		t.Fatalf("collision of %s and %s not refused: %v", a, b, err)
	}
}
