package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

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
