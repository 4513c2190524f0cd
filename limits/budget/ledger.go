package budget

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"syncbox/run/hostfs"
)

const (
	ledgerLock    = "ledger.lock"
	ledgerFile    = "ledger.json"
	entriesDir    = "entries"
	ledgerVersion = 1
)

// record is an entry as stored in ledger.json. Budget and MaxConcurrent are
// the owner's, so admission does not depend on who updates the ledger.
type record struct {
	Ticket        uint64    `json:"ticket"`
	RunID         string    `json:"run_id"`
	Name          string    `json:"name,omitempty"`
	Tenant        string    `json:"tenant,omitempty"`
	State         State     `json:"state"`
	Bytes         int64     `json:"bytes"`
	PID           int       `json:"pid"`
	Arrived       time.Time `json:"arrived"`
	Admitted      time.Time `json:"admitted,omitzero"`
	Budget        int64     `json:"budget"`
	TenantBudget  int64     `json:"tenant_budget,omitempty"`
	MaxConcurrent int       `json:"max_concurrent,omitempty"`
	Lock          string    `json:"lock"`
}

func (r record) entry() Entry {
	e := Entry{Ticket: r.Ticket, RunID: r.RunID, Name: r.Name, Tenant: r.Tenant, State: r.State,
		Bytes: r.Bytes, PID: r.PID, Since: r.Arrived, Arrived: r.Arrived, Budget: r.Budget, MaxConcurrent: r.MaxConcurrent}
	if r.State == StateRunning {
		e.Since = r.Admitted
	}
	return e
}

type ledgerData struct {
	Version    int      `json:"version"`
	NextTicket uint64   `json:"next_ticket"`
	Entries    []record `json:"entries"`
}

// session is one critical section: ledger.lock held, ledger loaded, dead
// entries reclaimed and heads of the queue admitted.
type session struct {
	l     *Ledger
	lock  *os.File
	data  ledgerData
	dirty bool
}

func (l *Ledger) path(name string) string { return filepath.Join(l.dir, name) }

func (l *Ledger) begin() (*session, error) {
	f, err := os.OpenFile(l.path(ledgerLock), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open budget ledger lock: %w", err)
	}
	if err := flock(f, unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock budget ledger %s: %w", f.Name(), err)
	}
	s := &session{l: l, lock: f}
	if err := s.load(); err != nil {
		s.end()
		return nil, err
	}
	if err := s.reap(); err != nil {
		s.end()
		return nil, err
	}
	s.admit(time.Now())
	return s, nil
}

// end drops ledger.lock (closing the fd releases the flock).
func (s *session) end() { s.lock.Close() }

func (s *session) load() error {
	p := s.l.path(ledgerFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		s.data = ledgerData{Version: ledgerVersion, NextTicket: 1}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read budget ledger: %w", err)
	}
	var d ledgerData
	if err := json.Unmarshal(b, &d); err != nil {
		return s.recoverCorrupt(fmt.Errorf("not valid JSON: %w", err))
	}
	if d.Version != ledgerVersion {
		return s.recoverCorrupt(fmt.Errorf("version %d, want %d", d.Version, ledgerVersion))
	}
	for _, r := range d.Entries {
		if r.Lock == "" || strings.ContainsRune(r.Lock, '/') || r.Bytes <= 0 || r.Budget <= 0 || (r.State != StateQueued && r.State != StateRunning) {
			return s.recoverCorrupt(fmt.Errorf("invalid entry for run %q", r.RunID))
		}
	}
	s.data = d
	return nil
}

// recoverCorrupt handles an unreadable ledger.json. Without it we cannot know
// what live runs reserved, so it is reset only when no entry lock is held
// (e.g. a torn write before a reboot: nothing survives a reboot). The bad
// file is kept next to it for inspection.
func (s *session) recoverCorrupt(cause error) error {
	p := s.l.path(ledgerFile)
	live, err := s.liveLockFiles()
	if err != nil {
		return fmt.Errorf("budget ledger %s is corrupt (%v) and its entries cannot be checked: %w", p, cause, err)
	}
	if len(live) > 0 {
		return fmt.Errorf("budget ledger %s is corrupt (%v) while %d live runs hold entries; not resetting it under them: wait for them to end, then retry (it is reset automatically)", p, cause, len(live))
	}
	if err := os.Rename(p, p+".corrupt"); err != nil {
		return fmt.Errorf("budget ledger %s is corrupt (%v); move it aside: %w", p, cause, err)
	}
	s.data = ledgerData{Version: ledgerVersion, NextTicket: 1}
	s.dirty = true
	return s.sweepOrphans()
}

