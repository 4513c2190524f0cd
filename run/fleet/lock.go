package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"syncbox/run/runlock"
)

// lockKey is the advisory lock key of (tenant, name): a 64-bit hash of a
// string neither part can forge ('/' is not allowed in either). A hash
// collision could only make two connectors wait for each other, never let
// two runs of one connector through.
const lockKey = `hashtextextended('syncbox-run-lock/' || $1::text || '/' || $2::text, 0)`

const (
	// keepAlive is how often a held lock's session is checked; a dead
	// session closes Lost() within about this long.
	keepAlive = 2 * time.Second
	// opTimeout bounds every statement on the lock's session, so a store
	// that stops answering loses the lock instead of hanging the run.
	opTimeout = 15 * time.Second
	// idleSessionTimeout makes the server end the session of a runner
	// that stopped talking (frozen, partitioned) and so free its lock;
	// the keep-alive keeps a live runner's session from ever idling that
	// long. (PostgreSQL 14+; older servers rely on TCP keepalives.)
	idleSessionTimeout = "30s"
)

// Locks takes run locks in the store. It keeps one session between tries
// while a runner waits, and hands out the checkpoint of the lock it holds.
// Use one Locks per run.
type Locks struct {
	s     *Store
	spare *pgx.Conn // the session of a failed try, reused by the next
	held  *pgLock
}

// Locks returns a run lock backend for one run.
func (s *Store) Locks() *Locks { return &Locks{s: s} }

// TryLock implements runlock.Backend.
func (b *Locks) TryLock(ctx context.Context, k runlock.Key, h runlock.Holder) (*runlock.Lock, error) {
	if b.held != nil {
		return nil, errors.New("run lock: this backend already holds a lock")
	}
	conn := b.spare
	b.spare = nil
	if conn == nil || conn.IsClosed() {
		var err error
		if conn, err = pgx.ConnectConfig(ctx, b.s.cfg); err != nil {
			return nil, fmt.Errorf("run lock in store %s: %w", b.s.url, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock("+lockKey+")", k.Tenant, k.Name).Scan(&got); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("run lock in store %s: %w", b.s.url, err)
	}
	if !got {
		holder, err := b.holder(ctx, conn, k)
		if err != nil {
			conn.Close(context.Background())
			return nil, fmt.Errorf("run lock in store %s: %w", b.s.url, err)
		}
		b.spare = conn
		return nil, &runlock.HeldError{Key: k, Holder: holder}
	}
	_, _ = conn.Exec(ctx, "SELECT set_config('idle_session_timeout', $1, false)", idleSessionTimeout)
	err := conn.QueryRow(ctx, `
		INSERT INTO syncbox.run_locks AS l (tenant, name, token, run_id, machine, pid, started_at, backend_pid)
		VALUES ($1, $2, 1, $3, $4, $5, $6, pg_backend_pid())
		ON CONFLICT (tenant, name) DO UPDATE SET token = l.token + 1, run_id = EXCLUDED.run_id,
			machine = EXCLUDED.machine, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at,
			backend_pid = EXCLUDED.backend_pid
		RETURNING token`, k.Tenant, k.Name, h.RunID, h.Machine, h.PID, h.Started).Scan(&h.Token)
	if err != nil {
		conn.Close(context.Background()) // ends the session, and the advisory lock with it
		return nil, fmt.Errorf("run lock in store %s: record holder: %w", b.s.url, err)
	}
	pl := &pgLock{conn: conn, key: k, token: h.Token, url: b.s.url, done: make(chan struct{}), kept: make(chan struct{})}
	l, markLost := runlock.NewLock(h, pl.release)
	pl.markLost = markLost
	b.held = pl
	go pl.keep()
	return l, nil
}

// Close ends the spare session a failed wait may have left.
func (b *Locks) Close() {
	if b.spare != nil {
		b.spare.Close(context.Background())
		b.spare = nil
	}
}

// holder reads who holds k. The row is trusted only if its session really
// holds the advisory lock (pg_locks): a new holder writes its row just
// after taking the lock, so for a moment the row may still name the last
// one. Such a row is read again briefly before the holder is called unknown.
func (b *Locks) holder(ctx context.Context, conn *pgx.Conn, k runlock.Key) (runlock.Holder, error) {
	for range 20 {
		var h runlock.Holder
		err := conn.QueryRow(ctx, `
			SELECT r.run_id, r.started_at, r.pid, r.machine, r.token FROM syncbox.run_locks r
			WHERE r.tenant = $1 AND r.name = $2 AND EXISTS (
				SELECT 1 FROM pg_locks l
				WHERE l.locktype = 'advisory' AND l.granted AND l.pid = r.backend_pid AND l.objsubid = 1
				  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
				  AND ((l.classid::int8 << 32) | l.objid::int8) = `+lockKey+`)`, k.Tenant, k.Name).
			Scan(&h.RunID, &h.Started, &h.PID, &h.Machine, &h.Token)
		if err == nil {
			return h, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return h, err
		}
		time.Sleep(25 * time.Millisecond)
	}
	return runlock.Holder{}, nil
}

// pgLock is a held advisory lock and the session that holds it. The
// session is used by one goroutine at a time (mu): the keep-alive and the
// checkpoint's statements.
type pgLock struct {
	mu       sync.Mutex
	conn     *pgx.Conn
	key      runlock.Key
	token    int64
	url      string
	lost     bool
	markLost func()
	done     chan struct{} // closed by release
	kept     chan struct{} // closed when keep returns
}

// keep checks the session until release, and marks the lock lost if the
// session is gone.
func (p *pgLock) keep() {
	defer close(p.kept)
	t := time.NewTicker(keepAlive)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		err := p.do(context.Background(), func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, "SELECT 1")
			return err
		})
		if err != nil {
			return
		}
	}
}

// do runs fn on the lock's session. If the session fails, the lock is
// marked lost and the session closed: nothing more is done under it.
func (p *pgLock) do(ctx context.Context, fn func(context.Context, *pgx.Conn) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lost {
		return errLost
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := fn(ctx, p.conn)
	if err != nil && (p.conn.IsClosed() || ctx.Err() != nil || errors.Is(err, errLost)) {
		p.loseLocked()
		return fmt.Errorf("%w: the session holding it failed: %w", errLost, err)
	}
	return err
}

func (p *pgLock) loseLocked() {
	p.lost = true
	p.conn.Close(context.Background())
	p.markLost()
}

// release unlocks explicitly, so the next holder need not wait for the
// server to notice the closed session, then closes it.
func (p *pgLock) release() error {
	close(p.done)
	<-p.kept
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lost {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	_, err := p.conn.Exec(ctx, "SELECT pg_advisory_unlock("+lockKey+")", p.key.Tenant, p.key.Name)
	p.conn.Close(ctx)
	p.lost = true
	if err != nil {
		return fmt.Errorf("release run lock in store %s: %w", p.url, err)
	}
	return nil
}
