// Package report defines syncbox's run report: the JSON file written after
// every run (its field names are a contract with users' tooling), the short
// human summary on stderr, the Prometheus textfile metrics, the exit code
// table, and the diagnosis of an OOM kill with a recommended memory limit.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"syncbox/run/cgroup"
	"syncbox/run/cgstats"
)

// SchemaVersion is the report's "schema_version". Bump it only when a field
// changes meaning or disappears; adding fields keeps it.
const SchemaVersion = 1

// Report is everything known about one run.
type Report struct {
	SchemaVersion int      `json:"schema_version"`
	RunID         string   `json:"run_id"`
	Name          string   `json:"name"`
	Tenant        string   `json:"tenant,omitempty"`
	Command       []string `json:"command"`

	StartedAt       time.Time `json:"started_at"`
	EndedAt         time.Time `json:"ended_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	QueuedSeconds   float64   `json:"queued_seconds"`

	Outcome  Outcome `json:"outcome"`
	ExitCode int     `json:"exit_code"` // syncbox's own exit code
	// ConnectorExitCode is nil when the connector never exited by itself
	// (killed by a signal, or never started); a pointer keeps a real 0.
	ConnectorExitCode *int   `json:"connector_exit_code,omitempty"`
	ConnectorSignal   string `json:"connector_signal,omitempty"` // e.g. "SIGKILL"
	Error             string `json:"error,omitempty"`

	Memory     Memory  `json:"memory"`
	Pids       Pids    `json:"pids"`
	CPUSeconds float64 `json:"cpu_seconds"`
	Records    Records `json:"records"`
	State      *State  `json:"state,omitempty"`
	Runner     Runner  `json:"runner"`
	// ConnectorStderr is how much the connector wrote to stderr over all
	// attempts: the runner copies at most a cap per container, then counts.
	ConnectorStderr StderrBytes `json:"connector_stderr"`

	// Target is the loading side of a pipeline run (syncbox run --target).
	Target *Target `json:"target,omitempty"`

	Attempts []Attempt `json:"attempts,omitempty"`
	OOM      *OOM      `json:"oom,omitempty"`
	// NotRecorded lists what this run could not record where it should
	// have (e.g. history or checkpoints in a shared store that was lost).
	NotRecorded []string `json:"not_recorded,omitempty"`
}

// Target is a pipeline's target container in the last attempt.
type Target struct {
	Name       string   `json:"name"`
	Command    []string `json:"command"`
	ExitCode   *int     `json:"exit_code,omitempty"`
	Signal     string   `json:"signal,omitempty"`
	Memory     Memory   `json:"memory"`
	CPUSeconds float64  `json:"cpu_seconds"`
	// StatesConfirmed counts the STATEs the target printed after
	// committing: only those (and, after a clean exit, the tap's last)
	// move the checkpoint.
	StatesConfirmed int64 `json:"states_confirmed"`
	// UnmatchedStates counts STATEs it printed that the tap never sent:
	// they are not persisted (the checkpoint only takes the tap's states).
	UnmatchedStates int64  `json:"unmatched_states,omitempty"`
	OutputLines     int64  `json:"output_lines"`
	Error           string `json:"error,omitempty"` // an Airbyte TRACE ERROR it printed
}

// StderrBytes counts the connector's stderr as it wrote it.
type StderrBytes struct {
	CopiedBytes  int64 `json:"copied_bytes"`
	DroppedBytes int64 `json:"dropped_bytes"` // beyond the cap: counted, not copied
}

// Memory is the connector container's memory over the run.
type Memory struct {
	LimitBytes int64 `json:"limit_bytes"` // 0: no limit
	PeakBytes  int64 `json:"peak_bytes"`
	// AtEnd is memory.stat's breakdown from the last reading before the
	// cgroup was removed.
	AtEnd    cgroup.MemStat `json:"at_end"`
	OOMKills int64          `json:"oom_kills"`
	// Timeline is [[seconds, bytes], ...], at most cgstats.MaxPoints, each
	// the highest usage in its stretch of time.
	Timeline []cgstats.Point `json:"timeline"`
}

// Pids is the container's task count.
type Pids struct {
	Limit int64 `json:"limit"` // 0: no limit
	Peak  int64 `json:"peak"`
}

// Records counts what the connector emitted.
type Records struct {
	// Total counts RECORD messages the connector emitted (every attempt);
	// Delivered the ones written downstream, Dropped the ones the size
	// policy left out (each with lineage in the flags file). Flagged
	// counts values changed in records that were delivered.
	Total        int64                  `json:"total"`
	Delivered    int64                  `json:"delivered"`
	Dropped      int64                  `json:"dropped"`
	Bytes        int64                  `json:"bytes"`
	ByStream     map[string]StreamCount `json:"by_stream"`
	InvalidLines int64                  `json:"invalid_lines"`
	Flagged      Flagged                `json:"flagged"`
}

// StreamCount is one stream's share of Records.
type StreamCount struct {
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
}

// Flagged counts values flagged as oversized.
type Flagged struct {
	Count   int64         `json:"count"`
	Largest *FlaggedValue `json:"largest,omitempty"`
}

// FlaggedValue locates one flagged value.
type FlaggedValue struct {
	Stream    string `json:"stream"`
	FieldPath string `json:"field_path"`
	Size      int64  `json:"size"`
	Key       string `json:"key,omitempty"` // the record's primary key, when known
}

// State is the last persisted checkpoint: what the next run resumes from.
// A STATE that was emitted but never persisted is not here.
type State struct {
	Last        json.RawMessage `json:"last,omitempty"`
	PersistedTo string          `json:"persisted_to,omitempty"`
	Error       string          `json:"error,omitempty"` // why the checkpoint stopped advancing, if it did
}

// Runner describes syncbox's own process.
type Runner struct {
	PeakRSSBytes int64 `json:"peak_rss_bytes"` // VmHWM; see RunnerPeakRSS
}

// Attempt is one try of a run retried after an OOM kill.
type Attempt struct {
	Attempt         int       `json:"attempt"` // from 1
	LimitBytes      int64     `json:"limit_bytes"`
	PeakBytes       int64     `json:"peak_bytes"`
	Outcome         Outcome   `json:"outcome"`
	ExitCode        int       `json:"exit_code"`
	StartedAt       time.Time `json:"started_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	// FailedIn is "connector" or "target": whose failure the outcome is.
	FailedIn         string `json:"failed_in,omitempty"`
	TargetLimitBytes int64  `json:"target_limit_bytes,omitempty"`
	TargetPeakBytes  int64  `json:"target_peak_bytes,omitempty"`
	// OOMKills is memory.events' oom_kill count for this attempt's
	// container; metrics sum it over attempts.
	OOMKills int64 `json:"oom_kills,omitempty"`
}

