// Package history is syncbox's embedded run history: every attempt of every
// connector run appends its figures (limit, peak, outcome, sizes) to a bbolt
// file under $SYNCBOX_HOME, and the memory recommender reads them back.
//
// bbolt's file lock serialises writers across processes; cron starts many
// runs at once, so callers keep the store open only briefly (Record and Load
// open, act and close) and every open waits at most a timeout for the lock,
// failing with an error that names the file rather than hanging.
//
// The store keeps records; it decides nothing (see package forecast).
package history

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"

	"syncbox/limits/forecast"
)

const (
	// FileName is the store's file inside the syncbox home directory.
	FileName = "history.db"
	// DefaultHome is syncbox's home when the caller (cmd, from
	// $SYNCBOX_HOME) names none; this package reads no environment.
	DefaultHome = "/var/lib/syncbox"
	// DefaultKeep is how many entries each connector and tenant keeps: a
	// year of daily runs, six weeks of hourly ones, far past the point where
	// the recommender's decay leaves any weight.
	DefaultKeep = 1000
	// DefaultTimeout is how long an open waits for another process's lock.
	DefaultTimeout = 30 * time.Second
)

// runsBucket holds one bucket per connector name, each holding one bucket
// per tenant whose keys are time-ordered.
var runsBucket = []byte("runs")

// Entry is one attempt of one connector run. A run that was OOM-killed and
// retried appends one entry per attempt, with the same RunID.
type Entry struct {
	At     time.Time `json:"at"`
	RunID  string    `json:"run_id"`
	Name   string    `json:"name"`
	Tenant string    `json:"tenant"`
	// Kind is "full" (no incoming state) or "incremental"; empty in entries
	// written before kinds were recorded (the forecaster reads them as unknown).
	Kind string `json:"kind,omitempty"`
	// Attempt is 1 for a run's first attempt, 2 for its first retry...
	Attempt    int   `json:"attempt"`
	LimitBytes int64 `json:"limit_bytes"`
	// PeakBytes is the attempt's memory peak; for an OOM kill only a lower bound.
	PeakBytes         int64         `json:"peak_bytes"`
	Outcome           string        `json:"outcome"`
	OOM               bool          `json:"oom"`
	Records           int64         `json:"records"`
	Bytes             int64         `json:"bytes"`
	Duration          time.Duration `json:"duration_ns"`
	LargestValueBytes int64         `json:"largest_value_bytes"`
	// Machine is the host the attempt ran on (its hostname), so a history
	// shared by a fleet says where each run happened.
	Machine string `json:"machine,omitempty"`
}

// Run converts the entry into what the recommender reads.
func (e Entry) Run() forecast.Run {
	return forecast.Run{At: e.At, LimitBytes: e.LimitBytes, PeakBytes: e.PeakBytes, OOM: e.OOM,
		Kind: forecast.Kind(e.Kind), Tenant: e.Tenant}
}

// Runs converts entries into recommender runs, keeping their order.
func Runs(entries []Entry) []forecast.Run {
	out := make([]forecast.Run, len(entries))
	for i, e := range entries {
		out[i] = e.Run()
	}
	return out
}

// Options tune Open; zero fields take the defaults.
type Options struct {
	Timeout  time.Duration // wait for the file lock at most this long
	Keep     int           // entries kept per connector and tenant
	ReadOnly bool          // shared lock; the file must exist
}

// Store is an open history file. Close it soon: it holds the file lock.
type Store struct {
	db   *bolt.DB
	path string
	keep int
}

// Open opens (creating if needed) the history in dir for writing.
func Open(dir string) (*Store, error) { return OpenWith(dir, Options{}) }

