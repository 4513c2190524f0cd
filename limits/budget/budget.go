// Package budget keeps a machine-wide memory budget for concurrent syncbox
// runs. Per-run memory limits only protect the machine if the limits of
// everything running add up to no more than it has, so before its container
// starts every `syncbox run` reserves its memory limit (and one of
// --max-concurrent slots) here and waits, first come first served, while
// the budget is short. `syncbox ps` reads the same ledger.
//
// Runs are independent processes (cron starts many at the same minute); there
// is no daemon. They coordinate through files in <dir>/budget/:
//
//	ledger.lock     flock(LOCK_EX) held around every read-modify-write of the ledger
//	ledger.json     queued and running entries, replaced atomically (write + rename)
//	entries/*.lock  one per entry; its owner holds flock(LOCK_EX) on it while it lives
//
// Liveness does not trust PIDs, which get reused: an entry is alive while its
// lock file is locked. The kernel drops a flock when the last fd to it closes,
// which happens when the owner dies even by SIGKILL, so whoever next holds
// ledger.lock tests each entry with LOCK_EX|LOCK_NB and reclaims dead ones.
// Every fd is O_CLOEXEC so a container child cannot inherit a lock and keep a
// dead runner's reservation alive.
//
// Order is strict FIFO by arrival ticket, without backfill: a big request at
// the head blocks smaller ones behind it even if they would fit. Backfill
// would let a steady stream of small runs starve a big one forever; FIFO
// bounds every run's wait by the runs ahead of it.
//
// A tenant share (SetTenantBudget) caps what one tenant's running entries
// reserve together. An entry over its tenant's share waits for that
// tenant's own runs and is passed over meanwhile: it is not the head of the
// machine's queue, so one tenant's OOM storm (retries reserving ever more)
// cannot make every other tenant wait or be refused.
//
// Each entry is admitted against its own owner's budget and slot count, so
// the outcome does not depend on which process happens to update the ledger;
// runs on one machine should nevertheless pass the same numbers.
package budget

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"syncbox/limits"
)

// DefaultQueueTimeout is how long Acquire waits when AcquireOptions.Timeout is zero.
const DefaultQueueTimeout = 30 * time.Minute

// A waiter looks for inotify events every pollInterval (one non-blocking
// read) and re-reads the ledger under its lock when there were any, or at
// least every fullCheckInterval in case an event was missed.
const (
	pollInterval      = 100 * time.Millisecond
	fullCheckInterval = time.Second
)

var (
	// ErrTooLarge: the request alone exceeds the whole budget, so it can never run.
	ErrTooLarge = errors.New("memory limit exceeds the whole host memory budget")
	// ErrBusy: NoWait was set and the run could not start at once.
	ErrBusy = errors.New("host memory budget is short and waiting is disabled")
	// ErrTimeout: the run waited for the queue timeout without being admitted.
	ErrTimeout = errors.New("timed out waiting for host memory budget")
)

// State is whether an entry holds its reservation or waits for it.
type State string

const (
	StateQueued  State = "queued"
	StateRunning State = "running"
)

// Ledger is the machine-wide budget as seen by one process. It holds no open
// files between calls and is safe for concurrent use.
type Ledger struct {
	dir           string
	total         int64
	maxConcurrent int
	tenantBudget  int64 // 0: no per-tenant share
}

// SetTenantBudget caps the memory one tenant's running entries may hold
// together (0: no cap). Set it before Acquire.
func (l *Ledger) SetTenantBudget(bytes int64) error {
	if bytes < 0 || bytes > l.total {
		return fmt.Errorf("tenant memory budget %s must be between 0 and the host memory budget %s",
			limits.FormatSize(bytes), limits.FormatSize(l.total))
	}
	l.tenantBudget = bytes
	return nil
}

// Request describes the run asking for memory.
type Request struct {
	RunID  string // unique among live entries
	Name   string
	Tenant string
	Bytes  int64 // the run's memory limit
	PID    int   // shown by ps; 0 means this process
}

