package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"syncbox/run/container"
	"syncbox/run/hostfs"
	"syncbox/run/report"
	"syncbox/run/stream"
)

// Where the connector finds its input files; CMD ARGS may name them with
// the placeholders {state} and {config}.
const (
	StatePath  = "/run/syncbox/state.json"
	ConfigPath = "/run/syncbox/config.json"
)

// maxConfig bounds the --config file read into memory (a tenant-shaped
// path must not make the runner read gigabytes).
const maxConfig = 64 << 20

// Options describe one run. Zero values mean the documented defaults.
type Options struct {
	RunID   string
	Name    string
	Tenant  string
	Command []string // may contain {state} and {config}

	Env         []string
	Binds       []container.Bind
	Network     container.Network
	MemoryBytes int64
	Pids        int64
	CPUs        float64
	TmpBytes    int64
	UID, GID    int              // the connector's uid/gid (0 = 65534); see limits/tenant
	Files       []container.File // extra read-only files, e.g. secrets at /run/secrets/NAME
	Workdir     string           // writable per-run working directory on the host ("" = a private tmpfs of WorkBytes)
	WorkBytes   int64            // size of that tmpfs; 0 = container.DefaultWorkBytes
	KeepWorkdir bool             // if the runner dies, leave Workdir for inspection
	// SeccompUnconfined turns the default seccomp allowlist off.
	SeccompUnconfined bool

	Paths       container.Paths
	StopTimeout time.Duration // after a forwarded signal, before SIGKILL
	Timeout     time.Duration // wall clock for the whole run; 0 = none

	Stream     stream.Config // protocol, size limits, flags, rejects
	StateFile  string        // input state, and where each STATE is persisted
	ConfigFile string        // bound read-only at ConfigPath

	ReportPath  string
	MetricsPath string
	Progress    bool // a live progress line on Stderr (callers check for a TTY)
	Quiet       bool // no summary lines

	// Stdin is copied into the connector's stdin; nil means /dev/null. The
	// container never gets the caller's own descriptors (see container.IO).
	Stdin     io.Reader
	StderrCap int64 // connector stderr copied per container; 0 = container.DefaultStderrCap
	Stdout    io.Writer
	Stderr    *os.File
	Signals   <-chan os.Signal // SIGINT/SIGTERM delivered to the runner

	// Admit, if set, reserves memory for an attempt before its container
	// starts (the machine-wide budget). release is called the moment the
	// attempt's cgroup is gone.
	Admit func(ctx context.Context, limit int64) (release func(), queued time.Duration, err error)
	// NextLimit, if set, is asked after an OOM kill whether to retry from
	// the last checkpoint and with which limit.
	NextLimit func(attempt int, limit, peak int64) (next int64, retry bool)
}

// Interrupted is returned by Admit when a signal stopped the wait for the
// budget: the run ends as interrupted (128+signal), not as budget_unavailable.
type Interrupted struct{ Signal syscall.Signal }

func (e *Interrupted) Error() string {
	return "interrupted by " + unix.SignalName(e.Signal) + " while waiting for the memory budget"
}

// Result is what a run ended with. Report is always set.
type Result struct {
	ExitCode int
	Report   *report.Report
	Err      error // why it did not succeed, if it did not
}

