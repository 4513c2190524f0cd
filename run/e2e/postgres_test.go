package e2e

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

// The fixture: ordinary rows, plus one row whose text column holds about
// 500 MB and one whose jsonb column holds about 200 MB (jsonb's limit is
// about 255 MB), generated server-side.
const (
	rows         = 4000
	bigTextID    = 2000
	bigDocID     = 3000
	bigTextBytes = 500 << 20
	bigDocItems  = 200_000 // objects of about 1 KB each
	stateEvery   = 500
)

const sourceTable = `CREATE TABLE src (
	id bigint PRIMARY KEY,
	name text,
	amount numeric(12,2),
	ratio double precision,
	active boolean,
	created_at timestamptz,
	tags text[],
	attrs jsonb,
	doc jsonb,
	body text)`

// The destination has Redshift's limit on character columns, which is
// what --destination redshift enforces in the stream; _sdc_meta receives
// the message's lineage.
const destTable = `CREATE TABLE dst (
	id bigint PRIMARY KEY,
	name varchar(65535),
	amount numeric(12,2),
	ratio double precision,
	active boolean,
	created_at timestamptz,
	tags text[],
	attrs jsonb,
	doc jsonb,
	body varchar(65535),
	_sdc_meta jsonb)`

// Ordinary rows: non-ASCII, quotes and backslashes, NULLs in every
// nullable column now and then, nested JSON with a null inside.
const fillOrdinary = `INSERT INTO src
SELECT g,
	CASE WHEN g % 7 = 0 THEN NULL ELSE 'Zürich "' || g || E'" \\ café 東京 ' || repeat('ab', g % 50) END,
	CASE WHEN g % 5 = 0 THEN NULL ELSE (g * 1.25)::numeric(12,2) END,
	g / 3.0,
	CASE WHEN g % 13 = 0 THEN NULL ELSE g % 2 = 0 END,
	timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute 1.5 seconds',
	ARRAY['t' || g % 3, 'ü', NULL],
	CASE WHEN g % 11 = 0 THEN NULL ELSE jsonb_build_object('n', g, 'nested', jsonb_build_object('k', repeat('é', g % 20)), 'list', jsonb_build_array(1, 'two', NULL, true, 1.5e300)) END,
	CASE WHEN g % 3 = 0 THEN NULL ELSE jsonb_build_array(g, 'doc ' || g) END,
	'body ' || g || E'\n\t' || repeat('Ω', g % 100)
FROM generate_series(1, {rows}) g`

// hashProjection is the same on both sides: the destination's varchar
// columns are compared as text, and the giant values, which must arrive
// as NULL, are NULL in the source's projection too.
var hashProjection = fmt.Sprintf(`SELECT count(*), coalesce(md5(string_agg(row_to_json(x)::text, E'\n' ORDER BY id)), '')
	FROM (SELECT id, name::text AS name, amount, ratio, active, created_at, tags, attrs,
		CASE WHEN id = %d THEN NULL ELSE doc END AS doc,
		CASE WHEN id = %d THEN NULL ELSE body::text END AS body
		FROM %%s) x`, bigDocID, bigTextID)

// TestPostgresToPostgresWithGiantValuesAndOOM runs a real pipeline from a
// PostgreSQL table to another through two syncbox containers:
//
//  1. with --memory 256MiB the tap is OOM-killed reading the 500 MB row:
//     exit 3, an OOM diagnosis, and the state file at the last bookmark,
//     with every row up to it in the destination;
//  2. resumed from that state with --memory auto --retry-oom 2, it
//     completes: the giant values are nulled with lineage (message meta,
//     flags file), kept byte-exact in the rejects dir, and the destination
//     holds every row once, equal to the source.
//
// Throughout, each syncbox runner stays under 64 MiB of RSS.
func TestPostgresToPostgresWithGiantValuesAndOOM(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: moves about a gigabyte through a real database")
	}
	if os.Geteuid() != 0 {
		unavailable(t, "root, to run containers")
	}
	// PostgreSQL's copy of the giant values, their rejects and spool files.
	testenv.RequireDisk(t, os.TempDir(), 4<<30)
	sb := syncboxBin(t)
	tapBin, targetBin := connectorBin(t, "tap-postgres"), connectorBin(t, "target-postgres")
	ctx := context.Background()

	began := time.Now()
	pg := startPostgres(t)
	execSQL(t, pg.conn(t, "postgres"), "CREATE DATABASE source", "CREATE DATABASE warehouse")
	src, wh := pg.conn(t, "source"), pg.conn(t, "warehouse")
	execSQL(t, src, sourceTable, strings.ReplaceAll(fillOrdinary, "{rows}", strconv.Itoa(rows)),
		fmt.Sprintf(`UPDATE src SET body = (SELECT repeat(p, %d / octet_length(p)) FROM (SELECT E'Grüße "syncbox" \\ tab\t ' AS p) x) WHERE id = %d`,
			bigTextBytes, bigTextID),
		fmt.Sprintf(`UPDATE src SET doc = (SELECT jsonb_build_object('items', jsonb_agg(jsonb_build_object('n', g, 's', repeat('é', 500))))
			FROM generate_series(1, %d) g) WHERE id = %d`, bigDocItems, bigDocID))
	execSQL(t, wh, destTable)

	// What the rejects files must hold: each value exactly as the tap put
	// it in the stream (row_to_json serializes text with to_json and jsonb
	// with its text output). MATERIALIZED serializes each value once.
	hashed := time.Now()
	// A string's size is its decoded UTF-8 bytes (the text's own
	// octet_length), an object's its serialized bytes.
	var textLen, textBytes, docLen int64
	var wantTextMD5, wantDocMD5 string
	if err := src.QueryRow(ctx, `WITH v AS MATERIALIZED (SELECT to_json(body)::text AS j, octet_length(body) AS n FROM src WHERE id = $1)
		SELECT octet_length(j), n, md5(j) FROM v`, bigTextID).Scan(&textLen, &textBytes, &wantTextMD5); err != nil {
		t.Fatalf("hash the giant text: %v", err)
	}
	if err := src.QueryRow(ctx, `WITH v AS MATERIALIZED (SELECT doc::text AS j FROM src WHERE id = $1)
		SELECT octet_length(j), md5(j) FROM v`, bigDocID).Scan(&docLen, &wantDocMD5); err != nil {
		t.Fatalf("hash the giant document: %v", err)
	}
	t.Logf("giant values hashed in %.1fs", time.Since(hashed).Seconds())
	wantCount, wantHash := tableHash(t, src, "src")
	t.Logf("fixture: %d rows; giant text %d bytes as JSON, giant jsonb %d bytes; ready in %.1fs", wantCount, textLen, docLen, time.Since(began).Seconds())

	work := t.TempDir()
	stateFile := filepath.Join(work, "state.json")
	flagsFile := filepath.Join(work, "flags.jsonl")
	rejectsDir := filepath.Join(work, "rejects")
	env := append(os.Environ(), "SYNCBOX_RUN_DIR="+filepath.Join(work, "run"), "SYNCBOX_HOME="+filepath.Join(work, "home"))
	tapArgs := func(reportPath string, memory ...string) []string {
		a := []string{"run", "--name", "tap-postgres", "--network", "none", "--bind", pg.SockDir,
			"--destination", "redshift", "--flags-file", flagsFile, "--rejects-dir", rejectsDir,
			"--state-file", stateFile, "--report", reportPath}
		a = append(a, memory...)
		return append(a, "--", tapBin, "--host", pg.SockDir, "--dbname", "source", "--table", "src",
			"--state", "{state}", "--state-every", fmt.Sprint(stateEvery))
	}
	targetArgs := func(reportPath string) []string {
		return []string{"run", "--name", "target-postgres", "--network", "none", "--bind", pg.SockDir,
			"--memory", "256MiB", "--report", reportPath, "--stdin",
			"--", targetBin, "--host", pg.SockDir, "--dbname", "warehouse", "--table", "dst", "--batch", "500"}
	}

	// 1. Too little memory for the 500 MB row.
	rep1, trep1 := filepath.Join(work, "tap1.json"), filepath.Join(work, "target1.json")
	p := pipeline(t, sb, env, tapArgs(rep1, "--memory", "256MiB"), targetArgs(trep1))
	t.Logf("run 1: tap exit %d, target exit %d, %.1fs", p.tapCode, p.targetCode, p.took.Seconds())
	if p.tapCode != report.ExitOOM || p.targetCode != 0 {
		t.Fatalf("run 1: exit codes tap %d target %d, want %d and 0\ntap stderr:\n%s\ntarget stderr:\n%s",
			p.tapCode, p.targetCode, report.ExitOOM, p.tapStderr, p.targetStderr)
	}
	r1 := readReport(t, rep1)
	checkRunnerRSS(t, "run 1 tap", r1)
	checkRunnerRSS(t, "run 1 target", readReport(t, trep1))
	if r1.Outcome != report.OOMKilled || r1.OOM == nil {
		t.Fatalf("run 1: outcome %q, oom %+v; want oom_killed with a diagnosis", r1.Outcome, r1.OOM)
	}
	if r1.OOM.Stream != "src" || r1.OOM.RecommendedLimitBytes <= 256<<20 || r1.OOM.Explanation == "" {
		t.Errorf("run 1: diagnosis %+v: want stream src and a limit above 256 MiB", r1.OOM)
	}
	bookmark := readBookmark(t, stateFile)
	if bookmark <= 0 || bookmark >= bigTextID || bookmark%stateEvery != 0 {
		t.Fatalf("run 1: state file bookmark %d, want the last multiple of %d before %d", bookmark, stateEvery, bigTextID)
	}
	if r1.State == nil || readBookmarkJSON(t, r1.State.Last) != bookmark || r1.State.PersistedTo != stateFile {
		t.Errorf("run 1: report state %+v, want bookmark %d persisted to %s", r1.State, bookmark, stateFile)
	}
	// At least once: every row the bookmark covers is in the destination.
	var covered int64
	if err := wh.QueryRow(ctx, `SELECT count(*) FROM dst WHERE id <= $1`, bookmark).Scan(&covered); err != nil {
		t.Fatalf("count loaded rows: %v", err)
	}
	if covered != bookmark {
		t.Errorf("run 1: %d rows up to the bookmark %d in the destination, want all", covered, bookmark)
	}
	if got := lastTargetState(t, p.targetStdout); got != bookmark {
		t.Errorf("run 1: target committed up to bookmark %d, want %d (it loads all it received before EOF)", got, bookmark)
	}
	t.Logf("run 1: OOM-killed at %d MiB, bookmark %d, %d rows loaded; diagnosis: %s",
		r1.Memory.LimitBytes>>20, bookmark, covered, r1.OOM.Explanation)

	// 2. Resume from the bookmark; syncbox finds a limit that fits.
	rep2 := filepath.Join(work, "tap2.json")
	p = pipeline(t, sb, env, tapArgs(rep2, "--memory", "auto", "--retry-oom", "2"), targetArgs(rep2+".target"))
	t.Logf("run 2: tap exit %d, target exit %d, %.1fs", p.tapCode, p.targetCode, p.took.Seconds())
	if p.tapCode != 0 || p.targetCode != 0 {
		t.Fatalf("run 2: exit codes tap %d target %d, want 0 and 0\ntap stderr:\n%s\ntarget stderr:\n%s",
			p.tapCode, p.targetCode, p.tapStderr, p.targetStderr)
	}
	r2 := readReport(t, rep2)
	checkRunnerRSS(t, "run 2 tap", r2)
	checkRunnerRSS(t, "run 2 target", readReport(t, rep2+".target"))
	if r2.Outcome != report.Succeeded {
		t.Errorf("run 2: outcome %q, want succeeded", r2.Outcome)
	}
	for _, a := range r2.Attempts {
		t.Logf("run 2: attempt %d: limit %d MiB, peak %d MiB, %s, %.1fs", a.Attempt, a.LimitBytes>>20, a.PeakBytes>>20, a.Outcome, a.DurationSeconds)
	}
	if got := readBookmark(t, stateFile); got != rows {
		t.Errorf("run 2: state file bookmark %d, want %d", got, rows)
	}
	if got := lastTargetState(t, p.targetStdout); got != rows {
		t.Errorf("run 2: target committed up to bookmark %d, want %d", got, rows)
	}
	if r2.Records.Flagged.Count != 2 {
		t.Errorf("run 2: %d values flagged, want 2", r2.Records.Flagged.Count)
	}
	if l := r2.Records.Flagged.Largest; l == nil || l.Stream != "src" || l.FieldPath != "body" || l.Size != textBytes {
		t.Errorf("run 2: largest flagged %+v, want src.body of %d bytes", l, textBytes)
	}

	// Lineage in the flags file, originals byte-exact in the rejects dir.
	flags := readFlags(t, flagsFile)
	for _, w := range []struct {
		id         int64
		field, md5 string
		size, file int64 // flagged size; rejects file: the value as serialized
	}{{bigTextID, "body", wantTextMD5, textBytes, textLen}, {bigDocID, "doc", wantDocMD5, docLen, docLen}} {
		f, ok := flags[w.field]
		if !ok {
			t.Errorf("flags file: no line for field %s; have %v", w.field, flags)
			continue
		}
		if f.Keys["id"] != w.id || f.Action != "nulled" || f.Size != w.size || f.Rejects == "" {
			t.Errorf("flags file: %s: %+v, want key id %d, action nulled, size %d, a rejects file", w.field, f, w.id, w.size)
			continue
		}
		path := filepath.Join(rejectsDir, f.Rejects)
		size, sum := fileMD5(t, path)
		if size != w.file || sum != w.md5 {
			t.Errorf("rejects %s: %d bytes md5 %s; the tap emitted %d bytes md5 %s", path, size, sum, w.file, w.md5)
		}
	}

	// The destination: every row once, equal to the source but for the
	// giant values, which are NULL with the message's lineage beside them.
	gotCount, gotHash := tableHash(t, wh, "dst")
	if gotCount != wantCount || gotHash != wantHash {
		t.Errorf("destination: %d rows hash %s; source: %d rows hash %s", gotCount, gotHash, wantCount, wantHash)
	}
	got := map[int64]any{}
	metaRows, err := wh.Query(ctx, `SELECT id, _sdc_meta::text FROM dst WHERE _sdc_meta IS NOT NULL`)
	if err != nil {
		t.Fatalf("read lineage: %v", err)
	}
	var id int64
	var meta string
	if _, err := pgx.ForEachRow(metaRows, []any{&id, &meta}, func() error {
		got[id] = decodeJSON(t, meta)
		return nil
	}); err != nil {
		t.Fatalf("read lineage: %v", err)
	}
	lineage := `{"changes":[{"field":"%s","change":"NULLED","reason":"PLATFORM_FIELD_SIZE_LIMITATION"}]}`
	want := map[int64]any{
		bigTextID: decodeJSON(t, fmt.Sprintf(lineage, "body")),
		bigDocID:  decodeJSON(t, fmt.Sprintf(lineage, "doc")),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("destination lineage (_sdc_meta, from the messages' meta):\n got %v\nwant %v", got, want)
	}
	t.Logf("run 2: %d records, tap peak memory %d MiB, runner peak RSS tap %.1f MiB; whole test %.1fs",
		r2.Records.Total, r2.Memory.PeakBytes>>20, float64(r2.Runner.PeakRSSBytes)/(1<<20), time.Since(began).Seconds())
}