// Waiting is what a queued run reports while it waits.
type Waiting struct {
	Ahead         int   // queued runs that arrived earlier and go first
	NeedBytes     int64 // the run's request
	FreeBytes     int64 // budget not reserved by running runs right now
	Running       int   // runs holding a reservation
	MaxConcurrent int   // slot limit, 0 = unlimited
}

// AcquireOptions controls waiting.
type AcquireOptions struct {
	NoWait  bool          // fail with ErrBusy instead of queueing
	Timeout time.Duration // 0 means DefaultQueueTimeout
	OnWait  func(Waiting) // called when the run starts waiting and whenever Waiting changes
}

// Entry is one run in the ledger, for ps.
type Entry struct {
	Ticket  uint64 // arrival order; lower goes first
	RunID   string
	Name    string
	Tenant  string
	State   State
	Bytes   int64
	PID     int
	Since   time.Time // when admitted if running, when it arrived if queued
	Arrived time.Time
	// Budget and MaxConcurrent are the ones its owner was started with:
	// the budget in force for it, whatever the reader's own settings.
	Budget        int64
	MaxConcurrent int
}

// Status is a snapshot of the ledger.
type Status struct {
	Total         int64 // this process's budget
	Reserved      int64 // sum of running entries
	Free          int64 // Total - Reserved, never negative
	MaxConcurrent int
	Running       int
	Queued        int
	Entries       []Entry // in ticket order
}

// Reservation is a run's place in the ledger: admitted when Acquire returns
// it, held until Release or until the process dies.
type Reservation struct {
	l      *Ledger
	entry  Entry
	lock   string   // entry lock file name under entries/
	fd     *os.File // holds the flock that keeps the entry alive
	queued time.Duration

	mu       sync.Mutex
	released bool
	err      error
}

// Open prepares the ledger under dir/budget (dir is normally $SYNCBOX_HOME)
// for a process whose budget is totalBytes and which allows maxConcurrent
// running entries (0 = unlimited). It reclaims entries of dead runs.
func Open(dir string, totalBytes int64, maxConcurrent int) (*Ledger, error) {
	if dir == "" {
		return nil, errors.New("open host memory budget: empty ledger directory")
	}
	if totalBytes <= 0 {
		return nil, fmt.Errorf("host memory budget must be positive, got %d bytes", totalBytes)
	}
	if maxConcurrent < 0 {
		return nil, fmt.Errorf("max concurrent runs must be 0 (unlimited) or more, got %d", maxConcurrent)
	}
	l := &Ledger{dir: filepath.Join(dir, "budget"), total: totalBytes, maxConcurrent: maxConcurrent}
	if err := os.MkdirAll(l.path(entriesDir), 0o700); err != nil {
		return nil, fmt.Errorf("create budget ledger directory: %w", err)
	}
	s, err := l.begin()
	if err != nil {
		return nil, err
	}
	defer s.end()
	if err := s.sweepOrphans(); err != nil {
		return nil, err
	}
	if err := s.commit(); err != nil {
		return nil, err
	}
	return l, nil
}

// Dir is the directory holding the ledger files.
func (l *Ledger) Dir() string { return l.dir }

