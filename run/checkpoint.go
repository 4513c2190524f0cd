package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"syncbox/run/hostfs"
	"syncbox/run/state"
	"syncbox/run/stream"
)

// checkpoint is the connector's state as far as it is durable, and what
// has been emitted since.
//
// The rule: the persisted state only moves to a STATE whose records are
// safe. Alone, a connector's records are safe once they were written to
// the output and flushed (the scanner calls confirm after that). In a
// pipeline they are safe only once the target says so: a STATE the target
// prints is persisted at once; the tap's own states are held as pending and
// persisted when the target exits 0 after reading all of its input.
type checkpoint struct {
	path  string      // --state-file; "" and no store keeps state in memory only (for retries)
	store StateStore  // instead of path
	dir   *hostfs.Dir // path's directory, by the path rule, held open so a swapped parent cannot redirect writes
	lock  *os.File    // flock held on the state file's lock file for the run
	proto stream.Protocol

	mu        sync.Mutex
	persisted *state.State   // what {state} holds: the input state and every confirmed STATE since
	tracker   *state.Tracker // pipelines: the tap's STATEs the target has not confirmed yet
	unmatched int64          // target STATEs that matched nothing the tap sent (not persisted)
	loaded    bool           // persisted came from a file or store
	saved     bool           // at least one STATE was persisted this run
	saveErr   error          // the first failed save: the checkpoint stopped there
}

// newCheckpoint loads the input state from path (or store). proto is the
// stream's protocol; Auto is resolved from the file's shape or the first
// STATE message.
func newCheckpoint(path string, store StateStore, proto stream.Protocol) (*checkpoint, error) {
	// Never nil, whatever fails below: the report reads it.
	ck := &checkpoint{path: path, store: store, proto: proto, persisted: state.New(stateProtocol(proto))}
	var b []byte
	switch {
	case store != nil:
		var err error
		if b, err = store.Load(context.Background()); err != nil {
			return ck, fmt.Errorf("load state from the store: %w", err)
		}
	case path != "":
		dir, err := hostfs.OpenDir(filepath.Dir(path))
		if err != nil {
			return ck, fmt.Errorf("state file %s: %w", path, err)
		}
		ck.dir = dir
		// One run per state file, whatever their names: two runs sharing
		// one would overwrite each other's checkpoint (and sweep each
		// other's temp files). Held until the run ends; a dead runner's
		// flock is gone with it.
		lk, err := dir.OpenFile("."+filepath.Base(path)+".lock", os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return ck, fmt.Errorf("state file %s: lock: %w", path, err)
		}
		if held, err := hostfs.TryLock(lk); held || err != nil {
			lk.Close()
			if err != nil {
				return ck, fmt.Errorf("state file %s: lock: %w", path, err)
			}
			return ck, &StateInUseError{Path: path}
		}
		ck.lock = lk
		sweepTemps(dir.File(), tempPrefix(path))
		if b, err = readIn(dir, filepath.Base(path)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return ck, fmt.Errorf("state file %s: %w", path, err)
		}
	}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && !json.Valid(b) {
		return ck, fmt.Errorf("state file %s: not valid JSON", path)
	}
	if ck.proto == stream.Auto && len(b) > 0 && b[0] == '[' {
		ck.proto = stream.Airbyte // only Airbyte keeps a list of state messages
	}
	ck.persisted = state.New(stateProtocol(ck.proto))
	if len(b) > 0 {
		if err := ck.persisted.Load(b); err != nil {
			return ck, fmt.Errorf("state file %s: %w", path, err)
		}
		ck.loaded = true
	}
	return ck, nil
}

func stateProtocol(p stream.Protocol) state.Protocol {
	if p == stream.Airbyte {
		return state.Airbyte
	}
	return state.Singer
}

// resolve fixes the protocol of an Auto stream from its first STATE: an
// Airbyte state message says its type or carries a stream or global part.
func (c *checkpoint) resolve(msg []byte) {
	if c.proto != stream.Auto {
		return
	}
	c.proto = stream.Singer
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) == nil {
		var typ string
		_ = json.Unmarshal(m["type"], &typ)
		_, hasStream := m["stream"]
		_, hasGlobal := m["global"]
		if typ == "STREAM" || typ == "GLOBAL" || typ == "LEGACY" || hasStream || hasGlobal {
			c.proto = stream.Airbyte
		}
	}
	if c.proto == stream.Airbyte && !c.loaded {
		c.persisted = state.New(state.Airbyte)
	}
}

// protocol is the stream's protocol as far as known.
func (c *checkpoint) protocol() stream.Protocol {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proto
}

// input is what the connector reads at {state}: the persisted state.
// Empty, it is the protocol's empty form ({} for Singer, [] for Airbyte).
func (c *checkpoint) input() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.persisted.Bytes()
}

// last is the persisted state, for the report; nil when there is none.
func (c *checkpoint) last() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.persisted.Empty() {
		return nil
	}
	return c.persisted.Bytes()
}

