package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"syncbox/run/cgroup"
	"syncbox/run/cgstats"
	"syncbox/run/container"
	"syncbox/run/report"
	"syncbox/run/stream"
)

// outputGrace is how long a stopped run waits for a blocked write to its
// output once every container is gone: a downstream that stopped reading
// must not keep the runner (and its memory reservation) alive.
const outputGrace = 2 * time.Second

type attemptInput struct {
	n            int
	limit        int64 // the connector's (tap's) memory limit
	targetLimit  int64 // the target's, in a pipeline
	checkpoint   *checkpoint
	files        []container.File // {config}, {catalog}: the same for every attempt
	targetFiles  []container.File
	deadline     <-chan time.Time // the run's --timeout, shared by attempts
	admitTimeout context.Context  // done when --timeout passes, for the budget queue
}

// sideResult is one container's life in an attempt.
type sideResult struct {
	role     string // "connector" or "target"
	limit    int64
	ran      bool // the process started (exit is meaningful)
	exit     container.Exit
	err      error
	started  time.Time
	ended    time.Time
	last     cgroup.Sample // read just before the cgroup was removed
	timeline cgstats.Timeline
	stderr   container.StderrStats
}

func (s *sideResult) peak() int64 { return max(s.last.PeakBytes, s.timeline.MaxUsageBytes) }

func (s *sideResult) failed() bool { return s.ran && (s.exit.Signaled || s.exit.Code != 0) }

// attemptResult is one attempt: how it ended and its figures. The embedded
// sideResult is the connector (the tap, in a pipeline).
type attemptResult struct {
	sideResult
	outcome  report.Outcome
	exitCode int
	err      error
	queued   time.Duration
	stats    stream.Stats

	target    *sideResult         // nil without a pipeline
	targetOut targetOutput        // what the target printed
	failedIn  string              // "connector" or "target": whose failure the outcome is
	stuck     bool                // the output stopped taking data and was abandoned
	streams   []report.StreamSpan // which stream was being read when, for the OOM diagnosis
}

func (a *attemptResult) setup(err error) *attemptResult {
	a.outcome, a.exitCode, a.err = report.SetupFailed, report.ExitSetupFailed, err
	var ce *container.CommandError
	if errors.As(err, &ce) {
		a.outcome, a.exitCode = report.CommandNotFound, report.ExitCommandNotFound
		if !ce.NotFound {
			a.outcome, a.exitCode = report.NotExecutable, report.ExitNotExecutable
		}
	}
	return a
}

// live is a started container with its sampler.
type live struct {
	c       *container.Container
	reader  *cgroup.Cgroup
	sampler *cgstats.Sampler
	res     *sideResult
}

func startLive(o *Options, role string, spec container.Spec, stdio container.IO) (*live, error) {
	res := &sideResult{role: role, limit: spec.MemoryBytes, started: time.Now()}
	c, err := container.Start(o.Paths, spec, stdio)
	if err != nil {
		res.ended = time.Now()
		return &live{res: res}, err
	}
	res.ran = true
	l := &live{c: c, res: res, reader: c.Cgroup()}
	l.sampler = cgstats.NewSampler(l.reader, 100*time.Millisecond)
	l.sampler.Start()
	return l, nil
}

// finish collects the final figures and removes the container.
func (l *live) finish(o *Options) {
	if l.c == nil {
		return
	}
	l.res.exit, l.res.err = l.c.Wait()
	l.res.stderr = l.c.StderrStats()
	l.res.last, _ = l.reader.Read()
	l.res.timeline = l.sampler.Stop()
	if err := l.c.Destroy(); err != nil {
		fmt.Fprintf(o.Stderr, "syncbox: cleanup: %v\n", err)
	}
	l.res.ended = time.Now()
}