// Acquire reserves req.Bytes and a slot, waiting in arrival order while the
// budget is short. It returns ErrTooLarge at once if the request exceeds the
// whole budget, ErrBusy if opt.NoWait and the run cannot start now, and
// ErrTimeout after opt.Timeout. On any error the run leaves the queue.
func (l *Ledger) Acquire(ctx context.Context, req Request, opt AcquireOptions) (*Reservation, error) {
	if req.RunID == "" {
		return nil, errors.New("acquire host memory: empty run id")
	}
	if req.Bytes <= 0 {
		return nil, fmt.Errorf("acquire host memory for run %s: memory limit must be positive, got %d bytes", req.RunID, req.Bytes)
	}
	if req.Bytes > l.total {
		return nil, fmt.Errorf("run %s: memory limit %s is larger than the whole host memory budget %s; lower the limit or raise the budget: %w",
			req.RunID, limits.FormatSize(req.Bytes), limits.FormatSize(l.total), ErrTooLarge)
	}
	if l.tenantBudget > 0 && req.Bytes > l.tenantBudget {
		return nil, fmt.Errorf("run %s: memory limit %s is larger than tenant %q's share of the host memory budget %s: %w",
			req.RunID, limits.FormatSize(req.Bytes), req.Tenant, limits.FormatSize(l.tenantBudget), ErrTooLarge)
	}
	if req.PID == 0 {
		req.PID = os.Getpid()
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultQueueTimeout
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("acquire host memory for run %s: %w", req.RunID, err)
	}

	start := time.Now()
	r, w, err := l.enqueue(req)
	if err != nil {
		return nil, err
	}
	if r.entry.State == StateRunning {
		return r, nil
	}
	if opt.NoWait {
		if err := r.Release(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("run %s needs %s: %w (%s)", req.RunID, limits.FormatSize(req.Bytes), ErrBusy, w.describe())
	}

	report := func(now Waiting) {
		if opt.OnWait != nil && now != w {
			opt.OnWait(now)
		}
		w = now
	}
	if opt.OnWait != nil {
		opt.OnWait(w)
	}
	// The watcher exists only for runs that wait: tearing an inotify
	// instance down costs an SRCU grace period (~10-15 ms), which an
	// immediate admission must not pay. Closing is off the critical path,
	// and the first poll below covers changes made before the watch began.
	watch := newWatcher(l.dir)
	defer func() { go watch.close() }()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	checked := time.Time{}
	for {
		if !checked.IsZero() {
			select {
			case <-ctx.Done():
				return nil, r.abandon(fmt.Errorf("waiting for host memory for run %s: %w", req.RunID, ctx.Err()))
			case <-deadline.C:
				return nil, r.abandon(fmt.Errorf("run %s waited %s for %s: %w (%s)",
					req.RunID, timeout, limits.FormatSize(req.Bytes), ErrTimeout, w.describe()))
			case <-tick.C:
			}
			if !watch.changed() && time.Since(checked) < fullCheckInterval {
				continue
			}
		}
		checked = time.Now()
		admitted, now, err := r.poll()
		if err != nil {
			return nil, r.abandon(err)
		}
		if admitted {
			r.queued = time.Since(start)
			return r, nil
		}
		report(now)
	}
}

func (w Waiting) describe() string {
	s := fmt.Sprintf("%s free, %d queued ahead, %d running", limits.FormatSize(w.FreeBytes), w.Ahead, w.Running)
	if w.MaxConcurrent > 0 {
		s += fmt.Sprintf(" of at most %d", w.MaxConcurrent)
	}
	return s
}

// abandon leaves the queue after a failed wait and returns cause, joined with
// any error from leaving.
func (r *Reservation) abandon(cause error) error {
	if err := r.Release(); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// Release gives the memory and slot back and admits whoever is next. It is
// idempotent. Even if the ledger cannot be updated the entry's lock is
// dropped, so the next process to read the ledger reclaims it.
func (r *Reservation) Release() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return r.err
	}
	r.released = true
	r.err = r.l.remove(r)
	if err := r.fd.Close(); err != nil && r.err == nil {
		r.err = fmt.Errorf("release host memory for run %s: close entry lock: %w", r.entry.RunID, err)
	}
	return r.err
}

// Queued is how long the run waited before it was admitted.
func (r *Reservation) Queued() time.Duration { return r.queued }

// Entry is the run's ledger entry as of admission.
func (r *Reservation) Entry() Entry { return r.entry }

// Status reads the ledger, reclaiming entries of dead runs first.
func (l *Ledger) Status() (Status, error) {
	s, err := l.begin()
	if err != nil {
		return Status{}, err
	}
	defer s.end()
	if err := s.commit(); err != nil {
		return Status{}, err
	}
	st := Status{Total: l.total, MaxConcurrent: l.maxConcurrent}
	for _, rec := range s.data.Entries {
		st.Entries = append(st.Entries, rec.entry())
		if rec.State == StateRunning {
			st.Reserved += rec.Bytes
			st.Running++
		} else {
			st.Queued++
		}
	}
	st.Free = max(0, st.Total-st.Reserved)
	return st, nil
}
