package report

import (
	"bytes"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"syncbox/run/hostfs"
)

const lastSuccessMetric = "syncbox_run_last_success_timestamp_seconds"

// maxPreviousMetrics bounds the read of the previous metrics file (ours is
// a few kB).
const maxPreviousMetrics = 1 << 20

// WriteMetrics writes the run's figures in the Prometheus text exposition
// format to path (name it *.prom in node_exporter's textfile directory),
// atomically so the collector never scrapes half a file. The figures are
// gauges in a registry of their own, encoded by client_golang's expfmt, so
// escaping, ordering and HELP/TYPE lines are the library's, not ours.
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
		// By the path rule, bounded: a FIFO, a link or a huge file planted
		// at path (a tenant's directory) is nothing to carry over, and is
		// replaced below like any planted entry; os.ReadFile would block
		// on a FIFO for ever, holding the run lock.
		prev, err := hostfs.ReadFile(path, maxPreviousMetrics)
		if err != nil {
			prev = nil // none (ENOENT) or none to trust; the write below reports real I/O errors
		}
		last = previousLastSuccess(prev, r.Name, r.Tenant)
	}
	text, err := r.metrics(last)
	if err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	// writeAtomic rather than prometheus.WriteToTextfile: it fsyncs before
	// the rename, and its dot-named temp file is never a *.prom the
	// collector could scrape half-written.
	if err := writeAtomic(path, text); err != nil {
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

// TotalOOMKills sums the OOM kills of every attempt: a run that was
// OOM-killed twice and then succeeded had two, though its last attempt had
// none. An OOM-killed attempt that did not record its count had at least one.
func (r *Report) TotalOOMKills() int64 {
	if len(r.Attempts) == 0 {
		return r.Memory.OOMKills
	}
	var n int64
	for i, a := range r.Attempts {
		k := a.OOMKills
		if i == len(r.Attempts)-1 {
			k = max(k, r.Memory.OOMKills) // the last attempt's figures are the run's
		}
		if k == 0 && a.Outcome == OOMKilled {
			k = 1
		}
		n += k
	}
	return n
}

// metrics renders the run's gauges. Both labels, name and tenant, are on
// every series so all series of a connector share one label set. None is a
// counter: each describes the last run, so none carries _total.
func (r *Report) metrics(lastSuccess float64) ([]byte, error) {
	reg := prometheus.NewRegistry()
	labels := prometheus.Labels{"name": r.Name, "tenant": r.Tenant}
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"name", "tenant"})
		reg.MustRegister(g)
		g.With(labels).Set(v)
	}
	b2f := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	gauge("syncbox_run_success", "Whether the last run succeeded (1) or not (0).", b2f(r.Outcome == Succeeded))
	outcome := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "syncbox_run_outcome",
		Help: "The last run's outcome: 1 for the outcome it had, 0 for the others."}, []string{"name", "tenant", "outcome"})
	reg.MustRegister(outcome)
	for _, o := range AllOutcomes() {
		outcome.WithLabelValues(r.Name, r.Tenant, string(o)).Set(b2f(r.Outcome == o))
	}
	gauge("syncbox_run_exit_code", "Exit code of the last syncbox run.", float64(r.ExitCode))
	gauge("syncbox_run_duration_seconds", "Wall time of the last run.", r.DurationSeconds)
	gauge("syncbox_run_queued_seconds", "Time the last run waited for the memory budget.", r.QueuedSeconds)
	gauge("syncbox_run_end_timestamp_seconds", "When the last run ended, in Unix seconds.", unixSeconds(r))
	gauge(lastSuccessMetric, "When a run last succeeded, in Unix seconds; 0 if none has.", lastSuccess)
	gauge("syncbox_run_memory_peak_bytes", "Peak memory of the last run's container.", float64(r.Memory.PeakBytes))
	gauge("syncbox_run_memory_limit_bytes", "Memory limit of the last run's container; 0 if none.", float64(r.Memory.LimitBytes))
	gauge("syncbox_run_memory_oom_kills", "Processes OOM-killed in the last run, summed over its attempts.", float64(r.TotalOOMKills()))
	gauge("syncbox_run_cpu_seconds", "CPU time used by the last run's container.", r.CPUSeconds)
	gauge("syncbox_run_pids_peak", "Highest number of tasks in the last run's container.", float64(r.Pids.Peak))
	gauge("syncbox_run_records", "Records the last run emitted.", float64(r.Records.Total))
	gauge("syncbox_run_record_bytes", "Bytes of records the last run emitted.", float64(r.Records.Bytes))
	gauge("syncbox_run_invalid_lines", "Output lines of the last run that were not valid messages.", float64(r.Records.InvalidLines))
	gauge("syncbox_run_flagged_values", "Values the last run flagged as oversized.", float64(r.Records.Flagged.Count))
	gauge("syncbox_run_attempts", "Attempts the last run took (OOM retries + 1).", float64(max(len(r.Attempts), 1)))
	gauge("syncbox_runner_peak_rss_bytes", "Peak RSS of the syncbox runner process itself.", float64(r.Runner.PeakRSSBytes))

	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// previousLastSuccess reads the last success time of this name and tenant
// from an earlier metrics file; 0 if absent or unreadable (a file this
// connector never wrote, or one a person mangled, must not fail the run).
func previousLastSuccess(prev []byte, name, tenant string) float64 {
	if len(prev) == 0 {
		return 0
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(prev))
	if err != nil {
		return 0
	}
	mf, ok := mfs[lastSuccessMetric]
	if !ok {
		return 0
	}
	for _, m := range mf.GetMetric() {
		if labelValue(m, "name") == name && labelValue(m, "tenant") == tenant && m.GetGauge() != nil {
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