// runAttempt runs the connector once in a fresh container, and in a
// pipeline the target in another, the records passing through the scanner
// between them.
func runAttempt(ctx context.Context, o *Options, in attemptInput) *attemptResult {
	a := &attemptResult{sideResult: sideResult{role: "connector", limit: in.limit}}
	pipeline := o.Target != nil
	if pipeline {
		a.target = &sideResult{role: "target", limit: in.targetLimit}
	}
	if o.Admit != nil {
		need := in.limit
		if pipeline {
			need = in.limit + in.targetLimit
			if in.limit == 0 || in.targetLimit == 0 {
				need = 0
			}
		}
		release, queued, err := o.Admit(in.admitTimeout, need)
		a.queued = queued
		var intr *Interrupted
		switch {
		case errors.As(err, &intr):
			a.outcome, a.exitCode, a.err = report.Interrupted, report.InterruptedExitCode(int(intr.Signal)), err
			return a
		case err != nil && in.admitTimeout.Err() != nil && ctx.Err() == nil:
			a.outcome, a.exitCode = report.TimedOut, report.ExitTimeout
			a.err = fmt.Errorf("the time limit was reached while waiting for the memory budget: %w", err)
			return a
		case err != nil:
			var se *SetupError
			if errors.As(err, &se) {
				return a.setup(err)
			}
			a.outcome, a.exitCode, a.err = report.BudgetUnavailable, report.ExitBudgetUnavailable, err
			return a
		}
		defer release() // after the containers are destroyed below
	}
	in.checkpoint.startAttempt()
	id := o.RunID
	if in.n > 1 {
		id = fmt.Sprintf("%s-a%d", o.RunID, in.n)
	}

	// On a TTY the containers' stderr passes through the progress line,
	// which clears itself before each chunk so nothing is glued onto it.
	var prog *progress
	var stderr io.Writer = o.Stderr
	if o.Progress {
		prog = newProgress(o.Stderr)
		stderr = prog
		defer prog.stop()
	}

	// The record stream goes to our stdout, or into the target's stdin.
	out := newCheckedWriter(o.Stdout, "stdout")
	var (
		tgt     *live
		tgtIn   *os.File // our end of the target's stdin
		tgtDone = make(chan targetDone, 1)
	)
	if pipeline {
		r, w, err := os.Pipe()
		if err != nil {
			return a.setup(fmt.Errorf("target stdin pipe: %w", err))
		}
		// Through Control, not Fd(): Fd() would make the write end blocking,
		// and a write the target stopped reading could then never be
		// interrupted by closing it.
		if rc, err := w.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) })
		}
		t := o.Target
		tgt, err = startLive(o, "target", container.Spec{
			ID: id + "-target", Args: substitute(t.Command, nil), Env: t.Env, Binds: t.Binds, Network: t.Network,
			MemoryBytes: in.targetLimit, Pids: o.Pids, CPUs: o.CPUs, TmpBytes: o.TmpBytes, Files: append(in.targetFiles, t.Files...),
			UID: o.UID, GID: o.GID, Workdir: t.Workdir, WorkBytes: o.WorkBytes, WorkdirOwned: false,
			SeccompUnconfined: o.SeccompUnconfined,
		}, container.IO{StdinFile: r, Stderr: stderr, StderrCap: o.StderrCap})
		*a.target = *tgt.res
		if err != nil {
			w.Close()
			a.failedIn = "target"
			return a.setup(fmt.Errorf("target: %w", err))
		}
		// Only the target holds the read end now: once it exits or closes
		// its stdin, a write gets EPIPE at once instead of blocking.
		tgtIn = w
		tout := newCheckedWriter(o.Stdout, "stdout")
		go func() {
			to, err := readTarget(tgt.c.Stdout, tout, in.checkpoint.protocol, in.checkpoint.targetConfirmed)
			tgtDone <- targetDone{to, err}
		}()
	}

	var stdin io.Reader
	if !pipeline {
		stdin = o.Stdin
	}
	tap, err := startLive(o, "connector", container.Spec{
		ID: id, Args: substitute(o.Command, in.checkpoint), Env: o.Env, Binds: o.Binds, Network: o.Network,
		MemoryBytes: in.limit, Pids: o.Pids, CPUs: o.CPUs, TmpBytes: o.TmpBytes,
		Files: append(append(stateFile(o.Command, o.StateFile != "" || o.StateStore != nil, in.checkpoint), in.files...), o.Files...),
		UID:   o.UID, GID: o.GID, Workdir: o.Workdir, WorkBytes: o.WorkBytes, WorkdirOwned: !o.KeepWorkdir,
		SeccompUnconfined: o.SeccompUnconfined,
	}, container.IO{Stdin: stdin, Stderr: stderr, StderrCap: o.StderrCap})
	a.sideResult = *tap.res
	if err != nil {
		if tgt != nil {
			tgtIn.Close()
			_ = tgt.c.Kill()
			tgt.finish(o)
			<-tgtDone
			*a.target = *tgt.res
		}
		return a.setup(err)
	}

	cfg := o.Stream
	var dst *checkedWriter
	if pipeline {
		dst = newCheckedWriter(tgtIn, "the target's stdin")
		cfg.OnState = guardState(dst, in.checkpoint.emit)
	} else {
		dst = out
		cfg.OnState = guardState(dst, in.checkpoint.confirm)
	}
	if cfg.Warn == nil {
		cfg.Warn = o.Stderr
		if prog != nil {
			cfg.Warn = prog
		}
		if o.Quiet {
			// Line warnings are in the report and the flags file; quiet
			// is one line on failure (the summary) and none on success.
			cfg.Warn = io.Discard
		}
	}
	sc := stream.New(cfg)
	pumpDone := make(chan error, 1)
	sink := io.Writer(dst)
	if cfg.Protocol == stream.Raw && !pipeline {
		// Unwrapped, so the copy splices pipe to pipe in the kernel; raw
		// mode has no STATE to guard, and its write errors come back as
		// *stream.OutputError (sideOutputFailed).
		sink = o.Stdout
	}
	go func() { pumpDone <- sc.Run(sink, tap.c.Stdout) }()
	spans := trackStreams(sc, tap.res.started)

	if prog != nil {
		prog.start(func() progressFigures {
			return progressFigures{stats: sc.Snapshot(), memory: tap.sampler.Last().Bytes, limit: in.limit, elapsed: time.Since(a.started)}
		})
	}

	var (
		killTimer  <-chan time.Time
		stopping   report.Outcome
		stopSig    syscall.Signal
		pumpErr    error
		pumpOpen   = true
		tapOpen    = true
		tgtOpen    = pipeline
		tgtReadErr error
		tgtReading = pipeline
		tgtEarly   bool // the target exited while the tap still had data for it
	)
	killAll := func() {
		_ = tap.c.Kill()
		if tgt != nil {
			_ = tgt.c.Kill()
		}
	}
	stop := func(sig syscall.Signal, why report.Outcome) {
		if stopping == "" {
			stopping, stopSig = why, sig
			_ = tap.c.Signal(sig)
			if tgt != nil {
				_ = tgt.c.Signal(sig)
			}
			killTimer = time.After(o.StopTimeout)
			return
		}
		// A second Ctrl-C (or SIGTERM) means now, not after --stop-timeout.
		if why == report.Interrupted {
			killAll()
		}
	}
	// closeTarget sends the target EOF. If its stdin has no reader left by
	// then (it exited, or closed it), it never saw the end of its input.
	unread := 0
	var peer *os.File // a read end of the target's stdin, taken only once nothing more is written
	closeTarget := func() {
		if tgtIn != nil {
			if gone, n := readerGone(tgtIn); gone {
				tgtEarly, unread = true, n
			} else if !pumpOpen {
				// The stream is complete. To learn later whether the target
				// read it all before exiting 0, hold a read end of the same
				// pipe from here on (taken now, not earlier: it would keep
				// a target that stopped reading from ever causing EPIPE).
				if peer = peerReadEnd(tgt.c.Pid(), tgtIn); peer == nil {
					tgtEarly = true // it went away between the two looks
				}
			}
			tgtIn.Close() // EOF for the target; also unblocks a write it stopped reading
			tgtIn = nil
		}
	}
	defer func() {
		if peer != nil {
			peer.Close()
		}
	}()
	tapDone, tgtExit := tap.c.Done(), (<-chan struct{})(nil)
	if tgt != nil {
		tgtExit = tgt.c.Done()
	}
	cancelled := ctx.Done()
	var grace <-chan time.Time
	for tapOpen || tgtOpen || pumpOpen || tgtReading {
		if stopping != "" && !tapOpen && !tgtOpen && grace == nil {
			// Every container is gone; what is left is our own copying. A
			// downstream that stopped reading gets a short grace, no more:
			// it must not keep the runner past --timeout or a signal.
			grace = time.After(outputGrace)
		}
		select {
		case <-tapDone:
			tapDone, tapOpen = nil, false
		case <-tgtExit:
			tgtExit, tgtOpen = nil, false
			if pumpOpen {
				// It stopped before the tap's stream ended: nothing more
				// can be delivered, so the tap must stop too.
				tgtEarly = true
				closeTarget()
				_ = tap.c.Kill()
			}
		case sig := <-o.Signals:
			if s, ok := sig.(syscall.Signal); ok {
				stop(s, report.Interrupted)
			}
		case <-cancelled:
			cancelled = nil // a closed channel would fire on every turn
			stop(syscall.SIGTERM, report.Interrupted)
		case <-in.deadline:
			in.deadline = nil
			stop(syscall.SIGTERM, report.TimedOut)
		case <-killTimer:
			killTimer = nil
			killAll()
			closeTarget()
		case err := <-pumpDone:
			pumpOpen = false
			pumpErr = err
			closeTarget()
			if err != nil {
				// A policy stop or a failed output: nothing more can be
				// delivered, so the connector must stop now.
				_ = tap.c.Kill()
			}
		case r := <-tgtDone:
			tgtReading = false
			tgtReadErr, a.targetOut = r.err, r.out
			if r.err != nil {
				_ = tgt.c.Kill() // its confirmations can no longer be kept
			}
		case <-grace:
			a.stuck = true
			closeTarget()
			pumpOpen, tgtReading = false, false
		}
	}
	prog.stop()
	tap.finish(o)
	a.sideResult = *tap.res
	a.stats = sc.Snapshot()
	a.streams = spans()
	if tgt != nil {
		tgt.finish(o)
		*a.target = *tgt.res
		if peer != nil {
			// What the target left in its stdin when it exited: a target
			// that exits 0 without reading to the end did not commit it.
			if n, err := unix.IoctlGetInt(int(peer.Fd()), unix.TIOCINQ); err == nil && n > 0 {
				tgtEarly, unread = true, n
			}
		}
	}
	if a.stuck {
		pumpErr = &OutputError{Output: "stdout", Err: errors.New("the reader stopped taking data")}
	}
	if pipeline && dst.failure() != nil {
		tgtEarly = true // EPIPE: nobody reads the target's stdin any more
	}
	// In a pipeline, a target that read everything and exited 0 has
	// committed every record it was sent: the tap's last STATE holds.
	tgtOK := tgt != nil && !a.target.failed() && a.target.ran && unread == 0 && !tgtEarly && tgtReadErr == nil && !a.stuck
	if tgtOK {
		if err := in.checkpoint.promote(); err != nil && tgtReadErr == nil {
			tgtReadErr = err
		}
	}
	a.classify(o, in, stopping, stopSig, pumpErr, tgtReadErr, unread, tgtEarly, out)
	return a
}

