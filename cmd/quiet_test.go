package cmd

import (
	"strings"
	"testing"

	"syncbox/testdata/testenv"
)

// -q is for cron: silence on success, and on failure one line that says what
// happened and the one thing to do. It used to keep only "OOM-killed at its
// limit" and drop the "rerun with --memory ..." that fixes it.
func TestQuietKeepsOneActionableLineOnFailure(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	syncboxLines := func(stderr string) []string {
		var out []string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(l, "syncbox:") {
				out = append(out, l)
			}
		}
		return out
	}
	_, errOut, code := runSB(t, root, "", "run", "-q", "--memory", "32MiB", "--", testenv.Connector(t, "memhog"), "-mib", "100", "-step-mib", "4", "-delay", "1ms")
	lines := syncboxLines(errOut)
	if code != 3 || len(lines) != 1 || !strings.Contains(lines[0], "OOM-killed") || !strings.Contains(lines[0], "rerun with at least --memory ") {
		t.Errorf("OOM under -q: exit %d, lines %q; want exit 3 and one line with the --memory to rerun with", code, lines)
	}
	_, errOut, code = runSB(t, root, "", "run", "-q", "--", "/bin/sh", "-c", `echo '{"type":"RECORD","stream":"a","record":{}}'; exit 9`)
	if lines := syncboxLines(errOut); code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "exited with code 9") {
		t.Errorf("failure under -q: exit %d, lines %q", code, lines)
	}
	// The scanner's line warnings ("empty stream", bad lines) are in the
	// report and the flags file; under -q they printed on every run of a
	// connector that writes nothing, and cron mails any output.
	_, errOut, code = runSB(t, root, "", "run", "-q", "--", "/bin/false")
	if lines := syncboxLines(errOut); code != 1 || len(lines) != 1 {
		t.Errorf("empty failure under -q: exit %d, lines %q; want one", code, lines)
	}
	for _, proto := range []string{"raw", "auto"} {
		_, errOut, code = runSB(t, root, "", "run", "-q", "--protocol", proto, "--", "/bin/true")
		if code != 0 || errOut != "" {
			t.Errorf("success under -q (%s): exit %d, stderr %q; want silence", proto, code, errOut)
		}
	}
}
