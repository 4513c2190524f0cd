package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"syncbox/limits/history"
)

// historyTimeout bounds each history statement: recording or reading the
// history must never hold a run up for long.
const historyTimeout = 30 * time.Second

// History is the run history shared by every machine using the store. It
// implements history.Backend.
type History struct{ s *Store }

// History returns the store's run history.
func (s *Store) History() *History { return &History{s: s} }

var _ history.Backend = (*History)(nil)

// Append stores one entry, recording this machine if the entry names
// none, and keeps the newest history.DefaultKeep entries per connector and
// tenant, in one transaction.
func (h *History) Append(e history.Entry) error {
	if e.Name == "" || e.At.IsZero() {
		return fmt.Errorf("append to run history in store %s: entry without a connector name or time", h.s.url)
	}
	if e.Machine == "" {
		e.Machine = h.s.machine
	}
	val, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("append to run history in store %s: %w", h.s.url, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	defer cancel()
	tx, err := h.s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("append to run history in store %s: %w", h.s.url, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `
		INSERT INTO syncbox.runs (name, tenant, at, run_id, attempt, machine, entry)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (name, tenant, run_id, attempt) DO UPDATE SET at = EXCLUDED.at, machine = EXCLUDED.machine, entry = EXCLUDED.entry`,
		e.Name, e.Tenant, e.At, e.RunID, e.Attempt, e.Machine, val); err != nil {
		return fmt.Errorf("append to run history in store %s: %w", h.s.url, err)
	}
	if _, err := tx.Exec(ctx, `
		DELETE FROM syncbox.runs WHERE id IN (
			SELECT id FROM syncbox.runs WHERE name = $1 AND tenant = $2 ORDER BY at DESC, id DESC OFFSET $3)`,
		e.Name, e.Tenant, history.DefaultKeep); err != nil {
		return fmt.Errorf("prune run history in store %s: %w", h.s.url, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("append to run history in store %s: %w", h.s.url, err)
	}
	return nil
}

// List returns the entries matching f, oldest first.
func (h *History) List(f history.Filter) ([]history.Entry, error) {
	var limit *int
	if f.Limit > 0 {
		limit = &f.Limit
	}
	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	defer cancel()
	rows, err := h.s.pool.Query(ctx, `
		SELECT entry FROM (
			SELECT entry, at, id FROM syncbox.runs
			WHERE ($1 = '' OR name = $1) AND ($2 = '' OR tenant = $2)
			ORDER BY at DESC, id DESC LIMIT $3) newest
		ORDER BY at, id`, f.Name, f.Tenant, limit)
	if err != nil {
		return nil, fmt.Errorf("read run history in store %s: %w", h.s.url, err)
	}
	defer rows.Close()
	var out []history.Entry
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("read run history in store %s: %w", h.s.url, err)
		}
		var e history.Entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("read run history in store %s: bad entry: %w", h.s.url, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read run history in store %s: %w", h.s.url, err)
	}
	return out, nil
}

// ForConnector returns a connector's entries for one tenant (own) and for
// its other tenants (others), from every machine, each oldest first.
func (h *History) ForConnector(name, tenant string) (own, others []history.Entry, err error) {
	all, err := h.List(history.Filter{Name: name})
	if err != nil {
		return nil, nil, err
	}
	own, others = history.SplitByTenant(all, tenant)
	return own, others, nil
}