// liveLockFiles lists entry lock files whose owner is alive.
func (s *session) liveLockFiles() ([]string, error) {
	des, err := os.ReadDir(s.l.path(entriesDir))
	if err != nil {
		return nil, fmt.Errorf("list budget entries: %w", err)
	}
	var live []string
	for _, de := range des {
		alive, err := s.alive(de.Name())
		if err != nil {
			return nil, err
		}
		if alive {
			live = append(live, de.Name())
		}
	}
	return live, nil
}

// sweepOrphans removes lock files no entry refers to whose owner is dead:
// left by a process that died between creating its file and committing.
func (s *session) sweepOrphans() error {
	des, err := os.ReadDir(s.l.path(entriesDir))
	if err != nil {
		return fmt.Errorf("list budget entries: %w", err)
	}
	for _, de := range des {
		if slices.ContainsFunc(s.data.Entries, func(r record) bool { return r.Lock == de.Name() }) {
			continue
		}
		alive, err := s.alive(de.Name())
		if err != nil {
			return err
		}
		if !alive {
			if err := removeLock(s.l.path(filepath.Join(entriesDir, de.Name()))); err != nil {
				return err
			}
		}
	}
	return nil
}

// alive reports whether the owner of an entry lock file still holds it. A
// missing file means dead: owners create the file before their entry is
// committed and remove it only together with the entry.
func (s *session) alive(lockName string) (bool, error) {
	p := s.l.path(filepath.Join(entriesDir, lockName))
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check budget entry %s: %w", p, err)
	}
	defer f.Close()
	err = flock(f, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("check budget entry %s: %w", p, err)
	}
	return false, nil // we got the lock: nobody holds it; closing drops ours
}

// reap drops entries whose owner died.
func (s *session) reap() error {
	kept := s.data.Entries[:0:0]
	for _, r := range s.data.Entries {
		alive, err := s.alive(r.Lock)
		if err != nil {
			return err
		}
		if alive {
			kept = append(kept, r)
			continue
		}
		if err := removeLock(s.l.path(filepath.Join(entriesDir, r.Lock))); err != nil {
			return err
		}
		s.dirty = true
	}
	s.data.Entries = kept
	return nil
}

// usage sums running entries.
func (s *session) usage() (reserved int64, running int) {
	for _, r := range s.data.Entries {
		if r.State == StateRunning {
			reserved += r.Bytes
			running++
		}
	}
	return reserved, running
}

// admit starts queued entries in ticket order while the head fits its owner's
// budget and slot limit; it stops at the first that does not (no backfill).
// Doing this in every session, not only in the owner's, means a release
// admits the next run at once; the owner notices on its next poll.
func (s *session) admit(now time.Time) {
	slices.SortFunc(s.data.Entries, func(a, b record) int { return cmpUint(a.Ticket, b.Ticket) })
	reserved, running := s.usage()
	byTenant := map[string]int64{}
	for _, r := range s.data.Entries {
		if r.State == StateRunning {
			byTenant[r.Tenant] += r.Bytes
		}
	}
	for i := range s.data.Entries {
		r := &s.data.Entries[i]
		if r.State != StateQueued {
			continue
		}
		if r.TenantBudget > 0 && byTenant[r.Tenant]+r.Bytes > r.TenantBudget {
			continue // waits for its own tenant's runs, not in everyone's way
		}
		if reserved+r.Bytes > r.Budget || (r.MaxConcurrent > 0 && running >= r.MaxConcurrent) {
			return
		}
		r.State, r.Admitted = StateRunning, now
		reserved += r.Bytes
		byTenant[r.Tenant] += r.Bytes
		running++
		s.dirty = true
	}
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// waiting describes the queue as seen by the entry with ticket t.
func (s *session) waiting(t uint64, need int64) Waiting {
	reserved, running := s.usage()
	w := Waiting{NeedBytes: need, FreeBytes: max(0, s.l.total-reserved), Running: running, MaxConcurrent: s.l.maxConcurrent}
	for _, r := range s.data.Entries {
		if r.State == StateQueued && r.Ticket < t {
			w.Ahead++
		}
	}
	return w
}

func (s *session) find(ticket uint64, lock string) int {
	return slices.IndexFunc(s.data.Entries, func(r record) bool { return r.Ticket == ticket && r.Lock == lock })
}

// commit writes the ledger if it changed. Write-then-rename keeps readers and
// crashes from ever seeing half a file; no fsync, since after a power loss
// every reservation is void anyway and a torn file is reset (recoverCorrupt).
func (s *session) commit() error {
	if !s.dirty {
		return nil
	}
	b, err := json.MarshalIndent(s.data, "", "  ")
	if err != nil {
		return fmt.Errorf("encode budget ledger: %w", err)
	}
	p := s.l.path(ledgerFile)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write budget ledger: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("write budget ledger: %w", err)
	}
	s.dirty = false
	return nil
}

