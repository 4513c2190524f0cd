package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

const lastSuccessMetric = "syncbox_run_last_success_timestamp_seconds"

// WriteMetrics writes the run's figures in the Prometheus text exposition
// format to path (name it *.prom in node_exporter's textfile directory),
// atomically so the collector never scrapes half a file.
//
// syncbox_run_last_success_timestamp_seconds survives failures: when this
// run did not succeed it carries over the value from the file already at
// path, or 0 if there was none (never succeeded), so a staleness alert on
// time() minus it fires.
func (r *Report) WriteMetrics(path string) error {
	last := 0.0
	if r.Outcome == Succeeded {
		last = unixSeconds(r)
	} else {
		prev, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("write metrics: read previous %s: %w", path, err)
		}
		last = previousValue(prev, lastSuccessMetric+r.labels())
	}
	if err := writeAtomic(path, r.metrics(last)); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

func unixSeconds(r *Report) float64 {
	if r.EndedAt.IsZero() {
		return 0
	}
	return float64(r.EndedAt.UnixMilli()) / 1000
}

// labels renders {name="...",tenant="..."}; both labels are always present
// so every series of a connector has the same label set.
func (r *Report) labels(extra ...string) string {
	var b strings.Builder
	b.WriteString(`{name="`)
	b.WriteString(escapeLabel(r.Name))
	b.WriteString(`",tenant="`)
	b.WriteString(escapeLabel(r.Tenant))
	b.WriteByte('"')
	for i := 0; i+1 < len(extra); i += 2 {
		fmt.Fprintf(&b, `,%s="%s"`, extra[i], escapeLabel(extra[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

// escapeLabel escapes a label value as the exposition format requires:
// backslash, double quote and line feed.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func formatValue(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func (r *Report) metrics(lastSuccess float64) []byte {
	var b bytes.Buffer
	l := r.labels()
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s%s %s\n", name, help, name, name, l, formatValue(v))
	}
	b2f := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	gauge("syncbox_run_success", "Whether the last run succeeded (1) or not (0).", b2f(r.Outcome == Succeeded))
	b.WriteString("# HELP syncbox_run_outcome The last run's outcome: 1 for the outcome it had, 0 for the others.\n# TYPE syncbox_run_outcome gauge\n")
	for _, o := range AllOutcomes() {
		fmt.Fprintf(&b, "syncbox_run_outcome%s %s\n", r.labels("outcome", string(o)), formatValue(b2f(r.Outcome == o)))
	}
	gauge("syncbox_run_exit_code", "Exit code of the last syncbox run.", float64(r.ExitCode))
	gauge("syncbox_run_duration_seconds", "Wall time of the last run.", r.DurationSeconds)
	gauge("syncbox_run_queued_seconds", "Time the last run waited for the memory budget.", r.QueuedSeconds)
	gauge("syncbox_run_end_timestamp_seconds", "When the last run ended, in Unix seconds.", unixSeconds(r))
	gauge(lastSuccessMetric, "When a run last succeeded, in Unix seconds; 0 if none has.", lastSuccess)
	gauge("syncbox_run_memory_peak_bytes", "Peak memory of the last run's container.", float64(r.Memory.PeakBytes))
	gauge("syncbox_run_memory_limit_bytes", "Memory limit of the last run's container; 0 if none.", float64(r.Memory.LimitBytes))
	gauge("syncbox_run_memory_oom_kills", "Processes OOM-killed in the last run's container.", float64(r.Memory.OOMKills))
	gauge("syncbox_run_cpu_seconds", "CPU time used by the last run's container.", r.CPUSeconds)
	gauge("syncbox_run_pids_peak", "Highest number of tasks in the last run's container.", float64(r.Pids.Peak))
	gauge("syncbox_run_records_total", "Records the last run emitted.", float64(r.Records.Total))
	gauge("syncbox_run_record_bytes", "Bytes of records the last run emitted.", float64(r.Records.Bytes))
	gauge("syncbox_run_invalid_lines", "Output lines of the last run that were not valid messages.", float64(r.Records.InvalidLines))
	gauge("syncbox_run_flagged_total", "Values the last run flagged as oversized.", float64(r.Records.Flagged.Count))
	gauge("syncbox_run_attempts", "Attempts the last run took (OOM retries + 1).", float64(max(len(r.Attempts), 1)))
	gauge("syncbox_runner_peak_rss_bytes", "Peak RSS of the syncbox runner process itself.", float64(r.Runner.PeakRSSBytes))
	return b.Bytes()
}

// previousValue finds the sample for series (name plus rendered labels) in
// an earlier metrics file; 0 if absent or unreadable.
func previousValue(prev []byte, series string) float64 {
	sc := bufio.NewScanner(bytes.NewReader(prev))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(rest + " 0")[0], 64)
		if err != nil {
			return 0
		}
		return v
	}
	return 0
}
