package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"syncbox/run/cgroup"
	"syncbox/run/cgstats"
)

func fullReport() *Report {
	code := 137
	start := time.Date(2026, 11, 21, 5, 0, 0, 0, time.UTC)
	r := New("run-01", "tap-demo", "acme", []string{"tap-demo", "--config", "c.json"})
	r.StartedAt = start
	r.EndedAt = start.Add(61500 * time.Millisecond)
	r.DurationSeconds = 61.5
	r.QueuedSeconds = 2.25
	r.Outcome = OOMKilled
	r.ExitCode = ExitOOM
	r.ConnectorExitCode = &code
	r.ConnectorSignal = "SIGKILL"
	r.Error = "connector was OOM-killed"
	r.Memory = Memory{
		LimitBytes: 256 * mib, PeakBytes: 256 * mib,
		AtEnd:    cgroup.MemStat{RSS: 200 * mib, Cache: 40 * mib, Kernel: 3 * mib, Swap: 1 * mib},
		OOMKills: 1,
		Timeline: []cgstats.Point{{Seconds: 0, Bytes: 10 * mib}, {Seconds: 30.1, Bytes: 130 * mib}, {Seconds: 61.4, Bytes: 256 * mib}},
	}
	r.Pids = Pids{Limit: 512, Peak: 9}
	r.CPUSeconds = 40.5
	r.Records = Records{
		Total: 12000, Bytes: 34_000_000,
		ByStream:     map[string]StreamCount{"orders": {Records: 11000, Bytes: 30_000_000}, "users": {Records: 1000, Bytes: 4_000_000}},
		InvalidLines: 2,
		Flagged:      Flagged{Count: 4, Largest: &FlaggedValue{Stream: "orders", FieldPath: "items[3].blob", Size: 9 * mib, Key: "o-77"}},
	}
	r.State = &State{Last: json.RawMessage(`{"bookmarks":{"orders":{"id":10}}}`), PersistedTo: "/var/lib/syncbox/tap-demo/state.json"}
	r.Runner = Runner{PeakRSSBytes: 30 * mib}
	r.Attempts = []Attempt{
		{Attempt: 1, LimitBytes: 128 * mib, PeakBytes: 128 * mib, Outcome: OOMKilled, ExitCode: ExitOOM, StartedAt: start.Add(-time.Minute), DurationSeconds: 20},
		{Attempt: 2, LimitBytes: 256 * mib, PeakBytes: 256 * mib, Outcome: OOMKilled, ExitCode: ExitOOM, StartedAt: start, DurationSeconds: 61.5},
	}
	r.OOM = Diagnose(DiagnoseInput{LimitBytes: 256 * mib, PeakBytes: 256 * mib, Timeline: r.Memory.Timeline,
		Stream: "orders", RecordsSinceState: 12000, BytesSinceState: 34_000_000,
		InFlight: &InFlight{FieldPath: "items[3].blob", Bytes: 9 * mib}})
	return r
}

func keys(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not a JSON object", v)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// The field names are a contract with users' scripts: any rename must fail
// here.
func TestReportJSONFieldNames(t *testing.T) {
	b, err := fullReport().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	check := func(where string, v any, want ...string) {
		t.Helper()
		if got := keys(t, v); !reflect.DeepEqual(got, sorted(want...)) {
			t.Errorf("%s keys:\n got %v\nwant %v", where, got, sorted(want...))
		}
	}
	check("report", m, "schema_version", "run_id", "name", "tenant", "command", "started_at", "ended_at",
		"duration_seconds", "queued_seconds", "outcome", "exit_code", "connector_exit_code", "connector_signal",
		"error", "memory", "pids", "cpu_seconds", "records", "state", "runner", "attempts", "oom", "connector_stderr")
	check("connector_stderr", m["connector_stderr"], "copied_bytes", "dropped_bytes")
	mem := m["memory"].(map[string]any)
	check("memory", mem, "limit_bytes", "peak_bytes", "at_end", "oom_kills", "timeline")
	check("memory.at_end", mem["at_end"], "rss", "cache", "kernel", "swap")
	check("pids", m["pids"], "limit", "peak")
	rec := m["records"].(map[string]any)
	check("records", rec, "total", "delivered", "dropped", "bytes", "by_stream", "invalid_lines", "flagged")
	check("records.by_stream.orders", rec["by_stream"].(map[string]any)["orders"], "records", "bytes")
	fl := rec["flagged"].(map[string]any)
	check("records.flagged", fl, "count", "largest")
	check("records.flagged.largest", fl["largest"], "stream", "field_path", "size", "key")
	check("state", m["state"], "last", "persisted_to")
	check("runner", m["runner"], "peak_rss_bytes")
	check("attempts[0]", m["attempts"].([]any)[0], "attempt", "limit_bytes", "peak_bytes", "outcome", "exit_code", "started_at", "duration_seconds")
	oom := m["oom"].(map[string]any)
	check("oom", oom, "stream", "records_since_state", "bytes_since_state", "largest_in_flight", "growth", "recommended_limit_bytes", "explanation")
	check("oom.largest_in_flight", oom["largest_in_flight"], "field_path", "bytes")

	if m["schema_version"] != 1.0 || m["outcome"] != "oom_killed" || m["started_at"] != "2026-11-21T05:00:00Z" {
		t.Errorf("schema_version %v outcome %v started_at %v", m["schema_version"], m["outcome"], m["started_at"])
	}
	if tl := mem["timeline"].([]any); len(tl) != 3 || !reflect.DeepEqual(tl[1], []any{30.1, float64(130 * mib)}) {
		t.Errorf("timeline %v; want [[seconds, bytes], ...]", tl)
	}
}

func TestReportRoundTrip(t *testing.T) {
	want := fullReport()
	path := filepath.Join(t.TempDir(), "report.json")
	if err := want.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Indenting reformats the raw STATE; compare it as JSON.
	var a, b bytes.Buffer
	_ = json.Compact(&a, want.State.Last)
	_ = json.Compact(&b, got.State.Last)
	if a.String() != b.String() {
		t.Errorf("state.last %s; want %s", b.String(), a.String())
	}
	got.State.Last, want.State.Last = nil, nil
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		t.Errorf("round trip differs:\n got %s\nwant %s", gb, wb)
	}
}