// NewRunID returns a sortable, unique run id: UTC time plus random bits.
func NewRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// Run runs one connector invocation to the end, retrying after an OOM kill
// if NextLimit allows, and cleans up after every attempt whatever happens:
// normal exit, crash, signal, timeout. It writes the report and metrics.
func Run(ctx context.Context, o Options) *Result {
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 10 * time.Second
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	rep := report.New(o.RunID, o.Name, o.Tenant, o.Command)
	rep.StartedAt = time.Now().UTC()
	res := &Result{Report: rep}

	gone, err := container.Cleanup(o.Paths)
	for _, l := range gone {
		fmt.Fprintf(o.Stderr, "syncbox: removed leftover of dead run %s: %s\n", l.RunID, l.What)
	}
	if err != nil {
		fmt.Fprintf(o.Stderr, "syncbox: cleanup of earlier runs: %v\n", err)
	}

	ck, err := newCheckpoint(o.StateFile)
	if err != nil {
		res.fail(report.SetupFailed, err)
	}
	var cfg []byte
	if err == nil && o.ConfigFile != "" {
		if cfg, err = hostfs.ReadFile(o.ConfigFile, maxConfig); err != nil {
			res.fail(report.SetupFailed, fmt.Errorf("--config: %w", err))
		}
	}
	var deadline <-chan time.Time
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		deadline = t.C
	}

	totals := newTally()
	limit := o.MemoryBytes
	var last *attemptResult
	for n := 1; res.Err == nil; n++ {
		a := runAttempt(ctx, &o, attemptInput{n: n, limit: limit, checkpoint: ck, config: cfg, deadline: deadline})
		last = a
		totals.add(a.stats)
		rep.QueuedSeconds += a.queued.Seconds()
		rep.ConnectorStderr.CopiedBytes += a.stderr.Copied
		rep.ConnectorStderr.DroppedBytes += a.stderr.Dropped
		rep.Attempts = append(rep.Attempts, report.Attempt{Attempt: n, LimitBytes: limit, PeakBytes: a.peak(),
			Outcome: a.outcome, ExitCode: a.exitCode, StartedAt: a.started.UTC(), DurationSeconds: a.ended.Sub(a.started).Seconds()})
		if a.outcome != report.OOMKilled || o.NextLimit == nil {
			break
		}
		next, retry := o.NextLimit(n, limit, a.peak())
		if !retry {
			break
		}
		fmt.Fprintf(o.Stderr, "syncbox: attempt %d was OOM-killed at %s; retrying from the last checkpoint with --memory %s\n",
			n, report.FlagSize(limit), report.FlagSize(next))
		limit = next
	}
	if last != nil {
		res.fromAttempt(last, &o)
		totals.fill(&rep.Records)
	}
	rep.EndedAt = time.Now().UTC()
	rep.DurationSeconds = rep.EndedAt.Sub(rep.StartedAt).Seconds()
	if s := ck.last(); len(s) > 0 || ck.path != "" {
		rep.State = &report.State{Last: s, PersistedTo: ck.persistedTo()}
	}
	rep.Runner.PeakRSSBytes = report.RunnerPeakRSS()
	if o.ReportPath != "" {
		if err := rep.WriteFile(o.ReportPath); err != nil {
			fmt.Fprintf(o.Stderr, "syncbox: %v\n", err)
		}
	}
	if o.MetricsPath != "" {
		if err := rep.WriteMetrics(o.MetricsPath); err != nil {
			fmt.Fprintf(o.Stderr, "syncbox: %v\n", err)
		}
	}
	if !o.Quiet {
		rep.Summary(o.Stderr)
	}
	return res
}

func (r *Result) fail(o report.Outcome, err error) {
	r.Report.Outcome = o
	r.ExitCode = o.ExitCode()
	r.Report.ExitCode = r.ExitCode
	r.Err = err
	r.Report.Error = err.Error()
}

// fromAttempt makes the final attempt's outcome and figures the run's.
func (r *Result) fromAttempt(a *attemptResult, o *Options) {
	rep := r.Report
	rep.Outcome, rep.ExitCode, r.ExitCode = a.outcome, a.exitCode, a.exitCode
	if a.err != nil {
		r.Err = a.err
		rep.Error = a.err.Error()
	}
	if a.started.IsZero() {
		return // never started: no connector, no cgroup figures
	}
	if a.exit.Signaled {
		rep.ConnectorSignal = unix.SignalName(a.exit.Signal)
	} else if a.ran {
		code := a.exit.Code
		rep.ConnectorExitCode = &code
	}
	rep.SetCgroupFigures(a.last, a.timeline)
	if rep.Memory.LimitBytes == 0 || rep.Memory.LimitBytes > 1<<60 {
		rep.Memory.LimitBytes = a.limit
	}
	if a.outcome == report.OOMKilled {
		st := a.stats
		var inflight *report.InFlight
		if st.InFlight != nil {
			inflight = &report.InFlight{FieldPath: st.InFlight.Field, Bytes: st.InFlight.Bytes}
		}
		rep.OOM = report.Diagnose(report.DiagnoseInput{
			LimitBytes: rep.Memory.LimitBytes, PeakBytes: rep.Memory.PeakBytes, Timeline: rep.Memory.Timeline,
			Stream: st.CurrentStream, RecordsSinceState: st.RecordsSinceState, BytesSinceState: st.BytesSinceState,
			InFlight: inflight,
		})
	}
}

// tally adds up what every attempt delivered downstream.
type tally struct {
	total, bytes, invalid, flagged int64
	byStream                       map[string]report.StreamCount
	largest                        stream.FlaggedValue
}

func newTally() *tally { return &tally{byStream: map[string]report.StreamCount{}} }

func (t *tally) add(s stream.Stats) {
	t.total += s.Records
	t.bytes += s.Bytes
	t.invalid += s.InvalidLines
	t.flagged += s.Flagged
	for k, v := range s.ByStream {
		c := t.byStream[k]
		c.Records += v.Records
		c.Bytes += v.Bytes
		t.byStream[k] = c
	}
	if s.Largest.Size > t.largest.Size {
		t.largest = s.Largest
	}
}

func (t *tally) fill(r *report.Records) {
	r.Total, r.Bytes, r.InvalidLines = t.total, t.bytes, t.invalid
	r.ByStream = t.byStream
	r.Flagged.Count = t.flagged
	if t.largest.Size > 0 {
		r.Flagged.Largest = &report.FlaggedValue{Stream: t.largest.Stream, FieldPath: t.largest.Field,
			Size: t.largest.Size, Key: t.largest.Keys}
	}
}
