package cmd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/urfave/cli/v2"

	"syncbox/limits/tenant"
	"syncbox/run"
)

// applyWith parses args with the tenant flags and runs applyTenant.
func applyWith(t *testing.T, home string, args ...string) (run.Options, func(), string, error) {
	t.Helper()
	var o run.Options
	var cleanup func()
	var applyErr error
	var stderr bytes.Buffer
	app := &cli.App{
		Name:      "t",
		ErrWriter: &stderr,
		Flags:     append(tenantFlags(), &cli.StringFlag{Name: "tenant", Value: "default"}),
		Action: func(c *cli.Context) error {
			cleanup, applyErr = applyTenant(c, &o, home)
			return nil
		},
	}
	if err := app.Run(append([]string{"t"}, args...)); err != nil {
		t.Fatal(err)
	}
	return o, cleanup, stderr.String(), applyErr
}

func TestApplyTenantSetsIdentitySecretsAndWorkdir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	home := t.TempDir()
	secret := filepath.Join(t.TempDir(), "token")
	os.WriteFile(secret, []byte("s3cret"), 0o600)
	o, cleanup, stderr, err := applyWith(t, home, "--tenant", "acme", "--secret", "db="+secret)
	if err != nil {
		t.Fatal(err)
	}
	uid := tenant.UID("acme")
	if o.UID != uid || o.GID != uid || o.SeccompUnconfined || o.RunID == "" {
		t.Errorf("options: uid %d gid %d unconfined %v run %q", o.UID, o.GID, o.SeccompUnconfined, o.RunID)
	}
	if len(o.Files) != 1 || o.Files[0].Destination != "/run/secrets/db" || string(o.Files[0].Content) != "s3cret" || o.Files[0].Mode != 0o400 {
		t.Errorf("secret file: %+v", o.Files)
	}
	// By default the workdir is a tmpfs in the container: nothing on the host.
	if o.Workdir != "" || o.WorkBytes != 1<<30 {
		t.Errorf("default workdir: host dir %q, tmpfs of %d bytes", o.Workdir, o.WorkBytes)
	}
	if _, err := os.Stat(tenant.WorkDir(home, "acme", o.RunID)); !os.IsNotExist(err) {
		t.Errorf("a host workdir was made: %v", err)
	}
	if strings.Contains(stderr, "s3cret") {
		t.Error("secret content on stderr")
	}
	cleanup()

	o, cleanup, _, err = applyWith(t, home, "--tenant", "acme", "--keep-workdir", "--seccomp", "unconfined")
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	if o.Workdir != tenant.WorkDir(home, "acme", o.RunID) || !o.KeepWorkdir {
		t.Errorf("--keep-workdir: workdir %q keep %v", o.Workdir, o.KeepWorkdir)
	}
	fi, err := os.Stat(o.Workdir)
	if err != nil || fi.Mode().Perm() != 0o700 || int(fi.Sys().(*syscall.Stat_t).Uid) != uid {
		t.Fatalf("--keep-workdir: %v %v", fi, err)
	}
	if !o.SeccompUnconfined {
		t.Error("--seccomp unconfined not applied")
	}
}

func TestApplyTenantUsageErrors(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{
		{"--tenant", "../etc"},
		{"--seccomp", "off"},
		{"--secret", "noequals"},
		{"--secret", "../x=/etc/hostname"},
		{"--secret", "a=/nonexistent/file"},
		{"--secret", "a=/etc/hostname", "--secret", "a=/etc/hostname"},
	} {
		_, _, stderr, err := applyWith(t, home, args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: %v (want a usage error)", args, err)
		}
		if strings.Contains(stderr, "warning") {
			t.Errorf("%v: warned before failing: %s", args, stderr)
		}
	}
	_, _, stderr, err := applyWith(t, home, "--seccomp", "unconfined")
	if os.Geteuid() == 0 && err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "warning: --seccomp=unconfined") {
		t.Errorf("no warning for unconfined: %q", stderr)
	}
}

func TestRefuseSymlink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "state.json")
	os.Symlink("/etc/shadow", link)
	if err := refuseSymlink("--state-file", link); err == nil {
		t.Error("symlinked state file accepted")
	}
	real := filepath.Join(dir, "real.json")
	os.WriteFile(real, []byte("{}"), 0o600)
	for _, p := range []string{real, filepath.Join(dir, "not-yet.json"), ""} {
		if err := refuseSymlink("--state-file", p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
