package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

func readReport(t *testing.T, path string) *report.Report {
	t.Helper()
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	return r
}

func TestOOMGivesExit3AndADiagnosisAPersonCanActOn(t *testing.T) {
	testenv.RequireRoot(t)
	for _, child := range []bool{false, true} {
		t.Run(fmt.Sprintf("child=%v", child), func(t *testing.T) {
			root := t.TempDir()
			rep, state := filepath.Join(root, "report.json"), filepath.Join(root, "state.json")
			args := []string{"run", "--memory", "128MiB", "--report", rep, "--state-file", state, "--", testenv.Connector(t, "memhog"),
				"-mib", "600", "-step-mib", "4", "-delay", "15ms", "-stream", "orders"}
			if child {
				args = append(args, "-child")
			}
			_, errOut, code := runSB(t, root, "", args...)
			if code != 3 {
				t.Fatalf("exit %d, want 3; stderr:\n%s", code, errOut)
			}
			r := readReport(t, rep)
			if r.Outcome != report.OOMKilled || r.ExitCode != 3 || r.Memory.OOMKills < 1 {
				t.Errorf("outcome %s exit %d oom_kills %d", r.Outcome, r.ExitCode, r.Memory.OOMKills)
			}
			if lim := r.Memory.LimitBytes; lim != 128<<20 || float64(r.Memory.PeakBytes) < 0.85*float64(lim) {
				t.Errorf("peak %d of limit %d: want at least 85%%", r.Memory.PeakBytes, lim)
			}
			if len(r.Memory.Timeline) < 3 {
				t.Errorf("timeline has %d points", len(r.Memory.Timeline))
			}
			o := r.OOM
			if o == nil {
				t.Fatal("no oom diagnosis")
			}
			if o.Stream != "orders" || o.RecommendedLimitBytes <= r.Memory.LimitBytes || o.Explanation == "" {
				t.Errorf("diagnosis: %+v", o)
			}
			if !strings.Contains(o.Explanation, "orders") || !strings.Contains(errOut, "--memory") {
				t.Errorf("explanation %q / stderr %q should name the stream and the flag to change", o.Explanation, errOut)
			}
			// The state file holds the last STATE the connector printed.
			b, _ := os.ReadFile(state)
			if !json.Valid(b) || !strings.Contains(string(b), `"orders":{"n":`) || !sameJSON(r.State.Last, b) {
				t.Errorf("state file %q, report state %s", b, r.State.Last)
			}
		})
	}
}

func TestExitCodesAndOutcomesInTheReport(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	rep := filepath.Join(root, "r.json")
	metrics := filepath.Join(root, "m.prom")
	if _, _, code := runSB(t, root, "", "run", "--memory", "64MiB", "--report", rep, "--metrics-file", metrics, "--", "/bin/sh", "-c", "exit 9"); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	r := readReport(t, rep)
	if r.Outcome != report.Failed || r.ConnectorExitCode == nil || *r.ConnectorExitCode != 9 {
		t.Errorf("report: outcome %s connector_exit_code %v", r.Outcome, r.ConnectorExitCode)
	}
	m, _ := os.ReadFile(metrics)
	if !strings.Contains(string(m), `syncbox_run_outcome{name="sh",outcome="failed",tenant="default"} 1`) {
		t.Errorf("metrics:\n%s", m)
	}

	cmd, _, _ := startRun(t, root, fmt.Sprintf("rep-term-%d", os.Getpid()), "--report", rep, "--stop-timeout", "300ms", "--", "/bin/sh", "-c", "echo ready; exec sleep 60")
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitOf(t, cmd); code != 143 {
		t.Errorf("SIGTERM: exit %d", code)
	}
	if r := readReport(t, rep); r.Outcome != report.Interrupted || r.ExitCode != 143 || r.ConnectorSignal != "SIGKILL" {
		t.Errorf("SIGTERM report: outcome %s exit %d signal %q", r.Outcome, r.ExitCode, r.ConnectorSignal)
	}
	if _, _, code := runSB(t, root, "", "run", "--memory", "64MiB", "--timeout", "200ms", "--stop-timeout", "100ms", "--report", rep, "--", "/bin/sleep", "30"); code != 4 {
		t.Errorf("timeout: exit %d", code)
	}
	if r := readReport(t, rep); r.Outcome != report.TimedOut {
		t.Errorf("timeout report: outcome %s", r.Outcome)
	}
}

