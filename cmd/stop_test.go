package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"syncbox/testdata/testenv"
)

// A connector without a SIGTERM handler (sh, python, most programs) is
// PID 1 of its pid namespace, where the kernel drops the signal: --timeout
// (and cron's SIGTERM) used to wait out the whole --stop-timeout while its
// records and checkpoints went on (10.9 s for a 2 s timeout, all 200
// records delivered). It stops at the timeout now, and the state file holds
// only what was confirmed before it.
func TestTimeoutStopsAConnectorWithoutASignalHandlerAtOnce(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	state := filepath.Join(t.TempDir(), "state.json")
	script := `i=0; while [ $i -lt 400 ]; do echo "{\"type\":\"RECORD\",\"stream\":\"s\",\"record\":{\"i\":$i}}"; echo "{\"type\":\"STATE\",\"value\":{\"i\":$i}}"; i=$((i+1)); sleep 0.05; done`
	t0 := time.Now()
	out, errOut, code := runSB(t, root, "", "run", "-q", "--timeout", "1s", "--stop-timeout", "15s", "--state-file", state, "--", "/bin/sh", "-c", script)
	took := time.Since(t0)
	if code != 4 {
		t.Fatalf("exit %d, want 4 (timed out); stderr %q", code, errOut)
	}
	// 15 s of grace would be the old behaviour; the run's own start-up and
	// teardown take well under a second.
	if took > 6*time.Second {
		t.Errorf("the stop took %v after a 1 s timeout: the connector was not stopped until the grace period ended", took)
	}
	if n := strings.Count(out, `"type":"RECORD"`); n >= 400 {
		t.Errorf("all %d records were delivered after the timeout", n)
	}
	b, err := os.ReadFile(state)
	if err != nil || !strings.HasPrefix(string(b), `{"i":`) {
		t.Errorf("state file: %q, %v", b, err)
	}
}
