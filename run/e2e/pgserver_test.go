package e2e

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"syncbox/testdata/pgtest"
)

// The PostgreSQL server of these tests is package pgtest's, shared with
// the store's tests; these names keep the tests short.

type pgServer struct{ *pgtest.Server }

func startPostgres(t *testing.T) pgServer { return pgServer{pgtest.Start(t)} }

func (s pgServer) conn(t *testing.T, db string) *pgx.Conn { return s.Conn(t, db) }

func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	pgtest.Unavailable(t, format, args...)
}

func execSQL(t *testing.T, c *pgx.Conn, stmts ...string) {
	t.Helper()
	pgtest.Exec(t, c, stmts...)
}