// peerReadEnd opens the read end of the pipe w through the target's own
// fd 0 (/proc/PID/fd/0 of a pipe opens that pipe), and checks it is the
// same pipe. nil if the target no longer has it.
func peerReadEnd(pid int, w *os.File) *os.File {
	if pid <= 0 {
		return nil
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/0", pid), os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || func() error {
		rc, err := w.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if cerr := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &b) }); cerr != nil {
			return cerr
		}
		return serr
	}() != nil || a.Dev != b.Dev || a.Ino != b.Ino {
		f.Close()
		return nil
	}
	return f
}

// trackStreams notes, every 50 ms, which stream the scanner is reading, so
// an OOM diagnosis can name the stream in flight while memory grew. The
// returned func stops it and gives the spans (a change each, bounded).
func trackStreams(sc *stream.Scanner, start time.Time) func() []report.StreamSpan {
	const maxSpans = 1000
	done, out := make(chan struct{}), make(chan []report.StreamSpan, 1)
	go func() {
		var spans []report.StreamSpan
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				out <- spans
				return
			case <-t.C:
				cur := sc.CurrentStream()
				if cur != "" && (len(spans) == 0 || spans[len(spans)-1].Stream != cur) && len(spans) < maxSpans {
					spans = append(spans, report.StreamSpan{Seconds: time.Since(start).Seconds(), Stream: cur})
				}
			}
		}
	}()
	return func() []report.StreamSpan { close(done); return <-out }
}

