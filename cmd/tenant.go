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
	"syncbox/run/hostfs"
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
		&cli.StringFlag{Name: "work-size", Value: "1GiB", Category: tenantCategory,
			Usage: "`SIZE` of the run's private working directory (/run/syncbox/work), a tmpfs with one inode per 16 KiB; counts against --memory"},
		&cli.BoolFlag{Name: "keep-workdir", Category: tenantCategory,
			Usage: "make the working directory a host directory under the tenant's home and keep it after the run (no --work-size limit)"},
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
	if o.WorkBytes, err = sizeFlag(c, "work-size"); err != nil {
		return cleanup, err
	}
	if o.WorkBytes < 1<<20 {
		return cleanup, usageError("--work-size %q: must be at least 1MiB", c.String("work-size"))
	}
	if !c.Bool("keep-workdir") {
		// The default: a tmpfs inside the container, sized by the kernel
		// and gone with it. Only the tenant's uid and state dir are needed.
		uid, err := tenant.Prepare(home, o.Tenant)
		if err != nil {
			return cleanup, &exitError{code: report.ExitSetupFailed, msg: fmt.Sprintf("tenant %s: %v", o.Tenant, err)}
		}
		o.UID, o.GID = uid, uid
		return cleanup, nil
	}
	dir, uid, err := tenant.NewWorkdir(home, o.Tenant, o.RunID)
	if err != nil {
		return cleanup, &exitError{code: report.ExitSetupFailed, msg: fmt.Sprintf("tenant %s: %v", o.Tenant, err)}
	}
	o.UID, o.GID, o.Workdir = uid, uid, dir
	o.KeepWorkdir = true
	stderr := c.App.ErrWriter
	return func() { fmt.Fprintf(stderr, "syncbox: kept working directory %s\n", dir) }, nil
}

// maxSecret bounds a secret file read into memory.
const maxSecret = 16 << 20

// readSecrets reads each NAME=FILE into a file bound at SecretsDir/NAME.
// Errors name the flag and the path, never the content. FILE is opened by
// hostfs's path rule: root's own symlinks (Kubernetes secret volumes are
// built from them) are followed, a link a tenant could have planted is not.
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
		b, err := hostfs.ReadFile(path, maxSecret)
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