// A STATE must never be persisted before the records that precede it were
// written downstream: sample the state file and the output file together
// while a slow connector runs, then crash it mid-line.
func TestStateFileNeverRunsAheadOfDeliveredRecords(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	state, outPath := filepath.Join(root, "state.json"), filepath.Join(root, "out.jsonl")
	script := `i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo "{\"type\":\"RECORD\",\"stream\":\"s\",\"record\":{\"n\":$i}}";
if [ $((i % 10)) -eq 0 ]; then echo "{\"type\":\"STATE\",\"value\":{\"n\":$i}}"; sleep 0.01; fi; done
printf '{"type":"RECORD","stream":"s","record":{"n":401'; exit 3`
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := sb(t, root, "run", "--memory", "64MiB", "--state-file", state, "--", "/bin/sh", "-c", script)
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	checks := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(5 * time.Millisecond):
		}
		// State first, then output: records the state covers must be there.
		var st struct{ N int }
		b, err := os.ReadFile(state)
		if err != nil {
			continue
		}
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("state file not valid JSON (torn write?): %q", b)
		}
		if got := maxRecord(t, outPath); got < st.N {
			t.Fatalf("state says %d but only records up to %d were delivered", st.N, got)
		}
		checks++
	}
	if checks < 10 {
		t.Errorf("only %d samples: the test proved little", checks)
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("connector crash: exit %d, want 1", code)
	}
	if b, _ := os.ReadFile(state); strings.TrimSpace(string(b)) != `{"n":400}` {
		t.Errorf("state after crash %q, want the last STATE {\"n\":400}", b)
	}
	if maxRecord(t, outPath) != 400 {
		t.Errorf("the truncated last line must not be forwarded as a record")
	}
}

