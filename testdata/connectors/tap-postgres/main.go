// Command tap-postgres is a small Singer tap for tests and demos: it reads
// one PostgreSQL table in primary key order and prints SCHEMA, RECORD and
// STATE messages, resuming after the bookmark in a Singer state file.
//
// Rows are read by keyset pagination (WHERE key > last ORDER BY key LIMIT
// page), each page a short query, so the tap holds one row at a time and
// its memory is bounded by the largest row, not the table. Record values
// come from row_to_json on the server, so numbers, NULLs, arrays and JSON
// columns are exactly as PostgreSQL serializes them, and the tap copies no
// value: a row's JSON goes from pgx's read buffer straight to stdout.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

type options struct {
	host, user, dbname, table, key string
	port                           int
	statePath                      string
	stateEvery, page               int
}

func main() {
	var o options
	flag.StringVar(&o.host, "host", os.Getenv("PGHOST"), "PostgreSQL host or unix socket `DIR` (default $PGHOST)")
	flag.IntVar(&o.port, "port", 5432, "PostgreSQL port (also names the unix socket file)")
	flag.StringVar(&o.user, "user", "postgres", "database user")
	flag.StringVar(&o.dbname, "dbname", "postgres", "database")
	flag.StringVar(&o.table, "table", "", "table to read; also the stream name (required)")
	flag.StringVar(&o.key, "key", "id", "integer primary key column: sort order and bookmark")
	flag.StringVar(&o.statePath, "state", "", "resume after the bookmark in this Singer state `FILE` ({\"bookmarks\":{table:{key:N}}})")
	flag.IntVar(&o.stateEvery, "state-every", 500, "emit a STATE bookmark after every N records")
	flag.IntVar(&o.page, "page", 200, "rows per query")
	flag.Parse()
	if o.table == "" || o.stateEvery < 1 || o.page < 1 {
		fmt.Fprintln(os.Stderr, "tap-postgres: --table is required; --state-every and --page must be at least 1")
		os.Exit(2)
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "tap-postgres:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	after, err := readBookmark(o.statePath, o.table, o.key)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, connString(o.host, o.port, o.user, o.dbname))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", o.host, err)
	}
	defer conn.Close(ctx)

	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	schema, err := schemaMessage(ctx, conn, o.table, o.key)
	if err != nil {
		return err
	}
	w.Write(schema)

	tbl := pgx.Identifier{o.table}.Sanitize()
	key := pgx.Identifier{o.key}.Sanitize()
	// The key is selected as text: its bytes are then the bookmark as
	// written, with no decoding; t is the row, so row_to_json sees every
	// column under its own name.
	q := fmt.Sprintf(`SELECT t.%s::text, row_to_json(t)::text FROM %s t WHERE t.%s > $1 ORDER BY t.%s LIMIT $2`, key, tbl, key, key)
	prefix := fmt.Sprintf(`{"type":"RECORD","stream":%s,"record":`, jsonString(o.table))
	var sinceState int
	for {
		rows, err := conn.Query(ctx, q, after, o.page)
		if err != nil {
			return fmt.Errorf("read %s after %s %d: %w", o.table, o.key, after, err)
		}
		n := 0
		for rows.Next() {
			// RawValues point into pgx's read buffer: the row is written
			// out without a copy of the (possibly huge) value.
			v := rows.RawValues()
			id, err := strconv.ParseInt(string(v[0]), 10, 64)
			if err != nil {
				rows.Close()
				return fmt.Errorf("%s %q is not an integer: %w", o.key, v[0], err)
			}
			w.WriteString(prefix)
			w.Write(v[1])
			// bufio's error is sticky: one check per row catches a closed
			// stdout before the next (maybe huge) row is read.
			if _, err := w.WriteString(`,"time_extracted":"` + time.Now().UTC().Format(time.RFC3339) + "\"}\n"); err != nil {
				rows.Close()
				return fmt.Errorf("write stdout: %w", err)
			}
			after, n = id, n+1
			if sinceState++; sinceState == o.stateEvery {
				w.Write(stateMessage(o.table, o.key, after))
				sinceState = 0
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s after %s %d: %w", o.table, o.key, after, err)
		}
		if n < o.page {
			break
		}
	}
	if sinceState > 0 {
		w.Write(stateMessage(o.table, o.key, after))
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}

// readBookmark returns the key value to resume after (0: from the start).
// A missing or empty state file, or one without this table, means a full
// read: that is what Singer taps do on a first run.
func readBookmark(path, table, key string) (int64, error) {
	if path == "" {
		return 0, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(strings.TrimSpace(string(b))) == 0 {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read state: %w", err)
	}
	var st struct {
		Bookmarks map[string]map[string]json.Number `json:"bookmarks"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, fmt.Errorf("state %s: %w", path, err)
	}
	v, ok := st.Bookmarks[table][key]
	if !ok {
		return 0, nil
	}
	n, err := v.Int64()
	if err != nil {
		return 0, fmt.Errorf("state %s: bookmark %s.%s: %w", path, table, key, err)
	}
	return n, nil
}

// schemaMessage describes the table's columns as JSON Schema, from the
// catalog, with the key as key_properties.
func schemaMessage(ctx context.Context, conn *pgx.Conn, table, key string) ([]byte, error) {
	rows, err := conn.Query(ctx, `SELECT column_name, data_type, is_nullable = 'YES'
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	props := map[string]any{}
	for rows.Next() {
		var name, typ string
		var nullable bool
		if err := rows.Scan(&name, &typ, &nullable); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read columns of %s: %w", table, err)
		}
		props[name] = jsonSchema(typ, nullable)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	if len(props) == 0 {
		return nil, fmt.Errorf("table %s not found or has no columns", table)
	}
	if _, ok := props[key]; !ok {
		return nil, fmt.Errorf("table %s has no column %s", table, key)
	}
	b, err := json.Marshal(map[string]any{"type": "SCHEMA", "stream": table, "key_properties": []string{key},
		"schema": map[string]any{"type": "object", "properties": props}})
	if err != nil {
		return nil, fmt.Errorf("encode schema of %s: %w", table, err)
	}
	return append(b, '\n'), nil
}

func jsonSchema(pgType string, nullable bool) map[string]any {
	s := map[string]any{}
	var t string
	switch pgType {
	case "smallint", "integer", "bigint":
		t = "integer"
	case "numeric", "real", "double precision":
		t = "number"
	case "boolean":
		t = "boolean"
	case "ARRAY":
		t = "array"
	case "json", "jsonb":
		return s // any JSON value
	case "timestamp with time zone", "timestamp without time zone":
		t, s["format"] = "string", "date-time"
	default:
		t = "string"
	}
	if nullable {
		s["type"] = []string{"null", t}
	} else {
		s["type"] = t
	}
	return s
}

func stateMessage(table, key string, id int64) []byte {
	return fmt.Appendf(nil, `{"type":"STATE","value":{"bookmarks":{%s:{%s:%d}}}}`+"\n", jsonString(table), jsonString(key), id)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// connString quotes values for libpq's keyword=value form, so a socket
// directory may contain spaces or quotes.
func connString(host string, port int, user, dbname string) string {
	q := func(v string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	}
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", q(host), port, q(user), q(dbname))
}
