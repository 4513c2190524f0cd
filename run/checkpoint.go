package run

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// checkpoint holds the connector's last STATE and persists each new one.
// The scanner calls save only after every record before the STATE reached
// the output and was flushed, so the file never runs ahead of delivered
// records (at-least-once, as Singer and Airbyte define it).
type checkpoint struct {
	path  string     // --state-file; "" keeps state in memory only (for retries)
	store StateStore // or a store; then path is ""
	ctx   context.Context

	mu    sync.Mutex
	value []byte
	saved bool
}

// newCheckpoint loads the input state from the store, or from path if it
// exists.
func newCheckpoint(ctx context.Context, path string, store StateStore) (*checkpoint, error) {
	ck := &checkpoint{path: path, store: store, ctx: ctx}
	if store != nil {
		b, err := store.Load(ctx)
		if err != nil {
			return ck, err
		}
		b = bytes.TrimSpace(b)
		if len(b) > 0 && !json.Valid(b) {
			return ck, fmt.Errorf("checkpoint in %s: not valid JSON", ck.persistedAt())
		}
		ck.value = b
		return ck, nil
	}
	if path == "" {
		return ck, nil
	}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return ck, nil
	}
	if err != nil {
		return ck, fmt.Errorf("--state-file: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && !json.Valid(b) {
		return ck, fmt.Errorf("--state-file %s: not valid JSON", path)
	}
	ck.value = b
	return ck, nil
}

func (c *checkpoint) last() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value
}

func (c *checkpoint) persistedTo() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.saved {
		return c.persistedAt()
	}
	return ""
}

func (c *checkpoint) persistedAt() string {
	if s, ok := c.store.(fmt.Stringer); ok {
		return s.String()
	}
	if c.store != nil {
		return "store"
	}
	return c.path
}

// save writes value atomically: temp file, fsync, rename, fsync the dir.
func (c *checkpoint) save(value []byte) error {
	v := append([]byte(nil), value...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.store != nil {
		// The state moves only once the store has acknowledged it.
		if err := c.store.Save(c.ctx, v); err != nil {
			return fmt.Errorf("persist state: %w", err)
		}
		c.value, c.saved = v, true
		return nil
	}
	c.value = v
	if c.path == "" {
		return nil
	}
	dir := filepath.Dir(c.path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(c.path)+".tmp-")
	if err != nil {
		return fmt.Errorf("persist state: %w", err)
	}
	_, werr := f.Write(append(v, '\n'))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), c.path)
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("persist state to %s: %w", c.path, werr)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	c.saved = true
	return nil
}
