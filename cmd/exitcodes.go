package cmd

import (
	"fmt"
	"strings"

	"syncbox/run/report"
)

// exitCodeHelp renders report's exit code table for `run --help`.
func exitCodeHelp() string {
	var b strings.Builder
	b.WriteString("Exit codes:")
	for _, e := range report.ExitCodes() {
		fmt.Fprintf(&b, "\n   %-4d %s", e.Code, e.Meaning)
	}
	return b.String()
}
