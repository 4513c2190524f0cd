package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	StatePath        = "/run/syncbox/state.json"
	ConfigPath       = "/run/syncbox/config.json"
	TargetConfigPath = "/run/syncbox/target-config.json"
	CatalogPath      = "/run/syncbox/catalog.json"
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

	Stream      stream.Config // protocol, size limits, flags, rejects
	StateFile   string        // input state, and where each confirmed STATE is persisted
	StateStore  StateStore    // instead of StateFile: a fleet's shared checkpoint
	ConfigFile  string        // bound read-only at ConfigPath
	CatalogFile string        // bound read-only at CatalogPath, for the connector and the target

	// Target, if set, makes the run a pipeline: the connector (the tap)
	// writes into the target's stdin through the scanner, and the state
	// advances only on what the target confirms.
	Target *Target

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

// Target is the loading side of a pipeline: a Singer target or an Airbyte
// destination in its own container, with the run's tenant identity.
type Target struct {
	Name        string
	Command     []string // may contain {target-config} and {catalog}
	Env         []string
	Binds       []container.Bind
	Network     container.Network
	MemoryBytes int64
	ConfigFile  string           // bound read-only at TargetConfigPath
	Files       []container.File // its own secrets; the tap's are never shown to it
	Workdir     string           // its own writable working directory ("" = none)
	// NextLimit is the target's retry rule after its OOM kill.
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

	// Temp files a killed runner left beside the report and metrics.
	for _, p := range []string{o.ReportPath, o.MetricsPath} {
		if p != "" {
			if d, err := hostfs.OpenDir(filepath.Dir(p)); err == nil {
				sweepTemps(d.File(), tempPrefix(p))
				d.Close()
			}
		}
	}
	ck, err := newCheckpoint(o.StateFile, o.StateStore, o.Stream.Protocol)
	defer ck.close()
	var inUse *StateInUseError
	switch {
	case errors.As(err, &inUse):
		res.fail(report.AlreadyRunning, err)
	case err != nil:
		res.fail(report.SetupFailed, err)
	}
	var files, targetFiles []container.File
	if res.Err == nil {
		files, targetFiles, err = inputFiles(&o)
		if err != nil {
			res.fail(report.SetupFailed, err)
		}
	}
	var deadline <-chan time.Time
	admitCtx := ctx
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		deadline = t.C
		var cancel context.CancelFunc
		admitCtx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}

	totals := newTally()
	limit, tlimit := o.MemoryBytes, int64(0)
	if o.Target != nil {
		tlimit = o.Target.MemoryBytes
	}
	var last *attemptResult
	for n := 1; res.Err == nil; n++ {
		a := runAttempt(ctx, &o, attemptInput{n: n, limit: limit, targetLimit: tlimit, checkpoint: ck,
			files: files, targetFiles: targetFiles, deadline: deadline, admitTimeout: admitCtx})
		last = a
		totals.add(a.stats)
		rep.QueuedSeconds += a.queued.Seconds()
		rep.ConnectorStderr.CopiedBytes += a.stderr.Copied
		rep.ConnectorStderr.DroppedBytes += a.stderr.Dropped
		if a.target != nil {
			rep.ConnectorStderr.CopiedBytes += a.target.stderr.Copied
			rep.ConnectorStderr.DroppedBytes += a.target.stderr.Dropped
		}
		at := report.Attempt{Attempt: n, LimitBytes: limit, PeakBytes: a.peak(), Outcome: a.outcome, ExitCode: a.exitCode,
			StartedAt: a.started.UTC(), DurationSeconds: a.ended.Sub(a.started).Seconds(), FailedIn: a.failedIn,
			OOMKills: a.last.OOMKills}
		if a.target != nil {
			at.TargetLimitBytes, at.TargetPeakBytes = tlimit, a.target.peak()
			at.OOMKills += a.target.last.OOMKills
		}
		rep.Attempts = append(rep.Attempts, at)
		if a.outcome != report.OOMKilled {
			break
		}
		who, cur, peak, next := "connector", limit, a.peak(), o.NextLimit
		if a.failedIn == "target" {
			who, cur, peak, next = "target", tlimit, a.target.peak(), o.Target.NextLimit
		}
		if next == nil {
			break
		}
		nl, retry := next(n, cur, peak)
		if !retry {
			break
		}
		if !o.Quiet { // -q: a retry that ends well is a success, and silent
			fmt.Fprintf(o.Stderr, "syncbox: attempt %d: the %s was OOM-killed at %s; retrying from the last checkpoint with %s\n",
				n, who, report.FlagSize(cur), report.FlagSize(nl))
		}
		if who == "target" {
			tlimit = nl
		} else {
			limit = nl
		}
	}
	if last != nil {
		res.fromAttempt(last, &o)
		totals.fill(&rep.Records)
	}
	if rep.Target != nil {
		if n := ck.unmatchedEchoes(); n > 0 {
			rep.Target.UnmatchedStates = n
			fmt.Fprintf(o.Stderr, "syncbox: the target printed %d state-like line(s) that matched no unconfirmed STATE the tap sent; they were not persisted\n", n)
		}
	}
	rep.EndedAt = time.Now().UTC()
	rep.DurationSeconds = rep.EndedAt.Sub(rep.StartedAt).Seconds()
	if s := ck.last(); len(s) > 0 || o.StateFile != "" || o.StateStore != nil {
		rep.State = &report.State{Last: s, PersistedTo: ck.persistedTo()}
		if err := ck.failure(); err != nil {
			rep.State.Error = err.Error()
		}
	}
	rep.Runner.PeakRSSBytes = report.RunnerPeakRSS()
	// A report or metrics file that was asked for and cannot be written
	// fails the run: a monitor would otherwise read an older one. Metrics
	// first, so that the report says when they failed.
	if o.MetricsPath != "" {
		if err := rep.WriteMetrics(o.MetricsPath); err != nil {
			res.outputFailed(o.Stderr, &OutputError{Output: "metrics file " + o.MetricsPath, Err: err})
		}
	}
	if o.ReportPath != "" {
		if err := rep.WriteFile(o.ReportPath); err != nil {
			res.outputFailed(o.Stderr, &OutputError{Output: "report " + o.ReportPath, Err: err})
		}
	}
	if !o.Quiet {
		rep.Summary(o.Stderr)
	}
	return res
}

