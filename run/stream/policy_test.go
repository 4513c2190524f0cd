package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type result struct {
	out, flags, warn string
	stats            Stats
	err              error
}

// scan runs a scanner over in, in memory and, with a 64-byte window,
// through the spool path; both must agree.
func scan(t *testing.T, cfg Config, in string) result {
	t.Helper()
	r := scanOnce(t, cfg, in)
	cfg2 := cfg
	cfg2.Window = 64
	if cfg.RejectsDir != "" {
		cfg2.RejectsDir = t.TempDir()
	}
	r2 := scanOnce(t, cfg2, in)
	if r2.out != r.out || r2.flags != r.flags || (r.err == nil) != (r2.err == nil) {
		t.Errorf("spool path differs from memory path:\nmem:   %q\nflags: %s\nspool: %q\nflags: %s", r.out, r.flags, r2.out, r2.flags)
	}
	return r
}

func scanOnce(t *testing.T, cfg Config, in string) result {
	t.Helper()
	var out, flags, warn bytes.Buffer
	cfg.Flags, cfg.Warn = &flags, &warn
	s := New(cfg)
	err := s.Run(&out, strings.NewReader(in))
	return result{out.String(), flags.String(), warn.String(), s.Snapshot(), err}
}

func mustValidLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var msgs []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("output line is not valid JSON: %v\n%q", err, l)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

var big = strings.Repeat("x", 100)

func TestSingerActions(t *testing.T) {
	schema := `{"type":"SCHEMA","stream":"s","schema":{},"key_properties":["id"]}` + "\n"
	rec := `{"type":"RECORD","stream":"s","record":{"id":7,"v":"` + big + `","w":1}}` + "\n"
	meta := `,"meta":{"changes":[{"field":"v","change":"NULLED","reason":"PLATFORM_FIELD_SIZE_LIMITATION"}]}`
	tests := []struct {
		act     Action
		out     string
		err     bool
		action  string
		dropped int64
	}{
		{Null, schema + `{"type":"RECORD","stream":"s","record":{"id":7,"v":null,"w":1}` + meta + "}\n", false, "nulled", 0},
		{Truncate, schema + `{"type":"RECORD","stream":"s","record":{"id":7,"v":"` + big[:50] + `","w":1},"meta":{"changes":[{"field":"v","change":"TRUNCATED","reason":"PLATFORM_FIELD_SIZE_LIMITATION"}]}}` + "\n", false, "truncated", 0},
		{Drop, schema, false, "dropped", 1},
		{Fail, schema, true, "failed", 0},
		{Pass, schema + rec, false, "passed", 0},
	}
	for _, tc := range tests {
		t.Run(tc.act.String(), func(t *testing.T) {
			dir := t.TempDir()
			r := scan(t, Config{Protocol: Singer, MaxFieldSize: 50, Oversize: tc.act, RejectsDir: dir}, schema+rec)
			if r.out != tc.out {
				t.Fatalf("out\n%s\nwant\n%s", r.out, tc.out)
			}
			var pe *PolicyError
			if tc.err != errors.As(r.err, &pe) {
				t.Fatalf("err %v", r.err)
			}
			if tc.err && (pe.Field != "v" || pe.Size != 100 || pe.Limit != 50 || pe.Stream != "s" || pe.Record != 1) {
				t.Fatalf("policy error %+v", pe)
			}
			var f map[string]any
			if err := json.Unmarshal([]byte(r.flags), &f); err != nil {
				t.Fatalf("flags %q: %v", r.flags, err)
			}
			if f["action"] != tc.action || f["field"] != "v" && tc.act != Drop || f["size"] != 100.0 || f["measure"] != "utf8" ||
				f["record"] != 1.0 || f["stream"] != "s" || f["keys"].(map[string]any)["id"] != 7.0 {
				t.Fatalf("flags %s", r.flags)
			}
			if r.stats.Dropped != tc.dropped || r.stats.Flagged != 1 || r.stats.Largest.Size != 100 || r.stats.Largest.Keys != `{"id":7}` {
				t.Fatalf("stats %+v", r.stats)
			}
			mustValidLines(t, r.out)
			if file, ok := f["rejects"].(string); ok {
				b, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				want := `"` + big + `"`
				if tc.act == Drop {
					want = strings.TrimSuffix(rec, "\n")
				}
				if string(b) != want {
					t.Fatalf("rejects file %s: %q", file, b)
				}
			} else if tc.act == Null || tc.act == Truncate || tc.act == Drop {
				t.Fatalf("no rejects file in %s", r.flags)
			}
		})
	}
}

func TestKeyProperties(t *testing.T) {
	schema := `{"type":"SCHEMA","stream":"s","schema":{},"key_properties":["id"]}` + "\n"
	// A key too large drops the record even under null.
	r := scan(t, Config{MaxFieldSize: 50}, schema+`{"type":"RECORD","stream":"s","record":{"id":"`+big+`","v":1}}`+"\n")
	if r.out != schema || r.stats.Dropped != 1 || !strings.Contains(r.flags, `"reason":"key_too_large","action":"dropped"`) {
		t.Fatalf("out %q flags %q", r.out, r.flags)
	}
	// Record size never nulls the key, even if it is the largest field.
	rec := `{"type":"RECORD","stream":"s","record":{"id":"` + big[:40] + `","a":"` + big[:30] + `","b":"` + big[:20] + `","c":1}}` + "\n"
	r = scan(t, Config{MaxRecordSize: 95}, schema+rec)
	want := `{"type":"RECORD","stream":"s","record":{"id":"` + big[:40] + `","a":null,"b":"` + big[:20] + `","c":1},"meta":{"changes":[{"field":"a","change":"NULLED","reason":"PLATFORM_RECORD_SIZE_LIMITATION"}]}}` + "\n"
	if r.out != schema+want {
		t.Fatalf("out\n%s\nwant\n%s", r.out, schema+want)
	}
	// Cannot fit: dropped.
	r = scan(t, Config{MaxRecordSize: 45}, schema+rec)
	if r.out != schema || r.stats.Dropped != 1 || !strings.Contains(r.flags, `"reason":"record_size","action":"dropped"`) {
		t.Fatalf("out %q flags %q", r.out, r.flags)
	}
}

