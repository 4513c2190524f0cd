// Package runlock keeps one run per connector and tenant at a time: a lock
// on (tenant, name) that a runner takes before it touches any state and
// holds for the whole run, retries included. A second runner learns who
// holds it (run id, start time, pid, machine) and either gives up at once
// or waits.
//
// Locks must free themselves when their holder dies, so that no stale-lock
// cleanup is ever needed: the local backend is a flock(2) on a file under
// the syncbox home (the kernel drops it with the last descriptor), and a
// store-backed one (see package fleet) is tied to a database session.
//
// The package decides nothing about exit codes or flags; it reports a held
// lock as a *HeldError and leaves the rest to its caller.
package runlock

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"
)

// Key names what is locked: one connector of one tenant.
type Key struct {
	Tenant string
	Name   string
}

func (k Key) String() string { return "connector " + k.Name + " (tenant " + k.Tenant + ")" }

// validate keeps a key usable as path components and database values.
func (k Key) validate() error {
	for what, v := range map[string]string{"tenant": k.Tenant, "connector name": k.Name} {
		if v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\x00") {
			return fmt.Errorf("run lock: invalid %s %q", what, v)
		}
	}
	return nil
}

// Holder is who holds a lock. A second runner reads it to say who it
// waits for; the zero RunID means the holder could not be identified.
type Holder struct {
	RunID   string    `json:"run_id,omitempty"`
	Started time.Time `json:"started,omitzero"`
	PID     int       `json:"pid,omitempty"`
	Machine string    `json:"machine,omitempty"`
	// Token is the lock's fencing token: it grows with every acquisition
	// of the same key, so a write tagged with an older token is stale.
	Token int64 `json:"token,omitempty"`
}

func (h Holder) String() string {
	if h.RunID == "" {
		return "a runner that could not be identified"
	}
	return fmt.Sprintf("run %s started %s (pid %d on %s)", h.RunID, h.Started.UTC().Format(time.RFC3339), h.PID, h.Machine)
}

// HeldError says that another runner holds the lock.
type HeldError struct {
	Key    Key
	Holder Holder
	Waited time.Duration // how long Acquire waited before giving up (0: it did not wait)
}

func (e *HeldError) Error() string {
	msg := fmt.Sprintf("already running: %s is being run by %s", e.Key, e.Holder)
	if e.Waited > 0 {
		msg += fmt.Sprintf("; gave up after waiting %s", e.Waited.Round(time.Millisecond))
	}
	return msg
}

// Backend takes locks without waiting; Acquire adds the waiting.
type Backend interface {
	// TryLock takes the lock on k for h, or returns a *HeldError naming
	// the current holder. Any other error means the backend failed.
	TryLock(ctx context.Context, k Key, h Holder) (*Lock, error)
}

// Spec says which lock to take and how long to wait for it.
type Spec struct {
	Home   string // syncbox home, for the local backend
	Tenant string
	Name   string
	RunID  string
	// Wait is how long to wait for a held lock; 0 gives up at once.
	Wait time.Duration
	// Backend takes the lock; nil means a flock under Home.
	Backend Backend
}

// pollInterval is how often a waiting runner tries again; jittered so
// that many waiters do not retry in lockstep.
const pollInterval = 100 * time.Millisecond

// Acquire takes the lock described by s, waiting up to s.Wait for it. It
// returns a *HeldError if the lock stayed held, and ctx's error (wrapped)
// if ctx ended the wait.
func Acquire(ctx context.Context, s Spec) (*Lock, error) {
	k := Key{Tenant: s.Tenant, Name: s.Name}
	if err := k.validate(); err != nil {
		return nil, err
	}
	b := s.Backend
	if b == nil {
		b = Local{Home: s.Home}
	}
	host, _ := os.Hostname()
	t0 := time.Now()
	var deadline <-chan time.Time
	if s.Wait > 0 {
		t := time.NewTimer(s.Wait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		h := Holder{RunID: s.RunID, Started: time.Now().UTC(), PID: os.Getpid(), Machine: host}
		l, err := b.TryLock(ctx, k, h)
		var held *HeldError
		if !errors.As(err, &held) {
			return l, err
		}
		if s.Wait <= 0 {
			return nil, err
		}
		wait := time.NewTimer(pollInterval/2 + rand.N(pollInterval))
		select {
		case <-ctx.Done():
			wait.Stop()
			return nil, fmt.Errorf("waiting for the run lock of %s (held by %s): %w", k, held.Holder, ctx.Err())
		case <-deadline:
			wait.Stop()
			held.Waited = time.Since(t0)
			return nil, held
		case <-wait.C:
		}
	}
}

// Lock is a held run lock. Release it when the run ends; a runner that
// dies releases it implicitly.
type Lock struct {
	holder   Holder
	lost     chan struct{}
	lostOnce sync.Once
	release  func() error
	relOnce  sync.Once
	relErr   error
}

// NewLock is for backends: it wraps a lock held by h, released by
// release. markLost closes Lost(); call it when the lock can no longer be
// trusted (e.g. the database session that held it is gone).
func NewLock(h Holder, release func() error) (l *Lock, markLost func()) {
	l = &Lock{holder: h, lost: make(chan struct{}), release: release}
	return l, func() { l.lostOnce.Do(func() { close(l.lost) }) }
}

// Holder is this lock's holder record, token included.
func (l *Lock) Holder() Holder { return l.holder }

// Token is the lock's fencing token.
func (l *Lock) Token() int64 { return l.holder.Token }

// Lost is closed if the lock was lost while held. A local flock is never
// lost; a store-backed lock is lost with its database session.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Release frees the lock. Calling it again does nothing.
func (l *Lock) Release() error {
	l.relOnce.Do(func() { l.relErr = l.release() })
	return l.relErr
}
