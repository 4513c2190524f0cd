package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"syncbox/run/container"
)

// Exit codes, the contract with cron jobs and CI steps (README, run --help).
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitOOM         = 3
	ExitTimeout     = 4
	ExitPolicy      = 5
	ExitSetup       = 6
	ExitBudget      = 7
	ExitInterrupted = 130 // SIGINT; SIGTERM gives 143
)

// Options describe one run. Zero values mean the documented defaults.
type Options struct {
	RunID   string
	Name    string
	Tenant  string
	Command []string

	Env         []string
	Binds       []container.Bind
	Network     container.Network
	MemoryBytes int64
	Pids        int64
	CPUs        float64
	TmpBytes    int64

	Paths       container.Paths
	StopTimeout time.Duration // after a forwarded signal, before SIGKILL
	Timeout     time.Duration // wall clock; 0 = none

	Stdin   *os.File
	Stdout  io.Writer
	Stderr  *os.File
	Signals <-chan os.Signal // SIGINT/SIGTERM delivered to the runner
}

// Result is what a run ended with.
type Result struct {
	RunID     string
	ExitCode  int
	Outcome   string
	Connector container.Exit
	Err       error // setup or stream error, if any
	Started   time.Time
	Ended     time.Time
}

// NewRunID returns a sortable, unique run id: UTC time plus random bits.
func NewRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// Run runs one connector invocation to the end and cleans up after it,
// whatever happens: normal exit, crash, signal, timeout.
func Run(ctx context.Context, o Options) *Result {
	res := &Result{RunID: o.RunID, Started: time.Now()}
	if res.RunID == "" {
		res.RunID = NewRunID()
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
	// Leftovers of runners that died (SIGKILL, power loss) go first.
	if gone, err := container.Cleanup(o.Paths); err != nil {
		fmt.Fprintf(o.Stderr, "syncbox: cleanup of earlier runs: %v\n", err)
	} else {
		for _, l := range gone {
			fmt.Fprintf(o.Stderr, "syncbox: removed leftover of dead run %s: %s\n", l.RunID, l.What)
		}
	}

	c, err := container.Start(o.Paths, container.Spec{
		ID:          res.RunID,
		Args:        o.Command,
		Env:         o.Env,
		Binds:       o.Binds,
		Network:     o.Network,
		MemoryBytes: o.MemoryBytes,
		Pids:        o.Pids,
		CPUs:        o.CPUs,
		TmpBytes:    o.TmpBytes,
	}, o.Stdin, o.Stderr)
	if err != nil {
		res.Err = err
		res.ExitCode, res.Outcome = ExitSetup, "setup_failed"
		res.Ended = time.Now()
		return res
	}
	defer c.Destroy()

	pumpDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(o.Stdout, c.Stdout)
		pumpDone <- err
	}()

	var (
		timeout   <-chan time.Time
		killTimer <-chan time.Time
		stopping  string // outcome decided by the runner: interrupted, timed_out
		stopSig   os.Signal
		pumpErr   error
		pumpOpen  = true
	)
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	stop := func(sig os.Signal, why string) {
		if stopping == "" {
			stopping, stopSig = why, sig
			_ = c.Signal(sig)
			killTimer = time.After(o.StopTimeout)
		}
	}
	var once sync.Once
loop:
	for {
		select {
		case <-c.Done():
			break loop
		case sig := <-o.Signals:
			stop(sig, "interrupted")
		case <-ctx.Done():
			stop(syscall.SIGTERM, "interrupted")
		case <-timeout:
			stop(syscall.SIGTERM, "timed_out")
		case <-killTimer:
			_ = c.Kill()
		case err := <-pumpDone:
			pumpOpen = false
			if err != nil {
				// Downstream is gone (EPIPE) or the stream policy stopped
				// the run: nothing more can be delivered, so stop now.
				pumpErr = err
				once.Do(func() { _ = c.Kill() })
			}
		}
	}
	res.Connector, err = c.Wait()
	if err != nil && res.Err == nil {
		res.Err = err
	}
	if pumpOpen {
		pumpErr = <-pumpDone
	}
	if err := c.Destroy(); err != nil {
		fmt.Fprintf(o.Stderr, "syncbox: cleanup: %v\n", err)
	}
	res.Ended = time.Now()

	switch {
	case stopping == "interrupted":
		res.Outcome = "interrupted"
		res.ExitCode = 128 + int(stopSig.(syscall.Signal))
	case stopping == "timed_out":
		res.Outcome, res.ExitCode = "timed_out", ExitTimeout
	case pumpErr != nil:
		res.Outcome, res.ExitCode = "failed", ExitFailed
		res.Err = errors.Join(res.Err, fmt.Errorf("output: %w", pumpErr))
	case res.Connector.Signaled || res.Connector.Code != 0:
		res.Outcome, res.ExitCode = "failed", ExitFailed
	default:
		res.Outcome, res.ExitCode = "succeeded", ExitOK
	}
	return res
}