func TestRecordSize(t *testing.T) {
	rec := `{"type":"RECORD","stream":"s","record":{"a":"` + big[:10] + `","b":"` + big[:60] + `","c":{"x":"` + big[:50] + `"}}}` + "\n"
	r := scan(t, Config{MaxRecordSize: 100, MaxFieldSize: 1000}, rec)
	want := `{"type":"RECORD","stream":"s","record":{"a":"` + big[:10] + `","b":null,"c":{"x":"` + big[:50] + `"}},"meta":{"changes":[{"field":"b","change":"NULLED","reason":"PLATFORM_RECORD_SIZE_LIMITATION"}]}}` + "\n"
	if r.out != want {
		t.Fatalf("out\n%s\nwant\n%s", r.out, want)
	}
	// Field limit first (truncate), then the record limit nulls the rest.
	r = scan(t, Config{MaxRecordSize: 60, MaxFieldSize: 30, Oversize: Truncate}, rec)
	mustValidLines(t, r.out)
	var m struct {
		Record map[string]any
		Meta   struct{ Changes []map[string]string }
	}
	json.Unmarshal([]byte(r.out), &m)
	if m.Record["a"] != big[:10] || len(m.Meta.Changes) != 2 {
		t.Fatalf("out %s", r.out)
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"auto", "singer", "AIRBYTE", "raw"} {
		if _, err := ParseProtocol(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"null", "truncate", "drop", "fail", "pass"} {
		if a, err := ParseAction(s); err != nil || a.String() != s {
			t.Fatal(err)
		}
	}
	if _, err := ParseAction("zap"); err == nil {
		t.Fatal("zap accepted")
	}
	if _, err := ParseProtocol("zap"); err == nil {
		t.Fatal("zap accepted")
	}
}

func TestRaw(t *testing.T) {
	in := "not json at all\n{\n"
	var out bytes.Buffer
	s := New(Config{Protocol: Raw})
	if err := s.Run(&out, strings.NewReader(in)); err != nil || out.String() != in || s.Snapshot().Bytes != int64(len(in)) {
		t.Fatalf("err %v out %q", err, out.String())
	}
}

func TestSnapshotWhileRunning(t *testing.T) {
	c, n := singerCorpus(8 << 20)
	pr, pw := io.Pipe()
	s := New(Config{MaxFieldSize: 1 << 20})
	done := make(chan error)
	go func() { done <- s.Run(io.Discard, pr) }()
	go func() {
		for i := 0; i < len(c); i += 1 << 16 {
			pw.Write(c[i:min(i+1<<16, len(c))])
		}
		pw.Close()
	}()
	var last Stats
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
			st := s.Snapshot()
			if st.Records < last.Records || st.Bytes < last.Bytes {
				t.Fatalf("stats went backwards: %+v after %+v", st, last)
			}
			last = st
		}
	}
	st := s.Snapshot()
	if st.Records != int64(n) || st.ByStream["users"].Records+st.ByStream["orders"].Records+st.ByStream["events"].Records != int64(n) ||
		st.Bytes != int64(len(c)) || st.InputBytes != int64(len(c)) {
		t.Fatalf("final stats %+v", st)
	}
}

func TestAirbyteActions(t *testing.T) {
	rec := `{"type":"RECORD","record":{"stream":"k","data":{"id":7,"v":"` + big + `"},"emitted_at":1}}` + "\n"
	meta := func(ch string) string {
		return `,"meta":{"changes":[{"field":"v","change":"` + ch + `","reason":"PLATFORM_FIELD_SIZE_LIMITATION"}]}}}` + "\n"
	}
	tests := []struct {
		act Action
		out string
		err bool
	}{
		{Null, `{"type":"RECORD","record":{"stream":"k","data":{"id":7,"v":null},"emitted_at":1` + meta("NULLED"), false},
		{Truncate, `{"type":"RECORD","record":{"stream":"k","data":{"id":7,"v":"` + big[:20] + `"},"emitted_at":1` + meta("TRUNCATED"), false},
		{Drop, "", false},
		{Fail, "", true},
		{Pass, rec, false},
	}
	for _, tc := range tests {
		t.Run(tc.act.String(), func(t *testing.T) {
			r := scan(t, Config{Protocol: Airbyte, MaxFieldSize: 20, Oversize: tc.act, Keys: map[string][]string{"k": {"id"}}}, rec)
			var pe *PolicyError
			if r.out != tc.out || tc.err != errors.As(r.err, &pe) || r.stats.Flagged != 1 || !strings.Contains(r.flags, `"keys":{"id":7}`) {
				t.Fatalf("out %s\nwant %s\nerr %v flags %s", r.out, tc.out, r.err, r.flags)
			}
			mustValidLines(t, r.out)
		})
	}
}
