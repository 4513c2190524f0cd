// Package tenant maps a tenant to the host identity its connectors run as
// and lays out its private directories under the syncbox home.
//
// Containers have no user namespace, so the uid inside is the uid on the
// host. Each tenant gets its own unprivileged uid (and gid of the same
// number), derived from its id so every host agrees without coordination:
// a file one tenant writes with private permissions stays unreadable to
// another tenant's connector, even through a directory both can see.
//
// Layout under home (default /var/lib/syncbox):
//
//	tenants/                  root, 0711: tenant names are not listable
//	tenants/<id>/             the tenant's state, owned by its uid, 0700
//	tenants/<id>/work/<run>/  one run's private working directory, 0700
//	tenant-uids/<uid>         the tenant that claimed uid (collision guard)
package tenant

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Tenant uids are FirstUID + hash(id) mod UIDCount: [200000, 1248576).
// The range starts above the 100000-165535 block that useradd gives the
// first user in /etc/subuid, is far below 2^31 (some tools mishandle larger
// ids), and is never 0 nor 65534 (nobody, the default connector uid).
// Hosts that allocate subordinate ids inside it must move them.
//
// With n tenants the chance that two share a uid is about n²/2^21 (1000
// tenants: roughly even odds), which is why Prepare records each claim and
// refuses a second tenant on a taken uid instead of silently merging them.
const (
	FirstUID = 200000
	UIDCount = 1 << 20
)

// maxName bounds a name so paths and history keys stay reasonable.
const maxName = 128

// UID is the host uid (and gid) of tenant's connectors.
func UID(tenant string) int {
	h := fnv.New64a()
	h.Write([]byte(tenant))
	return FirstUID + int(h.Sum64()%UIDCount)
}

// Validate checks that a tenant, connector or secret name can become one
// path component: 1-128 letters, digits, '.', '_' or '-', and not "." or
// "..", so it cannot escape the directory it names.
func Validate(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > maxName {
		return fmt.Errorf("name %q: must be 1-%d letters, digits, '.', '_' or '-', and not a dot or two dots alone", name, maxName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("name %q: character %q not allowed (letters, digits, '.', '_' or '-')", name, r)
		}
	}
	return nil
}

// Dir is tenant's private state directory.
func Dir(home, tenant string) string { return filepath.Join(home, "tenants", tenant) }

// WorkDir is the private working directory of one run of tenant.
func WorkDir(home, tenant, runID string) string {
	return filepath.Join(Dir(home, tenant), "work", runID)
}

// Prepare creates tenant's state directory, owned by its uid with mode
// 0700, after claiming the uid for it. It returns the uid.
func Prepare(home, tenant string) (int, error) {
	if err := Validate(tenant); err != nil {
		return 0, fmt.Errorf("tenant: %w", err)
	}
	uid := UID(tenant)
	if err := claim(home, tenant, uid); err != nil {
		return 0, err
	}
	tenants := filepath.Join(home, "tenants")
	if err := os.MkdirAll(tenants, 0o711); err != nil {
		return 0, fmt.Errorf("tenant dirs: %w", err)
	}
	if err := ownedDir(Dir(home, tenant), uid, false); err != nil {
		return 0, err
	}
	if err := ownedDir(filepath.Join(Dir(home, tenant), "work"), uid, false); err != nil {
		return 0, err
	}
	return uid, nil
}

// NewWorkdir prepares the tenant and creates a fresh working directory for
// run runID, owned by the tenant's uid, mode 0700. A directory left by an
// earlier run with the same id is refused rather than reused: its content
// came from a connector and is not to be trusted by the next one.
func NewWorkdir(home, tenant, runID string) (dir string, uid int, err error) {
	if err := Validate(runID); err != nil {
		return "", 0, fmt.Errorf("run id: %w", err)
	}
	if uid, err = Prepare(home, tenant); err != nil {
		return "", 0, err
	}
	dir = WorkDir(home, tenant, runID)
	if err := ownedDir(dir, uid, true); err != nil {
		return "", 0, err
	}
	// The directories created here are checked not to be symlinks, so any
	// left in the path come from the operator's home (/var/lib -> /data):
	// resolve them, since containers only bind canonical paths.
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return "", 0, fmt.Errorf("tenant workdir: %w", err)
	}
	return dir, uid, nil
}

// ownedDir makes dir a real directory (never a symlink) owned by uid:uid
// with mode 0700. With fresh, an existing dir is an error.
func ownedDir(dir string, uid int, fresh bool) error {
	err := os.Mkdir(dir, 0o700)
	if err != nil && (fresh || !errors.Is(err, fs.ErrExist)) {
		return fmt.Errorf("tenant dir: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("tenant dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("tenant dir %s is not a directory (a symlink?): refusing to use it", dir)
	}
	if err := os.Lchown(dir, uid, uid); err != nil {
		return fmt.Errorf("tenant dir owner: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("tenant dir mode: %w", err)
	}
	return nil
}

// claim records that uid belongs to tenant, or fails if another tenant
// already holds it. The record is created exclusively, so two runners
// racing for one uid cannot both win.
func claim(home, tenant string, uid int) error {
	dir := filepath.Join(home, "tenant-uids")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tenant uid registry: %w", err)
	}
	p := filepath.Join(dir, fmt.Sprint(uid))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, werr := f.WriteString(tenant + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("tenant uid registry: %w", werr)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("tenant uid registry: %w", err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("tenant uid registry: %w", err)
	}
	// A racing claimer may not have written its name yet: an empty record
	// is not a conflict worth failing a run for.
	if owner := strings.TrimSpace(string(b)); owner != "" && owner != tenant {
		return fmt.Errorf("tenant %q hashes to uid %d, already used by tenant %q; rename one of them", tenant, uid, owner)
	}
	return nil
}
