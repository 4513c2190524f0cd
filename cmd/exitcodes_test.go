package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"syncbox/run/report"
)

// exitCodeMarkdown renders report's table as the README has it.
func exitCodeMarkdown() string {
	var b strings.Builder
	b.WriteString("| code | meaning |\n|---|---|\n")
	for _, e := range report.ExitCodes() {
		fmt.Fprintf(&b, "| %d | %s |\n", e.Code, e.Meaning)
	}
	return b.String()
}

// The exit table was written three times (report, run --help, README) and
// drifted; report's is the one source and the other two are held to it.
func TestExitTableInHelpAndREADMEIsReportsTable(t *testing.T) {
	out, errOut, code := runSB(t, t.TempDir(), "", "run", "--help")
	if code != 0 {
		t.Fatalf("run --help: exit %d: %s", code, errOut)
	}
	for _, e := range report.ExitCodes() {
		if row := fmt.Sprintf("   %-4d %s", e.Code, e.Meaning); !strings.Contains(out, row) {
			t.Errorf("run --help lacks the row %q", row)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := exitCodeMarkdown(); !strings.Contains(string(readme), want) {
		t.Errorf("README's exit code table is not report.ExitCodes(); it should read:\n%s", want)
	}
}