// readerGone says whether a pipe's read end is closed everywhere (poll's
// POLLERR on the write end) and how many bytes it still holds.
func readerGone(w *os.File) (gone bool, pending int) {
	rc, err := w.SyscallConn()
	if err != nil {
		return false, 0
	}
	_ = rc.Control(func(fd uintptr) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		if n, err := unix.Poll(pfd, 0); err == nil && n > 0 && pfd[0].Revents&unix.POLLERR != 0 {
			gone = true
		}
		pending, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) // FIONREAD
	})
	return gone, pending
}

type targetDone struct {
	out targetOutput
	err error
}

// guardState refuses a STATE once the output has failed: with records lost
// before it, the checkpoint must not move past them.
func guardState(w *checkedWriter, next func([]byte) error) func([]byte) error {
	return func(v []byte) error {
		if err := w.failure(); err != nil {
			return err
		}
		return next(v)
	}
}

// classify decides the attempt's outcome, most specific cause first.
func (a *attemptResult) classify(o *Options, in attemptInput, stopping report.Outcome, stopSig syscall.Signal,
	pumpErr, tgtErr error, unread int, tgtEarly bool, out *checkedWriter) {
	var perr *stream.PolicyError
	var oerr *OutputError
	tgtOOM := a.target != nil && a.target.last.OOMKills > 0
	ckErr := in.checkpoint.failure()
	switch {
	case stopping == report.Interrupted:
		a.outcome, a.exitCode = report.Interrupted, report.InterruptedExitCode(int(stopSig))
	case stopping == report.TimedOut:
		a.outcome, a.exitCode = report.TimedOut, report.ExitTimeout
		a.err = fmt.Errorf("the time limit was reached; the connector was stopped")
		if a.stuck {
			a.err = fmt.Errorf("the time limit was reached; the output stopped taking data and the connector was stopped")
		}
	case errors.As(pumpErr, &perr):
		a.outcome, a.exitCode, a.err = report.PolicyStopped, report.ExitPolicyStop, pumpErr
	case a.last.OOMKills > 0:
		// The kernel's counter, not the exit status: a killed child of
		// the connector counts even when PID 1 survives it.
		a.outcome, a.exitCode, a.failedIn = report.OOMKilled, report.ExitOOM, "connector"
		a.err = fmt.Errorf("the %s was OOM-killed at its memory limit of %s", a.noun(), report.FlagSize(a.limit))
	case tgtOOM:
		a.outcome, a.exitCode, a.failedIn = report.OOMKilled, report.ExitOOM, "target"
		a.err = fmt.Errorf("the target was OOM-killed at its memory limit of %s", report.FlagSize(a.target.limit))
	case ckErr != nil:
		a.outcome, a.exitCode, a.err = report.OutputFailed, report.ExitOutputFailed, ckErr
	case out.failure() != nil:
		a.outcome, a.exitCode, a.err = report.OutputFailed, report.ExitOutputFailed, out.failure()
	case errors.As(tgtErr, &oerr), errors.As(pumpErr, &oerr) && a.target == nil:
		a.outcome, a.exitCode, a.err = report.OutputFailed, report.ExitOutputFailed, oerr
	case sideOutputFailed(pumpErr, o) != nil:
		a.outcome, a.exitCode, a.err = report.OutputFailed, report.ExitOutputFailed, sideOutputFailed(pumpErr, o)
	case a.target != nil && a.target.failed():
		a.outcome, a.exitCode, a.failedIn = report.Failed, report.ExitConnectorFailed, "target"
		a.err = fmt.Errorf("the target %s", a.target.exit)
		if msg := a.targetOut.TraceErr; msg != "" {
			a.err = fmt.Errorf("the target %s: %s", a.target.exit, msg)
		}
	case a.target != nil && tgtEarly:
		// Before the tap's own failure: the tap was killed because of it.
		a.outcome, a.exitCode, a.failedIn = report.Failed, report.ExitConnectorFailed, "target"
		a.err = fmt.Errorf("the target stopped reading its input before the end (it exited or closed its stdin; %d bytes were left in the pipe): "+
			"only the STATEs it printed are kept, not the tap's", unread)
	case a.failed():
		a.outcome, a.exitCode, a.failedIn = report.Failed, report.ExitConnectorFailed, "connector"
		a.err = fmt.Errorf("the %s %s", a.noun(), a.exit)
		if te := a.stats.TraceError; te != nil {
			// What the connector said of its own failure (an Airbyte
			// TRACE ERROR) is the report's error, with its failure type.
			a.err = fmt.Errorf("the %s %s: %s (%s)", a.noun(), a.exit, te.Message, te.FailureType)
		}
	case pumpErr != nil:
		a.outcome, a.exitCode = report.Failed, report.ExitConnectorFailed
		a.err = fmt.Errorf("record stream: %w", pumpErr)
	case tgtErr != nil:
		a.outcome, a.exitCode, a.failedIn = report.Failed, report.ExitConnectorFailed, "target"
		a.err = tgtErr
	default:
		a.outcome, a.exitCode = report.Succeeded, report.ExitOK
	}
}