func TestMinimalReportHasNoNulls(t *testing.T) {
	r := &Report{RunID: "r1", Name: "x", Outcome: SetupFailed, ExitCode: ExitSetupFailed}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("null")) {
		t.Errorf("minimal report has nulls:\n%s", b)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"tenant", "connector_exit_code", "connector_signal", "error", "state", "attempts", "oom"} {
		if _, ok := m[k]; ok {
			t.Errorf("empty %q should be omitted", k)
		}
	}
	if m["schema_version"] != 1.0 {
		t.Errorf("schema_version %v; Marshal must fill it in", m["schema_version"])
	}
	if r.SchemaVersion != 0 {
		t.Error("Marshal changed the report")
	}
}

func TestConnectorExitCodeZeroIsKept(t *testing.T) {
	zero := 0
	r := New("r", "n", "", nil)
	r.ConnectorExitCode = &zero
	b, _ := r.Marshal()
	if !bytes.Contains(b, []byte(`"connector_exit_code": 0`)) {
		t.Errorf("exit code 0 dropped:\n%s", b)
	}
}

// Readers polling the file while it is rewritten must always see a whole
// report, and no temp files may be left behind.
func TestWriteFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.json")
	small := New("r", "small", "", nil)
	big := fullReport()
	for i := range cgstats.MaxPoints {
		big.Memory.Timeline = append(big.Memory.Timeline, cgstats.Point{Seconds: float64(i), Bytes: int64(i) * mib})
	}
	if err := small.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("read during rewrite: %v", err)
				return
			}
			var r Report
			if err := json.Unmarshal(b, &r); err != nil {
				t.Errorf("partial report visible (%d bytes): %v", len(b), err)
				return
			}
			reads.Add(1)
		}
	})
	for i := range 200 {
		r := small
		if i%2 == 0 {
			r = big
		}
		if err := r.WriteFile(path); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if reads.Load() == 0 {
		t.Error("the reader never ran")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("files left in dir: %v", ents)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", st.Mode(), err)
	}
}

func TestWriteFileErrorsAndLeavesOldFile(t *testing.T) {
	err := New("r", "n", "", nil).WriteFile(filepath.Join(t.TempDir(), "missing", "report.json"))
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "write report") {
		t.Errorf("err = %v; want a wrapped not-exist error", err)
	}
}

