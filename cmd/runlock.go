package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"syncbox/run"
	"syncbox/run/report"
	"syncbox/run/runlock"
)

func runLockFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "wait-for-lock", Category: "Checkpoints and reports",
			Usage: "if another run of this connector and tenant is in progress, wait up to `DURATION` for it (default: exit 8 at once)"},
	}
}

// acquireRunLock takes the (tenant, name) run lock before the run touches
// any state, and holds it until Release: retries, checkpoints, report and
// history all happen under it. A held lock is exit 8 with the holder; a
// SIGINT/SIGTERM while waiting is 130/143 (nothing runs yet, so the signal
// is consumed here). backend nil is the local flock under the home.
func acquireRunLock(c *cli.Context, o *run.Options, home string, backend runlock.Backend) (*runlock.Lock, error) {
	wait := c.Duration("wait-for-lock")
	if wait < 0 {
		return nil, usageError("--wait-for-lock %s: must not be negative", wait)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var caught os.Signal
	watched := make(chan struct{})
	if wait > 0 {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sigs)
		go func() {
			defer close(watched)
			select {
			case caught = <-sigs:
				cancel()
			case <-ctx.Done():
			}
		}()
	} else {
		close(watched)
	}
	l, err := runlock.Acquire(ctx, runlock.Spec{Home: home, Tenant: o.Tenant, Name: o.Name, RunID: o.RunID, Wait: wait, Backend: backend})
	cancel()
	<-watched // caught is settled once the watcher has returned
	var held *runlock.HeldError
	switch {
	case caught != nil:
		if l != nil {
			_ = l.Release()
		}
		s, _ := caught.(syscall.Signal)
		return nil, &exitError{code: report.InterruptedExitCode(int(s)), msg: fmt.Sprintf("interrupted by %s: %v", unix.SignalName(s), err)}
	case err == nil:
		return l, nil
	case errors.As(err, &held):
		msg := err.Error()
		if wait == 0 {
			msg += " (--wait-for-lock DURATION waits for it)"
		}
		return nil, &exitError{code: report.ExitAlreadyRunning, msg: msg}
	default:
		return nil, &exitError{code: report.ExitSetupFailed, msg: err.Error()}
	}
}
