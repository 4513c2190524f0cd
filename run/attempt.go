package run

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"syncbox/run/cgstats"
	"syncbox/run/container"
	"syncbox/run/report"
	"syncbox/run/stream"
)

type attemptInput struct {
	n          int
	limit      int64
	checkpoint *checkpoint
	config     []byte
	deadline   <-chan time.Time // the run's --timeout, shared by attempts
}

// attemptResult is one container's life: how it ended and its figures.
type attemptResult struct {
	limit    int64
	outcome  report.Outcome
	exitCode int
	err      error
	queued   time.Duration

	ran      bool // the connector started (exit is meaningful)
	exit     container.Exit
	started  time.Time
	ended    time.Time
	last     cgstats.Sample // read just before the cgroup was removed
	timeline cgstats.Timeline
	stats    stream.Stats
	stderr   container.StderrStats
}

func (a *attemptResult) peak() int64 {
	return max(a.last.PeakBytes, a.timeline.MaxUsageBytes)
}

func (a *attemptResult) setup(err error) *attemptResult {
	a.outcome, a.exitCode, a.err = report.SetupFailed, report.ExitSetupFailed, err
	return a
}

// runAttempt runs the connector once in a fresh container.
func runAttempt(ctx context.Context, o *Options, in attemptInput) *attemptResult {
	a := &attemptResult{limit: in.limit}
	if o.Admit != nil {
		release, queued, err := o.Admit(ctx, in.limit)
		a.queued = queued
		var intr *Interrupted
		switch {
		case errors.As(err, &intr):
			a.outcome, a.exitCode, a.err = report.Interrupted, report.InterruptedExitCode(int(intr.Signal)), err
			return a
		case err != nil:
			a.outcome, a.exitCode, a.err = report.BudgetUnavailable, report.ExitBudgetUnavailable, err
			return a
		}
		defer release() // after Destroy below: the cgroup is gone by then
	}
	args, files := substitute(o.Command, in.checkpoint, in.config)
	id := o.RunID
	if in.n > 1 {
		id = fmt.Sprintf("%s-a%d", o.RunID, in.n)
	}
	a.started = time.Now()
	c, err := container.Start(o.Paths, container.Spec{
		ID: id, Args: args, Env: o.Env, Binds: o.Binds, Network: o.Network,
		MemoryBytes: in.limit, Pids: o.Pids, CPUs: o.CPUs, TmpBytes: o.TmpBytes, Files: append(files, o.Files...),
		UID: o.UID, GID: o.GID, Workdir: o.Workdir, WorkBytes: o.WorkBytes, WorkdirOwned: !o.KeepWorkdir, SeccompUnconfined: o.SeccompUnconfined,
	}, container.IO{Stdin: o.Stdin, Stderr: o.Stderr, StderrCap: o.StderrCap})
	if err != nil {
		a.ended = time.Now()
		return a.setup(err)
	}
	defer c.Destroy()
	a.ran = true

	reader := cgstats.NewReader(c.CgroupPaths(), "")
	sampler := cgstats.NewSampler(reader, 100*time.Millisecond)
	sampler.Start()

	cfg := o.Stream
	cfg.OnState = in.checkpoint.save
	if cfg.Warn == nil {
		cfg.Warn = o.Stderr
	}
	sc := stream.New(cfg)
	pumpDone := make(chan error, 1)
	go func() { pumpDone <- sc.Run(o.Stdout, c.Stdout) }()

	var prog *progress
	if o.Progress {
		prog = startProgress(o.Stderr, sc.Snapshot, a.started)
	}

	var (
		killTimer <-chan time.Time
		stopping  report.Outcome
		stopSig   syscall.Signal
		pumpErr   error
		pumpOpen  = true
	)
	stop := func(sig syscall.Signal, why report.Outcome) {
		if stopping == "" {
			stopping, stopSig = why, sig
			_ = c.Signal(sig)
			killTimer = time.After(o.StopTimeout)
			return
		}
		// A second Ctrl-C (or SIGTERM) means now, not after --stop-timeout.
		if why == report.Interrupted {
			_ = c.Kill()
		}
	}
	cancelled := ctx.Done()
loop:
	for {
		select {
		case <-c.Done():
			break loop
		case sig := <-o.Signals:
			if s, ok := sig.(syscall.Signal); ok {
				stop(s, report.Interrupted)
			}
		case <-cancelled:
			cancelled = nil // a closed channel would fire on every turn
			stop(syscall.SIGTERM, report.Interrupted)
		case <-in.deadline:
			stop(syscall.SIGTERM, report.TimedOut)
		case <-killTimer:
			_ = c.Kill()
		case err := <-pumpDone:
			pumpOpen = false
			if err != nil {
				// A policy stop or a closed downstream (EPIPE): nothing more
				// can be delivered, so the connector must stop now.
				pumpErr = err
				_ = c.Kill()
			}
		}
	}
	a.exit, err = c.Wait()
	if err != nil {
		a.err = err
	}
	a.stderr = c.StderrStats()
	if pumpOpen {
		pumpErr = <-pumpDone
	}
	prog.stop()
	// Final figures, before Destroy removes the cgroup files.
	a.last, _ = reader.Read()
	a.timeline = sampler.Stop()
	a.stats = sc.Snapshot()
	if err := c.Destroy(); err != nil {
		fmt.Fprintf(o.Stderr, "syncbox: cleanup: %v\n", err)
	}
	a.ended = time.Now()

	var perr *stream.PolicyError
	switch {
	case stopping == report.Interrupted:
		a.outcome, a.exitCode = report.Interrupted, report.InterruptedExitCode(int(stopSig))
	case stopping == report.TimedOut:
		a.outcome, a.exitCode = report.TimedOut, report.ExitTimeout
		a.err = fmt.Errorf("--timeout reached; the connector was stopped")
	case errors.As(pumpErr, &perr):
		a.outcome, a.exitCode, a.err = report.PolicyStopped, report.ExitPolicyStop, pumpErr
	case a.last.OOMKills > 0:
		// The kernel's counter, not the exit status: a killed child of
		// the connector counts even when PID 1 survives it.
		a.outcome, a.exitCode = report.OOMKilled, report.ExitOOM
		a.err = fmt.Errorf("the connector was OOM-killed at its memory limit of %s", report.FlagSize(in.limit))
	case pumpErr != nil:
		a.outcome, a.exitCode = report.Failed, report.ExitConnectorFailed
		a.err = fmt.Errorf("output: %w", pumpErr)
	case a.exit.Signaled || a.exit.Code != 0:
		a.outcome, a.exitCode = report.Failed, report.ExitConnectorFailed
		a.err = fmt.Errorf("the connector %s", a.exit)
	default:
		a.outcome, a.exitCode = report.Succeeded, report.ExitOK
	}
	return a
}

// substitute replaces {state} and {config} in the command with the paths
// where the connector finds those files, and lists the files to stage.
// The state is always there (an empty object before the first STATE), so
// "--state {state}" works on a first run too.
func substitute(cmd []string, ck *checkpoint, cfg []byte) ([]string, []container.File) {
	out := make([]string, len(cmd))
	usesState, usesConfig := false, false
	for i, a := range cmd {
		if strings.Contains(a, "{state}") {
			usesState = true
			a = strings.ReplaceAll(a, "{state}", StatePath)
		}
		if strings.Contains(a, "{config}") {
			usesConfig = true
			a = strings.ReplaceAll(a, "{config}", ConfigPath)
		}
		out[i] = a
	}
	var files []container.File
	if usesState || ck.path != "" {
		st := ck.last()
		if len(st) == 0 {
			st = []byte("{}")
		}
		files = append(files, container.File{Destination: StatePath, Content: st})
	}
	if usesConfig || cfg != nil {
		files = append(files, container.File{Destination: ConfigPath, Content: cfg})
	}
	return out, files
}