// sideOutputFailed is a failure of the scanner's own outputs (the flags
// file, the rejects dir), named as the user gave them; nil otherwise. The
// record stream's own output is checked by its checkedWriter.
func sideOutputFailed(err error, o *Options) error {
	var se *stream.OutputError
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Output {
	case "output":
		if o.Target != nil {
			return nil // the target's stdin: the target's failure, told apart above
		}
		return &OutputError{Output: "stdout", Err: se}
	case "flags":
		return &OutputError{Output: "the flags file", Err: se}
	case "rejects":
		return &OutputError{Output: "the rejects dir " + o.Stream.RejectsDir, Err: se}
	}
	return nil
}

func (a *attemptResult) noun() string {
	if a.target != nil {
		return "tap"
	}
	return "connector"
}

// Placeholders in a command, replaced by the paths where the connector finds
// the files inside its container.
const (
	phState        = "{state}"
	phConfig       = "{config}"
	phTargetConfig = "{target-config}"
	phCatalog      = "{catalog}"
)

// substitute replaces the placeholders in cmd. ck is nil for a target,
// which never reads the tap's state.
func substitute(cmd []string, ck *checkpoint) []string {
	r := strings.NewReplacer(phState, StatePath, phConfig, ConfigPath, phTargetConfig, TargetConfigPath, phCatalog, CatalogPath)
	out := make([]string, len(cmd))
	for i, a := range cmd {
		out[i] = r.Replace(a)
	}
	return out
}

// stateFile stages the state the connector reads at {state}: always there
// (an empty object before the first STATE), so "--state {state}" works on
// a first run too.
func stateFile(cmd []string, kept bool, ck *checkpoint) []container.File {
	uses := kept
	for _, a := range cmd {
		uses = uses || strings.Contains(a, phState)
	}
	if !uses {
		return nil
	}
	st := ck.input()
	if len(st) == 0 {
		st = []byte("{}")
	}
	return []container.File{{Destination: StatePath, Content: st}}
}

// SetupError is a runner-side failure before any container started that is
// the host's fault (an unreadable SYNCBOX_HOME, a broken ledger): exit 6.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }
