// Command target-postgres is a small Singer target for tests and demos: it
// reads SCHEMA, RECORD and STATE messages on stdin and loads records into
// an existing PostgreSQL table, idempotently by the stream's key_properties
// (INSERT ... ON CONFLICT DO UPDATE), one transaction per batch.
//
// The destination table is created by its owner with the limits it really
// has (say varchar(65535), as in Redshift); the target maps JSON to columns
// with jsonb_populate_recordset, so PostgreSQL does the type conversions,
// a JSON null is SQL NULL, and a value the table cannot hold fails the load
// as it would in production. If the table has the --meta-column, the
// message's Singer "meta" (e.g. syncbox's lineage of nulled values) is
// stored there. After each commit it prints the last STATE it received, so
// a state printed by the target is one whose records are in the table.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
)

type options struct {
	host, user, dbname, table, metaColumn string
	port, batch                           int
}

func main() {
	var o options
	flag.StringVar(&o.host, "host", os.Getenv("PGHOST"), "PostgreSQL host or unix socket `DIR` (default $PGHOST)")
	flag.IntVar(&o.port, "port", 5432, "PostgreSQL port (also names the unix socket file)")
	flag.StringVar(&o.user, "user", "postgres", "database user")
	flag.StringVar(&o.dbname, "dbname", "postgres", "database")
	flag.StringVar(&o.table, "table", "", "load every stream into this table (default: a table named like the stream)")
	flag.StringVar(&o.metaColumn, "meta-column", "_sdc_meta", "jsonb column for the message's meta, if the table has it")
	flag.IntVar(&o.batch, "batch", 500, "records per transaction")
	flag.Parse()
	if o.batch < 1 {
		fmt.Fprintln(os.Stderr, "target-postgres: --batch must be at least 1")
		os.Exit(2)
	}
	if err := run(context.Background(), o, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "target-postgres:", err)
		os.Exit(1)
	}
}

type target struct {
	o               options
	conn            *pgx.Conn
	out             *bufio.Writer
	streams         map[string]*loader
	state           json.RawMessage // received, not yet printed: its records may be uncommitted
	buffered        int
	loaded, batches int64
}

// loader is one stream's destination and its pending batch.
type loader struct {
	table   string
	keys    []string
	hasMeta bool
	upsert  string
	rows    [][]byte       // JSON objects, one per pending record
	byKey   map[string]int // index into rows: a later record with the same key replaces the earlier one
}

func run(ctx context.Context, o options, in io.Reader, out io.Writer) error {
	conn, err := pgx.Connect(ctx, connString(o.host, o.port, o.user, o.dbname))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", o.host, err)
	}
	defer conn.Close(ctx)
	t := &target{o: o, conn: conn, out: bufio.NewWriter(out), streams: map[string]*loader{}}

	r := bufio.NewReaderSize(in, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if herr := t.handle(ctx, line); herr != nil {
				return fmt.Errorf("line %d: %w", lineNo, herr)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "target-postgres: loaded %d records in %d transactions\n", t.loaded, t.batches)
	return nil
}

type message struct {
	Type          string          `json:"type"`
	Stream        string          `json:"stream"`
	Record        json.RawMessage `json:"record"`
	Meta          json.RawMessage `json:"meta"`
	KeyProperties []string        `json:"key_properties"`
	Value         json.RawMessage `json:"value"`
}

func (t *target) handle(ctx context.Context, line []byte) error {
	var m message
	if err := json.Unmarshal(line, &m); err != nil {
		return fmt.Errorf("not a Singer message: %w", err)
	}
	switch m.Type {
	case "SCHEMA":
		// A new SCHEMA may change keys or columns: load what came before
		// under the old one.
		if err := t.flush(ctx); err != nil {
			return err
		}
		l, err := t.prepare(ctx, m.Stream, m.KeyProperties)
		if err != nil {
			return err
		}
		t.streams[m.Stream] = l
	case "RECORD":
		l := t.streams[m.Stream]
		if l == nil {
			return fmt.Errorf("RECORD for stream %q before its SCHEMA", m.Stream)
		}
		if err := l.add(m.Record, m.Meta, t.o.metaColumn); err != nil {
			return fmt.Errorf("stream %s: %w", m.Stream, err)
		}
		if t.buffered++; t.buffered >= t.o.batch {
			return t.flush(ctx)
		}
	case "STATE":
		t.state = m.Value
		if t.buffered == 0 {
			return t.flush(ctx) // nothing pending: the state is already true
		}
	}
	return nil
}

// prepare reads the destination table's columns and builds its upsert.
func (t *target) prepare(ctx context.Context, stream string, keys []string) (*loader, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("stream %s: SCHEMA has no key_properties; an idempotent load needs a key", stream)
	}
	name := t.o.table
	if name == "" {
		name = stream
	}
	tbl := pgx.Identifier{name}.Sanitize()
	rows, err := t.conn.Query(ctx, `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, tbl)
	if err != nil {
		return nil, fmt.Errorf("stream %s: columns of table %s: %w", stream, name, err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("stream %s: columns of table %s: %w", stream, name, err)
	}
	l := &loader{table: name, keys: keys, byKey: map[string]int{}}
	var all, set []string
	for _, c := range cols {
		q := pgx.Identifier{c}.Sanitize()
		all = append(all, q)
		if c == t.o.metaColumn {
			l.hasMeta = true
		}
		isKey := false
		for _, k := range keys {
			isKey = isKey || k == c
		}
		if !isKey {
			set = append(set, q+" = EXCLUDED."+q)
		}
	}
	var qk []string
	for _, k := range keys {
		qk = append(qk, pgx.Identifier{k}.Sanitize())
	}
	conflict := "DO NOTHING"
	if len(set) > 0 {
		conflict = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	// $1 is the batch as one JSON array; text then jsonb so that pgx sends
	// it verbatim.
	l.upsert = fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s FROM jsonb_populate_recordset(NULL::%s, $1::text::jsonb) ON CONFLICT (%s) %s`,
		tbl, strings.Join(all, ", "), strings.Join(all, ", "), tbl, strings.Join(qk, ", "), conflict)
	return l, nil
}

func (l *loader) add(record, meta json.RawMessage, metaColumn string) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(record, &fields); err != nil || fields == nil {
		return fmt.Errorf("record is not a JSON object: %v", err)
	}
	var key []byte
	for _, k := range l.keys {
		v, ok := fields[k]
		if !ok || string(v) == "null" {
			return fmt.Errorf("record without key property %s", k)
		}
		key = append(append(key, v...), 0)
	}
	if l.hasMeta {
		if len(meta) == 0 {
			meta = json.RawMessage("null")
		}
		fields[metaColumn] = meta
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	// ON CONFLICT cannot touch one row twice in a statement; the last
	// version of a record wins, as it would across statements.
	if i, ok := l.byKey[string(key)]; ok {
		l.rows[i] = b
		return nil
	}
	l.byKey[string(key)] = len(l.rows)
	l.rows = append(l.rows, b)
	return nil
}

// flush commits every stream's pending records, one transaction each, then
// prints the last STATE.
func (t *target) flush(ctx context.Context) error {
	for _, l := range t.streams {
		if len(l.rows) == 0 {
			continue
		}
		batch := append(append([]byte("["), bytes.Join(l.rows, []byte(","))...), ']')
		err := pgx.BeginFunc(ctx, t.conn, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, l.upsert, string(batch))
			return err
		})
		if err != nil {
			return fmt.Errorf("load %d records into %s: %w", len(l.rows), l.table, err)
		}
		t.loaded += int64(len(l.rows))
		t.batches++
		l.rows, l.byKey = l.rows[:0], map[string]int{}
	}
	t.buffered = 0
	if t.state != nil {
		fmt.Fprintf(t.out, `{"type":"STATE","value":%s}`+"\n", t.state)
		t.state = nil
	}
	if err := t.out.Flush(); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}

// connString quotes values for libpq's keyword=value form, so a socket
// directory may contain spaces or quotes.
func connString(host string, port int, user, dbname string) string {
	q := func(v string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	}
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", q(host), port, q(user), q(dbname))
}
