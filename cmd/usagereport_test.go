package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

// A cron job or CI step reads --report and --metrics-file after every run:
// a run refused for a bad flag must replace them, or the last success
// stands as this run's. Flags the parser rejects (a bad duration, a typo)
// used to leave both files alone; only value errors replaced the report,
// and none the metrics.
func TestEveryUsageErrorReplacesTheLastReportAndMetrics(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	dir := t.TempDir()
	rep, prom := filepath.Join(dir, "ur.json"), filepath.Join(dir, "ur.prom")
	base := []string{"run", "-q", "--memory", "256MiB", "--name", "ur", "--report", rep, "--metrics-file", prom}
	with := func(extra ...string) []string {
		return append(append(append([]string{}, base...), extra...), "--", "/bin/true")
	}
	succeed := func() string {
		t.Helper()
		if _, errOut, code := runSB(t, root, "", with()...); code != 0 {
			t.Fatalf("good run: exit %d, stderr %q", code, errOut)
		}
		r := readReport(t, rep)
		if r.Outcome != report.Succeeded {
			t.Fatalf("good run: outcome %s", r.Outcome)
		}
		return r.RunID
	}
	cases := map[string][]string{
		"bad duration":        {"--timeout", "5"},
		"misspelled flag":     {"--memroy", "1GiB"},
		"bad bool":            {"--strict=maybe"},
		"value error":         {"--memory", "2G"},
		"report=":             {"--report=" + rep, "--timeout", "5"},
		"flag needs argument": {"--timeout"},
	}
	for what, extra := range cases {
		old := succeed()
		_, errOut, code := runSB(t, root, "", with(extra...)...)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2 (stderr %q)", what, code, errOut)
			continue
		}
		r := readReport(t, rep)
		if r.Outcome != report.UsageError || r.ExitCode != 2 || r.RunID == "" || r.RunID == old || r.Name != "ur" || r.Tenant != "default" || r.Error == "" {
			t.Errorf("%s: report outcome %s exit %d run_id %q (last run %q) name %q tenant %q error %q; want this run's usage_error",
				what, r.Outcome, r.ExitCode, r.RunID, old, r.Name, r.Tenant, r.Error)
		}
		m, _ := os.ReadFile(prom)
		if !strings.Contains(string(m), `syncbox_run_outcome{name="ur",outcome="usage_error",tenant="default"} 1`) ||
			!strings.Contains(string(m), `syncbox_run_success{name="ur",tenant="default"} 0`) {
			t.Errorf("%s: metrics still say the last run's:\n%s", what, m)
		}
	}
}

// The report flags are read from syncbox's own flags only: a connector's
// own --report after -- is its business, never a file syncbox writes.
// A --report that is itself malformed is only a message.
func TestUsageErrorReportOnlyFromSyncboxFlags(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	dir := t.TempDir()
	theirs := filepath.Join(dir, "theirs.json")
	_, errOut, code := runSB(t, root, "", "run", "--timeout", "5", "--name", "ur", "--", "/bin/echo", "--report", theirs, "--metrics-file", theirs)
	if code != 2 {
		t.Errorf("exit %d, want 2 (stderr %q)", code, errOut)
	}
	if _, err := os.Stat(theirs); err == nil {
		t.Errorf("syncbox wrote %s, the connector's --report", theirs)
	}
	_, errOut, code = runSB(t, root, "", "run", "--name", "ur", "--report")
	if code != 2 || strings.Count(errOut, "syncbox:") != 1 || !strings.Contains(errOut, "--report needs a value") {
		t.Errorf("--report without a value: exit %d, stderr %q; want exit 2 and one line", code, errOut)
	}
}