// startAttempt forgets what an earlier attempt emitted but never confirmed.
func (c *checkpoint) startAttempt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tracker = nil
}

// confirm persists a STATE whose records are safe (a connector alone: they
// were delivered), merged into the state as its protocol defines.
func (c *checkpoint) confirm(msg []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.saveErr != nil {
		return c.saveErr // the checkpoint never skips over a failed save
	}
	c.resolve(msg)
	next := c.persisted.Clone()
	if err := next.Apply(msg); err != nil {
		return fmt.Errorf("STATE message: %w", err)
	}
	return c.persist(next)
}

// emit notes a STATE the tap sent into a pipeline: nothing is persisted
// until the target confirms it.
func (c *checkpoint) emit(msg []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resolve(msg)
	if c.tracker == nil {
		c.tracker = state.NewTracker(c.persisted.Clone())
	}
	if err := c.tracker.Sent(msg); err != nil {
		return fmt.Errorf("STATE message: %w", err)
	}
	return nil
}

// targetConfirmed takes a STATE a pipeline's target printed: it commits
// the tap's STATE it stands for and every one sent before it (their
// records came first). An echo of nothing the tap sent moves nothing.
func (c *checkpoint) targetConfirmed(echo []byte) (matched bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.saveErr != nil {
		return false, c.saveErr
	}
	if c.tracker == nil {
		c.unmatched++
		return false, nil
	}
	advanced, err := c.tracker.Confirm(echo)
	switch {
	case errors.Is(err, state.ErrUnmatched):
		c.unmatched++
		return false, nil
	case err != nil:
		return false, fmt.Errorf("the target's STATE: %w", err)
	case !advanced:
		return true, nil // a repeat of what it confirmed already
	}
	return true, c.persist(c.tracker.Confirmed().Clone())
}

// promote persists everything the tap sent: the target read all of it and
// exited 0, so every record before the last STATE is committed.
func (c *checkpoint) promote() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.saveErr != nil {
		return c.saveErr
	}
	if c.tracker == nil || c.tracker.Pending() == 0 && bytes.Equal(c.tracker.Confirmed().Bytes(), c.persisted.Bytes()) {
		return nil
	}
	if err := c.tracker.ConfirmAll(); err != nil {
		return fmt.Errorf("the tap's last STATE: %w", err)
	}
	return c.persist(c.tracker.Confirmed().Clone())
}

// persist writes next and makes it the persisted state. Callers hold mu.
func (c *checkpoint) persist(next *state.State) error {
	if err := c.write(next.Bytes()); err != nil {
		c.saveErr = err
		return err
	}
	c.persisted = next
	return nil
}

// unmatchedEchoes counts target STATEs that stood for nothing the tap sent.
func (c *checkpoint) unmatchedEchoes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unmatched
}

// persistedTo says where the state was saved this run, if anywhere.
func (c *checkpoint) persistedTo() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.saved:
		return ""
	case c.store != nil:
		if n, ok := c.store.(fmt.Stringer); ok {
			return n.String()
		}
		return "the state store"
	}
	return c.path
}

// failure is the first save that failed, if any.
func (c *checkpoint) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saveErr
}

func (c *checkpoint) close() {
	if c.lock != nil {
		c.lock.Close()
	}
	if c.dir != nil {
		c.dir.Close()
	}
}

// write makes b the durable state. Callers hold mu.
func (c *checkpoint) write(b []byte) error {
	switch {
	case c.store != nil:
		if err := c.store.Save(context.Background(), b); err != nil {
			return &OutputError{Output: "the state store", Err: err}
		}
	case c.dir != nil:
		if err := c.dir.WriteFileAtomic(filepath.Base(c.path), append(append([]byte(nil), b...), '\n'), 0o600); err != nil {
			return &OutputError{Output: "state file " + c.path, Err: err}
		}
	default:
		return nil
	}
	c.saved = true
	return nil
}

func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// StateInUseError: another run holds the state file.
type StateInUseError struct{ Path string }

func (e *StateInUseError) Error() string {
	return "state file " + e.Path + " is in use by another run (another connector name or tenant with the same state file); nothing was run"
}

// maxStateFile bounds the state file read into memory.
const maxStateFile = 64 << 20

// readIn reads name in dir by the path rule (never through a link a
// tenant could plant there).
func readIn(dir *hostfs.Dir, name string) ([]byte, error) {
	f, err := dir.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err == nil && len(b) > maxStateFile {
		return nil, fmt.Errorf("larger than %d bytes", maxStateFile)
	}
	return b, err
}

// sweepTemps removes temp files an earlier, killed runner left beside the
// file (only ours: the prefix names the file).
func sweepTemps(dir *os.File, prefix string) {
	names, err := readDirNames(dir)
	if err != nil {
		return
	}
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			_ = unix.Unlinkat(int(dir.Fd()), n, 0)
		}
	}
}

func readDirNames(dir *os.File) ([]string, error) {
	fd, err := unix.Openat(int(dir.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	d := os.NewFile(uintptr(fd), dir.Name())
	defer d.Close()
	return d.Readdirnames(-1)
}
