package fleet

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Checkpoint is one connector's checkpoint (per tenant and name) in the
// store, read and written through the session that holds its run lock.
// Its method set is run.StateStore's.
type Checkpoint struct {
	l       *pgLock
	runID   string
	machine string
}

// Checkpoint returns the checkpoint guarded by the lock b holds.
func (b *Locks) Checkpoint(runID string) (*Checkpoint, error) {
	if b.held == nil {
		return nil, errors.New("checkpoint in store: the run lock is not held")
	}
	return &Checkpoint{l: b.held, runID: runID, machine: b.s.machine}, nil
}

// String names the checkpoint, for the report's state.persisted_to.
func (c *Checkpoint) String() string {
	return fmt.Sprintf("%s (checkpoint of %s)", c.l.url, c.l.key)
}

// Load returns the last saved state, or nil if there is none.
func (c *Checkpoint) Load(ctx context.Context) ([]byte, error) {
	var v []byte
	err := c.l.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT value::text FROM syncbox.checkpoints WHERE tenant = $1 AND name = $2",
			c.l.key.Tenant, c.l.key.Name).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load checkpoint of %s from store %s: %w", c.l.key, c.l.url, err)
	}
	return v, nil
}

// Save replaces the state. It succeeds only once the store has committed
// it, and only while this run holds the lock: the statement runs on the
// lock's own session and is conditional on the current fencing token and
// on that session being the holder, so a run that lost its lock (its
// session died, or another run took the lock since) changes nothing.
func (c *Checkpoint) Save(ctx context.Context, value []byte) error {
	err := c.l.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		tag, err := conn.Exec(ctx, `
			INSERT INTO syncbox.checkpoints AS c (tenant, name, value, token, run_id, machine, saved_at)
			SELECT $1, $2, $3::text::json, $4, $5, $6, now()
			WHERE EXISTS (SELECT 1 FROM syncbox.run_locks
			              WHERE tenant = $1 AND name = $2 AND token = $4 AND backend_pid = pg_backend_pid())
			ON CONFLICT (tenant, name) DO UPDATE SET value = EXCLUDED.value, token = EXCLUDED.token,
				run_id = EXCLUDED.run_id, machine = EXCLUDED.machine, saved_at = EXCLUDED.saved_at
			WHERE c.token <= EXCLUDED.token`,
			c.l.key.Tenant, c.l.key.Name, string(value), c.l.token, c.runID, c.machine)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("%w: token %d is no longer current", errLost, c.l.token)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checkpoint of %s not saved to store %s: %w", c.l.key, c.l.url, err)
	}
	return nil
}