// New returns a report for a run, with the schema version set.
func New(runID, name, tenant string, command []string) *Report {
	return &Report{SchemaVersion: SchemaVersion, RunID: runID, Name: name, Tenant: tenant, Command: command}
}

// Marshal returns the report as indented JSON. Empty lists and maps encode
// as [] and {} rather than null, so consumers need no null checks.
func (r *Report) Marshal() ([]byte, error) {
	c := *r
	if c.SchemaVersion == 0 {
		c.SchemaVersion = SchemaVersion
	}
	if c.Command == nil {
		c.Command = []string{}
	}
	if c.Memory.Timeline == nil {
		c.Memory.Timeline = []cgstats.Point{}
	}
	if c.Records.ByStream == nil {
		c.Records.ByStream = map[string]StreamCount{}
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report for run %s: %w", r.RunID, err)
	}
	// One timeline point per line instead of four. Only whitespace changes:
	// the pattern needs raw newlines, which cannot occur inside JSON strings.
	b = numberPair.ReplaceAll(b, []byte("[$1, $2]"))
	return append(b, '\n'), nil
}

var numberPair = regexp.MustCompile(`\[\n\s+(-?[0-9.eE+-]+),\n\s+(-?[0-9.eE+-]+)\n\s*\]`)

// WriteFile writes the report to path atomically: readers see the old file
// or the whole new one, never a partial report.
func (r *Report) WriteFile(path string) error {
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	if err := writeAtomic(path, b); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// ReadFile reads a report written by WriteFile.
func ReadFile(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	return &r, nil
}

// RunnerPeakRSS returns this process's peak resident set size (VmHWM from
// /proc/self/status) in bytes, or 0 if it cannot be read: the report must
// not fail over the runner's own footprint.
func RunnerPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseVmHWM(b)
}

func parseVmHWM(status []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // "1234 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// SetCgroupFigures fills Memory, Pids and CPUSeconds from the last reading
// of the container's cgroup (taken before it is destroyed) and the sampler's
// timeline. Peaks take the higher of the kernel's high-water mark and what
// was sampled, since either may be missing on a given kernel.
func (r *Report) SetCgroupFigures(last cgroup.Sample, tl cgstats.Timeline) {
	r.Memory = Memory{
		LimitBytes: last.LimitBytes,
		PeakBytes:  max(last.PeakBytes, tl.MaxUsageBytes),
		AtEnd:      last.Stat,
		OOMKills:   last.OOMKills,
		Timeline:   tl.Points,
	}
	r.Pids = Pids{Limit: last.PidsMax, Peak: max(last.PidsPeak, tl.MaxPids)}
	r.CPUSeconds = last.CPUSeconds
}
