package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// connectTimeout bounds each connection attempt: a store that is down
// must fail a run at start, not hang it.
const connectTimeout = 10 * time.Second

// Store is an open connection to the shared store.
type Store struct {
	url     string // redacted, for messages
	pool    *pgxpool.Pool
	cfg     *pgx.ConnConfig // for the lock's own sessions
	machine string
}

// Open connects to the PostgreSQL database at rawURL (postgres://...),
// and creates or migrates its schema. Errors name the URL with any
// password hidden.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	red := Redact(rawURL)
	if !strings.HasPrefix(rawURL, "postgres://") && !strings.HasPrefix(rawURL, "postgresql://") {
		return nil, fmt.Errorf("store %s: want a postgres:// or postgresql:// URL", red)
	}
	pcfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store %s: %s", red, redactErr(err, rawURL))
	}
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	// A run needs a connection at its start and end (history) besides
	// its lock's session; idle ones are closed rather than held for hours.
	pcfg.MaxConns, pcfg.MaxConnIdleTime = 2, 30*time.Second
	s := &Store{url: red, cfg: pcfg.ConnConfig.Copy()}
	s.machine, _ = os.Hostname()
	ctx, cancel := context.WithTimeout(ctx, 2*connectTimeout)
	defer cancel()
	if s.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return nil, fmt.Errorf("store %s: %s", red, redactErr(err, rawURL))
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("store %s is unreachable: %s", red, redactErr(err, rawURL))
	}
	if err := migrateSchema(ctx, s.cfg); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("store %s: %s", red, redactErr(err, rawURL))
	}
	return s, nil
}

// URL is the store's URL with any password hidden.
func (s *Store) URL() string { return s.url }

// Machine is the name this runner records as its machine (the hostname).
func (s *Store) Machine() string { return s.machine }

// Close closes the store's shared connections; locks have their own.
func (s *Store) Close() { s.pool.Close() }

// Redact hides the password of a postgres URL (user info or a password
// query parameter) so the URL can appear in messages and reports.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		// Not a URL (perhaps a "host=... password=..." string): show
		// only what cannot be a secret.
		return "(a store address that is not a URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// redactErr removes the password from an error's text, in case a driver
// echoes what it was given.
func redactErr(err error, raw string) string {
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
		if p := u.Query().Get("password"); p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// errLost marks errors that mean the lock's session is gone.
var errLost = errors.New("the run lock was lost")
