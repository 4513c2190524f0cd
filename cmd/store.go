package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"syncbox/limits/history"
	"syncbox/run"
	"syncbox/run/fleet"
	"syncbox/run/report"
	"syncbox/run/runlock"
)

// storeFlag is --store, in the run command's category if one is given.
func storeFlag(category string) cli.Flag {
	return &cli.StringFlag{Name: "store", EnvVars: []string{"SYNCBOX_STORE"}, Category: category,
		Usage: "share run history, checkpoints and the run lock with other machines through PostgreSQL at `URL` " +
			"(postgres://user@/db?host=/run/postgresql); default: local files under SYNCBOX_HOME"}
}

// shared is the --store of one command, or nil without one. Its methods
// work on nil and then mean the local files.
type shared struct {
	st    *fleet.Store
	locks *fleet.Locks
}

// openShared connects to --store. A store that cannot be reached is exit
// 6 with its URL, password hidden.
func openShared(c *cli.Context) (*shared, error) {
	u := c.String("store")
	if u == "" {
		return nil, nil
	}
	if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return nil, usageError("--store %s: want a postgres:// or postgresql:// URL", fleet.Redact(u))
	}
	st, err := fleet.Open(context.Background(), u)
	if err != nil {
		return nil, &exitError{code: report.ExitSetupFailed, msg: "--store: " + err.Error()}
	}
	return &shared{st: st, locks: st.Locks()}, nil
}

func (s *shared) close() {
	if s != nil {
		s.locks.Close()
		s.st.Close()
	}
}

// lockBackend is where the run lock lives; nil is the local flock.
func (s *shared) lockBackend() runlock.Backend {
	if s == nil {
		return nil
	}
	return s.locks
}

// history is where runs are recorded and forecasts learn from.
func (s *shared) history(home string) history.Backend {
	if s == nil {
		return history.AtHome(home)
	}
	return s.st.History()
}

// useCheckpoint keeps the run's checkpoint in the store, per tenant and
// name, unless --state-file names a file. Call it with the lock held.
func (s *shared) useCheckpoint(o *run.Options) error {
	if s == nil || o.StateFile != "" {
		return nil
	}
	ck, err := s.locks.Checkpoint(o.RunID)
	if err != nil {
		return &exitError{code: report.ExitSetupFailed, msg: err.Error()}
	}
	o.StateStore = ck
	return nil
}

// notRecorded adds to the report what the run could not record, and
// rewrites the report file if there is one: history is appended after the
// run's report was first written.
func notRecorded(o *run.Options, rep *report.Report, lock *runlock.Lock, histErr error) {
	select {
	case <-lock.Lost():
		rep.NotRecorded = append(rep.NotRecorded, "the run lock was lost during the run (store unreachable): no checkpoint was saved after that")
	default:
	}
	if histErr != nil {
		rep.NotRecorded = append(rep.NotRecorded, "run history: "+histErr.Error())
	}
	if len(rep.NotRecorded) == 0 || o.ReportPath == "" {
		return
	}
	if err := rep.WriteFile(o.ReportPath); err != nil {
		fmt.Fprintf(o.Stderr, "syncbox: %v\n", err)
	}
}
