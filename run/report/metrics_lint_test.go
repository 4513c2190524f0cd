package report

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// promlint is what `promtool check metrics` runs: no _total on gauges,
// base units, HELP on every metric.
func TestMetricsPassPromtoolLint(t *testing.T) {
	for _, r := range []*Report{fullReport(), New("r", "tap", "", nil)} {
		path := filepath.Join(t.TempDir(), "m.prom")
		if err := r.WriteMetrics(path); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		problems, err := promlint.New(bytes.NewReader(b)).Lint()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
		// Where promtool itself is installed, it must agree.
		if promtool, err := exec.LookPath("promtool"); err == nil {
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = bytes.NewReader(b)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool check metrics: %v\n%s", err, out)
			}
		}
	}
}

// Two OOM kills then a success: the run had two OOM kills, though its last
// attempt had none; an attempt's own count wins over the one-per-kill floor.
func TestOOMKillsAreSummedOverAttempts(t *testing.T) {
	r := New("r", "tap", "t", nil)
	r.Outcome = Succeeded
	r.Attempts = []Attempt{{Attempt: 1, Outcome: OOMKilled}, {Attempt: 2, Outcome: OOMKilled, OOMKills: 3}, {Attempt: 3, Outcome: Succeeded}}
	path := filepath.Join(t.TempDir(), "m.prom")
	if err := r.WriteMetrics(path); err != nil {
		t.Fatal(err)
	}
	if v, _ := find(readMetrics(t, path), "syncbox_run_memory_oom_kills"); v != 4 {
		t.Errorf("syncbox_run_memory_oom_kills = %v, want 1+3+0 = 4", v)
	}
}

// The previous success is read back per connector and tenant, with the
// exposition parser: another series in the file does not leak over.
func TestLastSuccessIsReadBackForThisConnectorOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.prom")
	end := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	other := `# HELP syncbox_run_last_success_timestamp_seconds x
# TYPE syncbox_run_last_success_timestamp_seconds gauge
syncbox_run_last_success_timestamp_seconds{name="other",tenant="t"} 99
syncbox_run_last_success_timestamp_seconds{tenant="t",name="tap \"x\""} 1.7e+09
`
	os.WriteFile(path, []byte(other), 0o644)
	r := New("r", `tap "x"`, "t", nil)
	r.Outcome, r.EndedAt = Failed, end
	if err := r.WriteMetrics(path); err != nil {
		t.Fatal(err)
	}
	if v, _ := find(readMetrics(t, path), lastSuccessMetric); v != 1.7e9 {
		t.Errorf("last success %v, want 1.7e9 carried over", v)
	}
	os.WriteFile(path, []byte("not { metrics\n"), 0o644)
	if err := r.WriteMetrics(path); err != nil {
		t.Fatalf("a mangled previous file must not fail the run: %v", err)
	}
	if v, _ := find(readMetrics(t, path), lastSuccessMetric); v != 0 {
		t.Errorf("last success %v from a mangled file, want 0", v)
	}
}