// outputFailed turns a run that otherwise ended well into output_failed.
func (r *Result) outputFailed(w io.Writer, err error) {
	fmt.Fprintf(w, "syncbox: %v\n", err)
	if r.ExitCode == report.ExitOK {
		r.ExitCode, r.Err = report.ExitOutputFailed, err
		r.Report.Outcome, r.Report.ExitCode, r.Report.Error = report.OutputFailed, r.ExitCode, err.Error()
	}
}

// inputFiles reads the config and catalog files once: every attempt, and
// both sides of a pipeline, see the same content.
func inputFiles(o *Options) (files, targetFiles []container.File, err error) {
	read := func(what, path, dst string) (*container.File, error) {
		if path == "" {
			return nil, nil
		}
		b, err := hostfs.ReadFile(path, maxConfig) // by the path rule: it may be tenant-written
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, path, err)
		}
		return &container.File{Destination: dst, Content: b}, nil
	}
	cfg, err := read("config", o.ConfigFile, ConfigPath)
	if err != nil {
		return nil, nil, err
	}
	cat, err := read("catalog", o.CatalogFile, CatalogPath)
	if err != nil {
		return nil, nil, err
	}
	if cfg == nil && usesPlaceholder(o.Command, phConfig) {
		cfg = &container.File{Destination: ConfigPath}
	}
	for _, f := range []*container.File{cfg, cat} {
		if f != nil {
			files = append(files, *f)
		}
	}
	if o.Target != nil {
		tc, err := read("target config", o.Target.ConfigFile, TargetConfigPath)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range []*container.File{tc, cat} {
			if f != nil {
				targetFiles = append(targetFiles, *f)
			}
		}
	}
	return files, targetFiles, nil
}

func usesPlaceholder(cmd []string, ph string) bool {
	for _, a := range cmd {
		if strings.Contains(a, ph) {
			return true
		}
	}
	return false
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
	if a.target != nil {
		rep.Target = targetReport(o.Target, a)
	}
	if a.outcome == report.OOMKilled && a.failedIn == "target" {
		m := rep.Target.Memory
		rep.OOM = report.Diagnose(report.DiagnoseInput{LimitBytes: m.LimitBytes, PeakBytes: m.PeakBytes, Timeline: m.Timeline, Target: true})
		rep.OOM.Container = "target"
	} else if a.outcome == report.OOMKilled {
		st := a.stats
		var inflight *report.InFlight
		if st.InFlight != nil {
			inflight = &report.InFlight{FieldPath: st.InFlight.Field, Bytes: st.InFlight.Bytes}
		}
		rep.OOM = report.Diagnose(report.DiagnoseInput{
			LimitBytes: rep.Memory.LimitBytes, PeakBytes: rep.Memory.PeakBytes, Timeline: rep.Memory.Timeline,
			Stream: st.CurrentStream, RecordsSinceState: st.RecordsSinceState, BytesSinceState: st.BytesSinceState,
			InFlight: inflight, Streams: a.streams,
		})
	}
}

// targetReport is the target's side of a pipeline's last attempt.
func targetReport(t *Target, a *attemptResult) *report.Target {
	tr := &report.Target{Name: t.Name, Command: t.Command, StatesConfirmed: a.targetOut.States,
		OutputLines: a.targetOut.Lines, Error: a.targetOut.TraceErr}
	s := a.target
	if !s.ran {
		return tr
	}
	if s.exit.Signaled {
		tr.Signal = unix.SignalName(s.exit.Signal)
	} else {
		code := s.exit.Code
		tr.ExitCode = &code
	}
	var m report.Report
	m.SetCgroupFigures(s.last, s.timeline)
	tr.Memory = m.Memory
	if tr.Memory.LimitBytes == 0 || tr.Memory.LimitBytes > 1<<60 {
		tr.Memory.LimitBytes = s.limit
	}
	tr.CPUSeconds = m.CPUSeconds
	return tr
}

// tally adds up what every attempt delivered downstream.
type tally struct {
	total, dropped, bytes, invalid, flagged int64
	byStream                                map[string]report.StreamCount
	largest                                 stream.FlaggedValue
}

func newTally() *tally { return &tally{byStream: map[string]report.StreamCount{}} }

func (t *tally) add(s stream.Stats) {
	t.total += s.Records
	t.dropped += s.Dropped
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
	r.Dropped, r.Delivered = t.dropped, t.total-t.dropped
	r.ByStream = t.byStream
	r.Flagged.Count = t.flagged
	if t.largest.Size > 0 {
		r.Flagged.Largest = &report.FlaggedValue{Stream: t.largest.Stream, FieldPath: t.largest.Field,
			Size: t.largest.Size, Key: t.largest.Keys}
	}
}