func tableHash(t *testing.T, c *pgx.Conn, table string) (int64, string) {
	t.Helper()
	var n int64
	var h string
	if err := c.QueryRow(context.Background(), fmt.Sprintf(hashProjection, table)).Scan(&n, &h); err != nil {
		t.Fatalf("hash table %s: %v", table, err)
	}
	return n, h
}

func readBookmark(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	return readBookmarkJSON(t, b)
}

func readBookmarkJSON(t *testing.T, b []byte) int64 {
	t.Helper()
	var st struct {
		Bookmarks map[string]struct{ ID int64 } `json:"bookmarks"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state %q: %v", b, err)
	}
	return st.Bookmarks["src"].ID
}

// lastTargetState is the bookmark of the last STATE the target printed:
// Singer targets print a state once its records are committed.
func lastTargetState(t *testing.T, out string) int64 {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var m struct {
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil || m.Type != "STATE" {
		t.Fatalf("target output does not end with a STATE (%v):\n%s", err, out)
	}
	return readBookmarkJSON(t, m.Value)
}

type flagLine struct {
	Field   string           `json:"field"`
	Keys    map[string]int64 `json:"keys"`
	Size    int64            `json:"size"`
	Action  string           `json:"action"`
	Rejects string           `json:"rejects"`
}

// readFlags returns the flags file's value lines by field. Run 1 may also
// have flagged a bad line: the tap's last, cut short by the OOM kill.
func readFlags(t *testing.T, path string) map[string]flagLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("flags file: %v", err)
	}
	defer f.Close()
	out := map[string]flagLine{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l flagLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("flags file line %q: %v", sc.Text(), err)
		}
		if l.Field != "" {
			if _, dup := out[l.Field]; dup {
				t.Errorf("flags file: field %s flagged twice", l.Field)
			}
			out[l.Field] = l
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("flags file: %v", err)
	}
	return out
}

func fileMD5(t *testing.T, path string) (int64, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("rejects: %v", err)
	}
	defer f.Close()
	h := md5.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatalf("rejects: read %s: %v", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil))
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("JSON %q: %v", s, err)
	}
	return v
}