// enqueue adds the run to the ledger, admitting it at once if it is first in
// line and fits.
func (l *Ledger) enqueue(req Request) (*Reservation, Waiting, error) {
	s, err := l.begin()
	if err != nil {
		return nil, Waiting{}, err
	}
	defer s.end()
	for _, r := range s.data.Entries {
		if r.RunID == req.RunID {
			return nil, Waiting{}, fmt.Errorf("acquire host memory: run id %s is already in the budget ledger (pid %d, %s)", req.RunID, r.PID, r.State)
		}
	}
	ticket := s.data.NextTicket
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, Waiting{}, fmt.Errorf("acquire host memory for run %s: %w", req.RunID, err)
	}
	// Ticket plus random suffix: names stay unique even if the ledger is reset.
	lockName := fmt.Sprintf("%d-%s.lock", ticket, hex.EncodeToString(suffix[:]))
	fd, err := os.OpenFile(l.path(filepath.Join(entriesDir, lockName)), os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, Waiting{}, fmt.Errorf("acquire host memory for run %s: create entry lock: %w", req.RunID, err)
	}
	fail := func(err error) (*Reservation, Waiting, error) {
		fd.Close()
		os.Remove(fd.Name())
		return nil, Waiting{}, fmt.Errorf("acquire host memory for run %s: %w", req.RunID, err)
	}
	if err := flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fail(fmt.Errorf("lock entry %s: %w", fd.Name(), err))
	}
	now := time.Now()
	s.data.NextTicket++
	s.data.Entries = append(s.data.Entries, record{
		Ticket: ticket, RunID: req.RunID, Name: req.Name, Tenant: req.Tenant, State: StateQueued,
		Bytes: req.Bytes, PID: req.PID, Arrived: now, Budget: l.total, TenantBudget: l.tenantBudget,
		MaxConcurrent: l.maxConcurrent, Lock: lockName,
	})
	s.dirty = true
	s.admit(now)
	i := s.find(ticket, lockName)
	w := s.waiting(ticket, req.Bytes)
	if err := s.commit(); err != nil {
		return fail(err)
	}
	return &Reservation{l: l, entry: s.data.Entries[i].entry(), lock: lockName, fd: fd}, w, nil
}

// poll reports whether the waiting reservation has been admitted, and the
// queue as it stands if not.
func (r *Reservation) poll() (bool, Waiting, error) {
	s, err := r.l.begin()
	if err != nil {
		return false, Waiting{}, err
	}
	defer s.end()
	if err := s.commit(); err != nil {
		return false, Waiting{}, err
	}
	i := s.find(r.entry.Ticket, r.lock)
	if i < 0 {
		return false, Waiting{}, fmt.Errorf("run %s: its entry vanished from the budget ledger %s (was the file removed?)", r.entry.RunID, s.l.path(ledgerFile))
	}
	rec := s.data.Entries[i]
	if rec.State == StateRunning {
		r.entry = rec.entry()
		return true, Waiting{}, nil
	}
	return false, s.waiting(rec.Ticket, rec.Bytes), nil
}

// remove deletes the reservation's entry and lock file, admitting the next
// runs. The caller closes the lock fd afterwards.
func (l *Ledger) remove(r *Reservation) error {
	s, err := l.begin()
	if err != nil {
		return fmt.Errorf("release host memory for run %s: %w", r.entry.RunID, err)
	}
	defer s.end()
	if i := s.find(r.entry.Ticket, r.lock); i >= 0 {
		s.data.Entries = slices.Delete(s.data.Entries, i, i+1)
		s.dirty = true
		s.admit(time.Now())
	}
	if err := removeLock(r.lockPath()); err != nil {
		return fmt.Errorf("release host memory for run %s: %w", r.entry.RunID, err)
	}
	if err := s.commit(); err != nil {
		return fmt.Errorf("release host memory for run %s: %w", r.entry.RunID, err)
	}
	return nil
}

func (r *Reservation) lockPath() string { return r.l.path(filepath.Join(entriesDir, r.lock)) }

func removeLock(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove budget entry lock: %w", err)
	}
	return nil
}

// flock is the one flock helper's (see hostfs.Flock).
func flock(f *os.File, how int) error { return hostfs.Flock(f, how) }