func TestSummary(t *testing.T) {
	ok := New("r1", "tap-demo", "", nil)
	ok.Outcome, ok.DurationSeconds = Succeeded, 2.1
	ok.Records = Records{Total: 2000, Bytes: 1_200_000, Flagged: Flagged{Count: 4},
		ByStream: map[string]StreamCount{"a": {}, "b": {}, "c": {}}}
	ok.Memory = Memory{LimitBytes: 256 * mib, PeakBytes: 34 * mib}

	oom := fullReport()

	setup := New("r3", "tap-x", "", nil)
	setup.Outcome, setup.Error = SetupFailed, "create container: pivot_root: device or resource busy\nmore detail"

	failed := New("r4", "tap-y", "", nil)
	two := 2
	failed.Outcome, failed.DurationSeconds, failed.ConnectorExitCode = Failed, 185.4, &two
	failed.Records = Records{Total: 1, Bytes: 10, ByStream: map[string]StreamCount{"a": {}}, InvalidLines: 3}

	cases := []struct {
		r    *Report
		want []string
	}{
		{ok, []string{"syncbox: tap-demo succeeded in 2.1s: 2,000 records (1.1 MiB) in 3 streams, 4 values flagged; peak memory 34 MiB (13%) of a 256 MiB limit"}},
		{oom, []string{
			"syncbox: tap-demo was OOM-killed in 1m2s: 12,000 records (32 MiB) in 2 streams, 4 values flagged, 2 invalid lines; peak memory 256 MiB (100%) of a 256 MiB limit",
			"syncbox: error: connector was OOM-killed",
			"syncbox: " + oom.OOM.Explanation,
			"syncbox: 2 attempts: oom_killed at 128 MiB, oom_killed at 256 MiB",
		}},
		{setup, []string{"syncbox: tap-x could not be started", "syncbox: error: create container: pivot_root: device or resource busy"}},
		{failed, []string{
			"syncbox: tap-y failed in 3m5s: 1 record (10 B) in 1 stream, 3 invalid lines; peak memory 0 B (no limit)",
			"syncbox: the connector exited with code 2",
		}},
	}
	for _, c := range cases {
		var b bytes.Buffer
		c.r.Summary(&b)
		got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Summary:\n got %q\nwant %q", got, c.want)
		}
		if len(got) < 1 || len(got) > 5 {
			t.Errorf("%d summary lines", len(got))
		}
	}
}

func TestExitCodeTable(t *testing.T) {
	seen := map[int]bool{}
	for _, e := range ExitCodes() {
		if seen[e.Code] || e.Meaning == "" {
			t.Errorf("exit code %d duplicated or undescribed", e.Code)
		}
		seen[e.Code] = true
		if e.Outcome != "" && !e.Outcome.Valid() {
			t.Errorf("exit code %d has unknown outcome %q", e.Code, e.Outcome)
		}
	}
	want := map[Outcome]int{Succeeded: 0, Failed: 1, OOMKilled: 3, TimedOut: 4, PolicyStopped: 5,
		SetupFailed: 6, BudgetUnavailable: 7, AlreadyRunning: 8, OutputFailed: 9, UsageError: 2, NotExecutable: 126, CommandNotFound: 127, Interrupted: 130}
	for _, o := range AllOutcomes() {
		if o.ExitCode() != want[o] {
			t.Errorf("%s.ExitCode() = %d; want %d", o, o.ExitCode(), want[o])
		}
	}
	if len(want) != len(AllOutcomes()) || !seen[ExitUsage] || InterruptedExitCode(15) != ExitSIGTERM {
		t.Error("table incomplete")
	}
	ExitCodes()[0].Code = 99
	if ExitCodes()[0].Code != 0 {
		t.Error("the table can be changed by a caller")
	}
}

func TestRunnerPeakRSS(t *testing.T) {
	if n := RunnerPeakRSS(); n < 1<<20 {
		t.Errorf("RunnerPeakRSS() = %d; a Go test binary uses more than 1 MiB", n)
	}
	if n := parseVmHWM([]byte("Name:\tx\nVmPeak:\t  9999 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n")); n != 1234*1024 {
		t.Errorf("parseVmHWM = %d", n)
	}
	if n := parseVmHWM([]byte("Name:\tx\n")); n != 0 {
		t.Errorf("parseVmHWM without VmHWM = %d", n)
	}
}

// Figures read from the real-cgroup fixture flow into the report.
func TestSetCgroupFigures(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "cgroup", "v1", "oom")
	s, err := cgroup.FromPaths(map[string]string{
		"memory": filepath.Join(dir, "memory"), "pids": filepath.Join(dir, "pids"), "cpuacct": filepath.Join(dir, "cpuacct"),
	}).Read()
	if err != nil {
		t.Fatal(err)
	}
	tl := cgstats.Timeline{Points: []cgstats.Point{{Seconds: 0.1, Bytes: 60 * mib}}, MaxUsageBytes: 60 * mib, MaxPids: 6}
	r := New("r", "n", "", nil)
	r.SetCgroupFigures(s, tl)
	if r.Memory.PeakBytes != 64*mib || r.Memory.LimitBytes != 64*mib || r.Memory.OOMKills != 1 || len(r.Memory.Timeline) != 1 {
		t.Errorf("memory %+v", r.Memory)
	}
	if r.Pids != (Pids{Limit: 32, Peak: 6}) || r.CPUSeconds <= 0 || r.Memory.AtEnd.Cache != 45056 {
		t.Errorf("pids %+v cpu %v at_end %+v", r.Pids, r.CPUSeconds, r.Memory.AtEnd)
	}
}

func TestSummaryDurationsReadNaturally(t *testing.T) {
	for sec, want := range map[float64]string{0.045: "45ms", 0.0004: "0s", 0.1: "0.1s", 2.14: "2.1s", 75: "1m15s"} {
		if got := formatDuration(sec); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", sec, got, want)
		}
	}
}