// OpenWith opens the history in dir with explicit options.
func OpenWith(dir string, o Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("open run history: no directory given (set SYNCBOX_HOME)")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Keep <= 0 {
		o.Keep = DefaultKeep
	}
	path := filepath.Join(dir, FileName)
	if !o.ReadOnly {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("open run history %s: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: o.Timeout, ReadOnly: o.ReadOnly})
	switch {
	case errors.Is(err, bolterr.ErrTimeout):
		return nil, fmt.Errorf("run history %s is locked by another process; gave up after %s: %w", path, o.Timeout, err)
	case errors.Is(err, bolterr.ErrInvalid), errors.Is(err, bolterr.ErrChecksum), errors.Is(err, bolterr.ErrVersionMismatch):
		return nil, fmt.Errorf("run history %s is corrupt or not a syncbox history (move it aside to start afresh): %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("open run history %s: %w", path, err)
	}
	if err := checkSize(db, path); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, path: path, keep: o.Keep}, nil
}

// checkSize refuses a file shorter than its own meta page says: bbolt maps
// the file, so touching a page past a truncated end is SIGBUS, a crash no
// recover() catches (seen after a full disk cut a write short).
func checkSize(db *bolt.DB, path string) error {
	var want int64
	if err := db.View(func(tx *bolt.Tx) error { want = tx.Size(); return nil }); err != nil {
		return fmt.Errorf("read run history %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("open run history %s: %w", path, err)
	}
	if fi.Size() < want {
		return fmt.Errorf("run history %s is truncated (%d of %d bytes; move it aside to start afresh)", path, fi.Size(), want)
	}
	return nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Close releases the file and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close run history %s: %w", s.path, err)
	}
	return nil
}

// entryKey orders entries by time: big-endian unix nanos, then run id and
// attempt so two attempts in the same nanosecond do not collide.
func entryKey(e Entry) []byte {
	k := make([]byte, 8, 8+len(e.RunID)+5)
	binary.BigEndian.PutUint64(k, uint64(max(e.At.UnixNano(), 0)))
	k = append(k, e.RunID...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, uint32(max(e.Attempt, 0)))
}

// Append stores one entry and prunes its connector and tenant to the newest
// Keep entries, in one transaction.
func (s *Store) Append(e Entry) error {
	if e.Name == "" {
		return fmt.Errorf("append to run history %s: entry has no connector name", s.path)
	}
	if e.At.IsZero() {
		return fmt.Errorf("append to run history %s: entry for %s has no time", s.path, e.Name)
	}
	val, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("append to run history %s: %w", s.path, err)
	}
	return s.update(func(tx *bolt.Tx) error {
		runs, err := tx.CreateBucketIfNotExists(runsBucket)
		if err != nil {
			return err
		}
		name, err := runs.CreateBucketIfNotExists([]byte(e.Name))
		if err != nil {
			return err
		}
		tenant, err := name.CreateBucketIfNotExists([]byte(e.Tenant))
		if err != nil {
			return err
		}
		if err := tenant.Put(entryKey(e), val); err != nil {
			return err
		}
		return prune(tenant, s.keep)
	})
}

// prune deletes the oldest entries beyond keep. It counts with a cursor:
// Bucket.Stats does not see this transaction's own writes.
func prune(b *bolt.Bucket, keep int) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		keys = append(keys, k)
	}
	if len(keys) <= keep {
		return nil
	}
	old := make([][]byte, 0, len(keys)-keep)
	for _, k := range keys[:len(keys)-keep] {
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Filter selects entries; empty fields match everything.
type Filter struct {
	Name   string
	Tenant string
	// Limit keeps only the newest Limit entries (0 = all).
	Limit int
}

// List returns the entries matching f, oldest first.
func (s *Store) List(f Filter) ([]Entry, error) {
	var out []Entry
	err := s.view(func(tx *bolt.Tx) error {
		runs := tx.Bucket(runsBucket)
		if runs == nil {
			return nil
		}
		return runs.ForEachBucket(func(name []byte) error {
			if f.Name != "" && string(name) != f.Name {
				return nil
			}
			nb := runs.Bucket(name)
			return nb.ForEachBucket(func(tenant []byte) error {
				if f.Tenant != "" && string(tenant) != f.Tenant {
					return nil
				}
				return nb.Bucket(tenant).ForEach(func(k, v []byte) error {
					var e Entry
					if err := json.Unmarshal(v, &e); err != nil {
						return fmt.Errorf("entry %s/%s %x: %w", name, tenant, k, err)
					}
					out = append(out, e)
					return nil
				})
			})
		})
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}

// ForConnector returns a connector's entries for one tenant (own) and for
// all its other tenants (others, the recommender's prior), each oldest first.
func (s *Store) ForConnector(name, tenant string) (own, others []Entry, err error) {
	all, err := s.List(Filter{Name: name})
	if err != nil {
		return nil, nil, err
	}
	own, others = SplitByTenant(all, tenant)
	return own, others, nil
}

// SplitByTenant splits a connector's entries into tenant's own and the
// other tenants', keeping their order; every Backend's ForConnector.
func SplitByTenant(all []Entry, tenant string) (own, others []Entry) {
	for _, e := range all {
		if e.Tenant == tenant {
			own = append(own, e)
		} else {
			others = append(others, e)
		}
	}
	return own, others
}

// Record opens the history in dir, appends e and closes it again, so the
// lock is held only for the write.
func Record(dir string, e Entry) error {
	s, err := Open(dir)
	if err != nil {
		return err
	}
	err = s.Append(e)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

// Load returns a connector's own and other tenants' entries from the history
// in dir, opened read-only for the read. A missing history is empty.
func Load(dir, name, tenant string) (own, others []Entry, err error) {
	if _, err := os.Stat(filepath.Join(dir, FileName)); errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	s, err := OpenWith(dir, Options{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	own, others, err = s.ForConnector(name, tenant)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return own, others, err
}

// update and view run a transaction and name the file in any error. bbolt
// panics on some damaged pages; that becomes an error too, so a corrupt
// history fails one run clearly instead of crashing it.
func (s *Store) update(fn func(*bolt.Tx) error) (err error) {
	defer s.recoverCorrupt(&err)
	if err := s.db.Update(fn); err != nil {
		return fmt.Errorf("write run history %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) view(fn func(*bolt.Tx) error) (err error) {
	defer s.recoverCorrupt(&err)
	if err := s.db.View(fn); err != nil {
		return fmt.Errorf("read run history %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("run history %s is corrupt (move it aside to start afresh): %v", s.path, r)
	}
}