func maxRecord(t *testing.T, path string) int {
	b, _ := os.ReadFile(path)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		var m struct {
			Type   string
			Record struct{ N int }
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Type == "RECORD" && m.Record.N > n {
			n = m.Record.N
		}
	}
	return n
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// A second SIGTERM while the connector ignores the first kills it at once
// instead of waiting out --stop-timeout.
func TestSecondSignalKillsAtOnce(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	cmd, _, errBuf := startRun(t, root, fmt.Sprintf("second-sig-%d", os.Getpid()), "--stop-timeout", "30s", "--", "/bin/sh", "-c", "echo ready; exec sleep 60")
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitOf(t, cmd); code != 143 {
		t.Errorf("exit %d, want 143; %s", code, errBuf)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v: the second signal did not kill at once", d)
	}
}

// The live progress line appears on a terminal and never in cron or CI
// output (stderr not a TTY).
func TestProgressLineOnlyOnATerminal(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) not installed")
	}
	root := t.TempDir()
	memhog := testenv.Connector(t, "memhog")
	args := []string{"run", "--memory", "256MiB", "--", memhog, "-mib", "64", "-step-mib", "1", "-delay", "25ms"}
	_, errOut, code := runSB(t, root, "", args...)
	if code != 0 || strings.Contains(errOut, "\r") || strings.Contains(errOut, "\x1b[K") {
		t.Errorf("not a TTY: exit %d, stderr %q should hold only the summary", code, errOut)
	}
	line := syncboxBin + " " + strings.Join(args, " ") + " >/dev/null"
	cmd := exec.Command("script", "-qfec", line, "/dev/null")
	cmd.Env = append(os.Environ(), "SYNCBOX_RUN_DIR="+root, "SYNCBOX_HOME="+filepath.Join(root, "home"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("under a pty: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "\r\x1b[Ksyncbox: ") || !strings.Contains(string(out), "records (") {
		t.Errorf("no progress line on a terminal:\n%q", out)
	}
}

// Airbyte has no SCHEMA: --keys names key properties, which are never
// nulled; a key too large for the limit drops the record, with lineage.
func TestAirbyteKeysFromTheCommandLine(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	big := strings.Repeat("k", 300)
	line := `{"type":"RECORD","record":{"stream":"s","data":{"id":"` + big + `","v":1},"emitted_at":1}}`
	flags := filepath.Join(root, "flags.jsonl")
	args := []string{"run", "-q", "--memory", "64MiB", "--protocol", "airbyte", "--max-field-size", "100", "--flags-file", flags, "--"}
	script := []string{"/bin/sh", "-c", "echo '" + line + "'"}
	out, _, code := runSB(t, root, "", append(args, script...)...)
	if code != 0 || !strings.Contains(out, `"id":null`) {
		t.Fatalf("without --keys the oversized id is nulled like any field: exit %d, %s", code, out)
	}
	out, _, code = runSB(t, root, "", append(append(args[:len(args)-1:len(args)-1], "--keys", "s=id", "--"), script...)...)
	if code != 0 || strings.Contains(out, `"type":"RECORD"`) {
		t.Fatalf("with --keys s=id the record must be dropped, never its key nulled: exit %d, %s", code, out)
	}
	if b, _ := os.ReadFile(flags); !strings.Contains(string(b), `"field":"id"`) || strings.Count(string(b), "\n") != 2 {
		t.Errorf("flags file:\n%s", b)
	}
	// Several keys in one --keys (the comma is not a flag separator), and
	// a stream named with its namespace.
	nsLine := `{"type":"RECORD","record":{"namespace":"crm","stream":"s","data":{"v":1,"id":"` + big + `"},"emitted_at":1}}`
	for _, keys := range []string{"s=v,id", "crm.s=v,id"} {
		script := []string{"/bin/sh", "-c", "echo '" + line + "'; echo '" + nsLine + "'"}
		out, errOut, code := runSB(t, root, "", append(append(args[:len(args)-1:len(args)-1], "--keys", keys, "--"), script...)...)
		want := 2
		if keys == "crm.s=v,id" {
			want = 1 // only crm.s has the keys: the other record's id is nulled
		}
		if code != 0 || strings.Count(out, `"type":"RECORD"`) != 2-want {
			t.Fatalf("--keys %s: exit %d, %s%s", keys, code, out, errOut)
		}
	}
}

// Records emitted, delivered and dropped are counted apart: a dropped
// record is not one the destination got.
func TestReportCountsDeliveredAndDroppedApart(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	rep := filepath.Join(root, "r.json")
	_, stderr, code := runSB(t, root, "", "run", "--memory", "64MiB", "--destination", "redshift", "--oversize", "drop", "--report", rep, "--",
		testenv.Connector(t, "tap-demo"), "--records", "1000")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	r := readReport(t, rep)
	if r.Records.Dropped != 1 || r.Records.Delivered != r.Records.Total-1 || r.Records.Total != 3000 {
		t.Errorf("records total %d delivered %d dropped %d; want 3000, 2999, 1", r.Records.Total, r.Records.Delivered, r.Records.Dropped)
	}
	if !strings.Contains(stderr, "1 dropped") {
		t.Errorf("summary does not say what was dropped:\n%s", stderr)
	}
}

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
	typo := filepath.Join(dir, "typo.json")
	if _, errOut, code := runSB(t, root, "", "run", "--reprot", typo, "--", "/bin/true"); code != 2 {
		t.Errorf("--reprot: exit %d, want 2 (stderr %q)", code, errOut)
	}
	if _, err := os.Stat(typo); err == nil {
		t.Errorf("syncbox wrote %s, the value of a misspelled flag", typo)
	}
	_, errOut, code = runSB(t, root, "", "run", "--name", "ur", "--report")
	if code != 2 || strings.Count(errOut, "syncbox:") != 1 || !strings.Contains(errOut, "--report needs a value") {
		t.Errorf("--report without a value: exit %d, stderr %q; want exit 2 and one line", code, errOut)
	}
	// Go's flag package gives a flag without its value the -- after it:
	// that used to run the connector and write the report to a file "--".
	cmd := sb(t, root, "run", "-q", "--name", "ur", "--report", "--", "/bin/true")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "--report needs a value") {
		t.Errorf("--report --: exit %d (%v), output %q; want exit 2: --report needs a value", cmd.ProcessState.ExitCode(), err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "--")); err == nil {
		t.Errorf("--report -- wrote a report named --")
	}
	rep := filepath.Join(dir, "r.json")
	if _, errOut, code := runSB(t, root, "", "run", "--report", rep, "--name", "--", "/bin/true"); code != 2 || !strings.Contains(errOut, "--name needs a value") {
		t.Errorf("--name --: exit %d, stderr %q; want exit 2: --name needs a value", code, errOut)
	} else if r := readReport(t, rep); r.Outcome != report.UsageError {
		t.Errorf("--name --: report outcome %s, want usage_error", r.Outcome)
	}
}
