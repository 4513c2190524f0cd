package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

// Connector stderr beyond --stderr-cap is dropped and counted in the report.
func TestStderrBeyondTheCapIsCountedInTheReport(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	rp := filepath.Join(t.TempDir(), "report.json")
	_, errOut, code := runSB(t, root, "", "run", "--protocol", "raw", "--quiet", "--stderr-cap", "1KiB", "--report", rp,
		"--", "/bin/sh", "-c", "yes 'noise from the connector' | head -c 100000 >&2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(errOut, "noise from the connector"); n > 1024/25+1 || n == 0 {
		t.Errorf("%d noise lines reached stderr through a 1 KiB cap", n)
	}
	b, err := os.ReadFile(rp)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if got := rep.ConnectorStderr; got.CopiedBytes != 1024 || got.DroppedBytes != 100000-1024 {
		t.Errorf("report connector_stderr %+v, want 1024 copied and %d dropped", got, 100000-1024)
	}
}
