package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"syncbox/limits/tenant"
	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

// The attack from issue 12: links planted where a tenant can write, at
// every path the root runner reads or writes for a run. None may make
// root read another file for the tenant or write into one.
func TestEscapePlantedLinksAtInputAndOutputPaths(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	uid := tenant.UID("default")
	private := t.TempDir() // root's, 0700
	victim := filepath.Join(private, "bashrc")
	os.WriteFile(victim, []byte("# root's shell rc\n"), 0o644)
	secret := filepath.Join(private, "shadow")
	os.WriteFile(secret, []byte("root secret\n"), 0o600)

	out := filepath.Join(t.TempDir(), "out") // the tenant's directory
	os.Mkdir(out, 0o755)
	os.Chown(out, uid, uid)
	plant := func(name, target string) string {
		p := filepath.Join(out, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		os.Lchown(p, uid, uid)
		return p
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"flags file", []string{"--flags-file", plant("flags.jsonl", victim)}},
		{"config", []string{"--config", plant("config.json", secret)}},
		{"secret", []string{"--secret", "db=" + plant("token", secret)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			proto := "raw" // --flags-file needs a scanned stream
			if c.name == "flags file" {
				proto = "auto"
			}
			args := append(append([]string{"run", "--protocol", proto}, c.args...), "--", "/bin/cat", "/run/syncbox/config.json", "/run/secrets/db")
			stdout, stderr, code := runSB(t, root, "", args...)
			if code != 2 || !strings.Contains(stderr, "symlink") {
				t.Errorf("exit %d, stderr %q: want a usage error about the symlink", code, stderr)
			}
			if strings.Contains(stdout, "root secret") {
				t.Errorf("root read the secret for the tenant: %q", stdout)
			}
		})
	}

	// Outputs written by replacing: the link is replaced, never followed;
	// a linked parent directory is refused.
	report, metrics := plant("report.json", victim), plant("metrics.prom", victim)
	plant("sub", private)
	_, stderr, code := runSB(t, root, "", "run", "-q", "--report", report, "--metrics-file", metrics, "--", "/bin/true")
	if code != 0 {
		t.Errorf("run with planted report links: exit %d: %s", code, stderr)
	}
	for _, p := range []string{report, metrics} {
		if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: %v %v, want the runner's own regular file", p, fi, err)
		}
	}
	_, stderr, _ = runSB(t, root, "", "run", "-q", "--report", filepath.Join(out, "sub", "report.json"), "--", "/bin/true")
	if _, err := os.Lstat(filepath.Join(private, "report.json")); err == nil {
		t.Errorf("the report went through a planted directory link into %s", private)
	}
	if !strings.Contains(stderr, "symlink") {
		t.Errorf("no error about the linked report directory: %q", stderr)
	}
	if b, _ := os.ReadFile(victim); string(b) != "# root's shell rc\n" {
		t.Errorf("the victim file changed: %q", b)
	}
}

// The state file by the path rule too: a tenant's link in its directory
// path must not make root read (and hand the tenant) a root-only file, nor
// write the checkpoint through it.
func TestEscapePlantedLinkAboveTheStateFile(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	uid := tenant.UID("default")
	private := t.TempDir()
	os.WriteFile(filepath.Join(private, "state.json"), []byte(`{"secret":"root only"}`), 0o600)
	link := filepath.Join(testenv.TenantDir(t, uid), "dir")
	testenv.PlantLink(t, private, link, uid)
	stdout, stderr, code := runSB(t, root, "", "run", "--memory", "64MiB", "--state-file", filepath.Join(link, "state.json"), "--",
		"/bin/cat", "/run/syncbox/state.json")
	if code == 0 || strings.Contains(stdout, "root only") {
		t.Fatalf("exit %d, stdout %q, stderr %q: root read a file through the tenant's link", code, stdout, stderr)
	}
}

// A bind source through a link in a directory the tenant can write is a
// bad argument, refused before anything starts like every other flag's:
// it used to fail the container's start (exit 6, "could not be started
// ... syncbox doctor checks this host", and for --target-bind under the
// tap's name), pointing at the host instead of the flag.
func TestBindSourceThroughATenantsLinkIsAUsageError(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o777) // past the umask: anyone may write, no sticky bit
	link := filepath.Join(shared, "data")
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	rep := filepath.Join(t.TempDir(), "r.json")
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"--bind", []string{"--bind", link + ":/data", "--", "/bin/ls", "/data"}},
		{"--target-bind", []string{"--target-name", "sink", "--target-bind", link + ":/data", "--target", "/bin/cat", "--", "/bin/true"}},
	} {
		args := append([]string{"run", "-q", "--name", "src", "--memory", "64MiB", "--report", rep}, c.args...)
		_, errOut, code := runSB(t, root, "", args...)
		if code != 2 || !strings.Contains(errOut, c.flag+" ") || !strings.Contains(errOut, link) ||
			!strings.Contains(errOut, "others can write") || strings.Contains(errOut, "could not be started") || strings.Contains(errOut, "doctor") {
			t.Errorf("%s through a tenant's link: exit %d, stderr %q; want exit 2 naming %s, the link and why", c.flag, code, errOut, c.flag)
		}
		if r := readReport(t, rep); r.Outcome != report.UsageError {
			t.Errorf("%s: report outcome %s, want usage_error", c.flag, r.Outcome)
		}
	}
}
