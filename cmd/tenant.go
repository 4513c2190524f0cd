package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"syncbox/limits/tenant"
	"syncbox/run"
	"syncbox/run/container"
	"syncbox/run/report"
)

// SecretsDir is where --secret files appear inside the container.
const SecretsDir = "/run/secrets"

const tenantCategory = "Tenants and hardening"

// tenantFlags are the run flags that separate tenants and harden the
// sandbox; --tenant itself is declared with the run's identity flags.
func tenantFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "secret", Category: tenantCategory,
			Usage: "expose `NAME=FILE` read-only at " + SecretsDir + "/NAME to this run only, owned by its uid (repeatable; never in env, report or logs)"},
		&cli.BoolFlag{Name: "keep-workdir", Category: tenantCategory,
			Usage: "keep the run's private working directory (/run/syncbox/work) instead of removing it after the run"},
		&cli.StringFlag{Name: "seccomp", Value: "default", Category: tenantCategory,
			Usage: "syscall filter: `default` (an allowlist like Docker's) or unconfined (not recommended)"},
	}
}

// applyTenant fills the run's identity from its tenant: the tenant's uid
// and gid, its secrets, a fresh private working directory under home and
// the seccomp choice. It sets o.RunID if empty, since the working
// directory is named after it. The returned cleanup removes the working
// directory (unless --keep-workdir); call it after the run, also on error.
func applyTenant(c *cli.Context, o *run.Options, home string) (cleanup func(), err error) {
	cleanup = func() {}
	if o.Tenant == "" {
		o.Tenant = c.String("tenant")
	}
	if err := tenant.Validate(o.Tenant); err != nil {
		return cleanup, usageError("--tenant: %v", err)
	}
	switch s := c.String("seccomp"); s {
	case "default":
	case "unconfined":
		o.SeccompUnconfined = true
		fmt.Fprintln(c.App.ErrWriter, "syncbox: warning: --seccomp=unconfined: the connector runs without a syscall filter; "+
			"only the dropped capabilities and namespaces stand between it and the kernel")
	default:
		return cleanup, usageError("--seccomp %q: want default or unconfined", s)
	}
	secrets, err := readSecrets(c.StringSlice("secret"))
	if err != nil {
		return cleanup, err
	}
	o.Files = append(o.Files, secrets...)

	if o.RunID == "" {
		o.RunID = run.NewRunID()
	}
	dir, uid, err := tenant.NewWorkdir(home, o.Tenant, o.RunID)
	if err != nil {
		return cleanup, &exitError{code: report.ExitSetupFailed, msg: fmt.Sprintf("tenant %s: %v", o.Tenant, err)}
	}
	o.UID, o.GID, o.Workdir = uid, uid, dir
	o.KeepWorkdir = c.Bool("keep-workdir")
	stderr := c.App.ErrWriter
	if c.Bool("keep-workdir") {
		return func() { fmt.Fprintf(stderr, "syncbox: kept working directory %s\n", dir) }, nil
	}
	return func() {
		// RemoveAll does not follow the symlinks a connector may leave.
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(stderr, "syncbox: remove working directory: %v\n", err)
		}
	}, nil
}

// readSecrets reads each NAME=FILE into a file bound at SecretsDir/NAME.
// Errors name the flag and the path, never the content. FILE may be a
// symlink (Kubernetes secret volumes are built from them): the operator
// names it explicitly, unlike a path a tenant could have planted.
func readSecrets(specs []string) ([]container.File, error) {
	var files []container.File
	seen := map[string]bool{}
	for _, spec := range specs {
		name, path, ok := strings.Cut(spec, "=")
		if !ok || path == "" {
			return nil, usageError("--secret %q: want NAME=FILE", spec)
		}
		if err := tenant.Validate(name); err != nil {
			return nil, usageError("--secret: %v", err)
		}
		if seen[name] {
			return nil, usageError("--secret %s given twice", name)
		}
		seen[name] = true
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, usageError("--secret %s: %v", name, err)
		}
		files = append(files, container.File{Destination: filepath.Join(SecretsDir, name), Content: b, Mode: 0o400})
	}
	return files, nil
}

// refuseSymlink rejects a path whose last component is a symlink. The
// runner reads such files as root (--state-file, --config) and hands the
// content to the connector; a link planted where a tenant can write would
// otherwise leak any host file into its container.
func refuseSymlink(flag, path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Lstat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil // a state file may not exist yet
		}
		return usageError("%s: %v", flag, err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return usageError("%s %s is a symlink: give the real file (symlinks are refused so a planted link cannot leak a host file)", flag, path)
	}
	return nil
}
