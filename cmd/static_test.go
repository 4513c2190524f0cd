package cmd

import (
	"debug/elf"
	"os"
	"strings"
	"testing"

	"syncbox/testdata/testenv"
)

// TestReleaseBinaryIsStatic holds `make build` to what the README promises:
// one binary that needs neither libseccomp nor the build machine's glibc on
// the host (no ELF interpreter, no needed shared libraries), and still
// filters syscalls (libseccomp linked in, not left out).
func TestReleaseBinaryIsStatic(t *testing.T) {
	if os.Getenv("SYNCBOX_BIN") == "" {
		t.Skip("checks the binary `make build` made (SYNCBOX_BIN)")
	}
	f, err := elf.Open(syncboxBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has an ELF interpreter: it is dynamically linked", syncboxBin)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil {
		t.Fatal(err)
	} else if len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", syncboxBin, libs)
	}

	testenv.RequireRoot(t)
	root := t.TempDir()
	out, errOut, code := runSB(t, root, "", "run", "-q", "--protocol", "raw", "--name", "static",
		"--", "/usr/bin/grep", "^Seccomp:", "/proc/self/status")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "Seccomp:\t2") {
		t.Errorf("the static binary's container is not seccomp-filtered: %q", out)
	}
}
