package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"syncbox/limits/tenant"
	"syncbox/testdata/testenv"
)

// --env-file is read by the root runner and its content becomes the
// tenant's environment: a link the tenant planted must not make root read
// another tenant's (or root's) file for it, and a FIFO must not hang the
// runner before anything started.
func TestEscapePlantedLinkOrFIFOAtTheEnvFile(t *testing.T) {
	testenv.RequireRoot(t)
	uid := tenant.UID("default")
	private := t.TempDir() // root's, 0700
	secret := filepath.Join(private, "other.env")
	os.WriteFile(secret, []byte("DB_PASSWORD=other-tenant-secret\n"), 0o600)
	out := testenv.TenantDir(t, uid)
	link := filepath.Join(out, "tap.env")
	testenv.PlantLink(t, secret, link, uid)
	// --target-env-file goes through the same buildEnv.
	env, err := buildEnv(nil, []string{link}, os.LookupEnv)
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("--env-file through the tenant's link: env %q, err %v: want an error about the symlink", env, err)
	}
	if strings.Contains(strings.Join(env, " "), "other-tenant-secret") {
		t.Errorf("root read the other tenant's file for this one: %q", env)
	}

	fifo := filepath.Join(out, "fifo.env")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Lchown(fifo, uid, uid)
	done := make(chan error, 1)
	go func() { _, err := buildEnv(nil, []string{fifo}, os.LookupEnv); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("a FIFO as --env-file was accepted")
		}
	case <-time.After(5 * time.Second):
		// Unblock the open so the goroutine ends with the test.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Errorf("--env-file on a FIFO the tenant planted hangs the runner")
	}
}
