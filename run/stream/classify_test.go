package stream

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Airbyte streams are (namespace, name): two namespaces of one name are
// two streams in the stats, and --keys can name either.
func TestAirbyteNamespacesAreStreams(t *testing.T) {
	rec := func(ns, id string) string {
		n := ""
		if ns != "" {
			n = `"namespace":"` + ns + `",`
		}
		return `{"type":"RECORD","record":{` + n + `"stream":"users","data":{"id":"` + id + `","v":1},"emitted_at":1}}` + "\n"
	}
	bigID := strings.Repeat("k", 60)
	in := rec("public", "1") + rec("public", "2") + rec("crm", bigID) + rec("", "3") + rec("pub\\u006cic", "4")
	r := scan(t, Config{Protocol: Airbyte, MaxFieldSize: 50, Keys: map[string][]string{"crm.users": {"id"}}}, in)
	if r.err != nil {
		t.Fatal(r.err)
	}
	bs := r.stats.ByStream
	if len(bs) != 3 || bs["public.users"].Records != 3 || bs["crm.users"].Records != 1 || bs["users"].Records != 1 {
		t.Fatalf("by stream %+v", bs)
	}
	// crm.users has id as its key: too large, so the record is dropped,
	// not nulled; the flags entry says the namespace.
	if r.stats.Dropped != 1 || !strings.Contains(r.flags, `"stream":"users","namespace":"crm",`) ||
		!strings.Contains(r.flags, `"reason":"key_too_large"`) {
		t.Fatalf("dropped %d flags %s", r.stats.Dropped, r.flags)
	}
	// A plain name applies in every namespace without its own entry.
	r = scan(t, Config{Protocol: Airbyte, MaxFieldSize: 50, Keys: map[string][]string{"users": {"id"}}}, rec("crm", bigID)+rec("", bigID))
	if r.stats.Dropped != 2 {
		t.Fatalf("plain name: dropped %d, flags %s", r.stats.Dropped, r.flags)
	}
}

// DESTINATION_CATALOG is an Airbyte message; a TRACE ERROR's message and
// failure type reach the stats; BATCH and blank lines are counted.
func TestMessageKindsCounted(t *testing.T) {
	in := `{"type":"DESTINATION_CATALOG","destination_catalog":{"catalog":{}}}` + "\n" +
		`{"type":"TRACE","trace":{"type":"ESTIMATE","emitted_at":1,"estimate":{"name":"s","type":"STREAM"}}}` + "\n" +
		"\n  \n" +
		`{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1,"error":{"message":"token expired\u001b[2J","internal_message":"x","failure_type":"config_error"}}}` + "\n" +
		`{"type":"TRACE","trace":{"type":"ERROR","emitted_at":2,"error":{"message":"second","failure_type":"system_error"}}}` + "\n"
	r := scan(t, Config{Protocol: Airbyte}, in)
	if r.err != nil || r.out != strings.ReplaceAll(in, "\n  \n", "") || r.stats.InvalidLines != 0 || r.stats.EmptyLines != 2 {
		t.Fatalf("err %v out %q stats %+v warn %s", r.err, r.out, r.stats, r.warn)
	}
	te := r.stats.TraceError
	if te == nil || te.Message != `token expired\u001B[2J` || te.FailureType != "config_error" || r.stats.TraceErrors != 2 {
		t.Fatalf("trace error %+v (%d)", te, r.stats.TraceErrors)
	}
	batch := `{"type":"BATCH","stream":"s","encoding":{"format":"jsonl","compression":"gzip"},"manifest":["file:///x.gz"]}` + "\n"
	r = scan(t, Config{Protocol: Singer}, batch+batch)
	if r.err != nil || r.out != batch+batch || r.stats.Batches != 2 {
		t.Fatalf("batch: err %v stats %+v", r.err, r.stats)
	}
}

// OnState gets Singer's value and Airbyte's whole state message, as written.
func TestOnStateValueContract(t *testing.T) {
	var got []string
	cfg := Config{OnState: func(v []byte) error { got = append(got, string(v)); return nil }}
	in := `{"type":"STATE","value":{"a" : 1}}` + "\n" +
		`{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"s","namespace":"n"},"stream_state":{"c":2}}}}` + "\n"
	s := New(cfg)
	if err := s.Run(&strings.Builder{}, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	want := []string{`{"a" : 1}`, `{"type":"STREAM","stream":{"stream_descriptor":{"name":"s","namespace":"n"},"stream_state":{"c":2}}}`}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("OnState got %q", got)
	}
}

func TestBadLines(t *testing.T) {
	good := `{"type":"RECORD","stream":"s","record":{"a":1}}`
	tests := []struct {
		name     string
		proto    Protocol
		in       string
		out      string
		invalid  int64
		empty    int64
		warnHint string
	}{
		{"not json", Auto, "{nope\n" + good + "\n", good + "\n", 1, 0, "line 1"},
		{"not object", Auto, "[1]\n" + good + "\n", good + "\n", 1, 0, "not a JSON object"},
		{"unknown type singer", Singer, `{"type":"HELLO"}` + "\n" + good + "\n", good + "\n", 1, 0, "not a known singer message"},
		{"unknown type auto passes", Auto, `{"type":"HELLO"}` + "\n", `{"type":"HELLO"}` + "\n", 0, 0, ""},
		{"airbyte record in singer mode", Singer, `{"type":"RECORD","record":{"stream":"s","data":{}}}` + "\n", "", 1, 0, "RECORD"},
		{"empty lines", Auto, "\n  \r\n" + good + "\n\n", good + "\n", 0, 3, ""},
		{"no final newline", Auto, good, good + "\n", 0, 0, "no newline"},
		{"truncated at EOF", Auto, good + "\n" + `{"type":"RECORD","stream":"s","record":{"a":"abc`, good + "\n", 1, 0, "truncated"},
		{"empty stream", Auto, "", "", 0, 0, "empty stream"},
		{"two values", Auto, good + " " + good + "\n", "", 1, 0, "after the top-level value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := scan(t, Config{Protocol: tc.proto, RejectsDir: t.TempDir()}, tc.in)
			if r.err != nil || r.out != tc.out || r.stats.InvalidLines != tc.invalid || r.stats.EmptyLines != tc.empty ||
				!strings.Contains(r.warn, tc.warnHint) {
				t.Fatalf("err %v out %q stats %+v warn %q", r.err, r.out, r.stats, r.warn)
			}
			if tc.invalid > 0 && !strings.Contains(r.flags, `"action":"rejected","rejects":"invalid.line`) {
				t.Fatalf("flags %q", r.flags)
			}
			// Strict: the first bad line stops.
			r = scanOnce(t, Config{Protocol: tc.proto, Strict: true}, tc.in)
			var pe *PolicyError
			if (tc.invalid > 0) != errors.As(r.err, &pe) {
				t.Fatalf("strict: err %v", r.err)
			}
		})
	}
}

func TestOnStateAfterFlush(t *testing.T) {
	lines := []string{
		`{"type":"RECORD","stream":"s","record":{"a":1}}`,
		`{"type":"STATE","value":{"n":1}}`,
		`{"type":"RECORD","record":{"stream":"s","data":{"a":2}}}`,
		`{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"s"},"stream_state":{"n":2}}}}`,
	}
	in := strings.Join(lines, "\n") + "\n"
	var dst flushRecorder
	var states []string
	s := New(Config{OnState: func(v []byte) error {
		// Everything before this STATE is written and flushed.
		prefix := in[:strings.Index(in, string(v))]
		prefix = prefix[:strings.LastIndexByte(prefix[:len(prefix)-1], '\n')+1]
		if dst.buf.String() != prefix || dst.flushed != len(prefix) {
			t.Errorf("at state %s: dst has %q (flushed %d), want %q", v, dst.buf.String(), dst.flushed, prefix)
		}
		states = append(states, string(v))
		return nil
	}})
	if err := s.Run(&dst, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if dst.buf.String() != in || len(states) != 2 || states[0] != `{"n":1}` ||
		states[1] != `{"type":"STREAM","stream":{"stream_descriptor":{"name":"s"},"stream_state":{"n":2}}}` {
		t.Fatalf("out %q states %q", dst.buf.String(), states)
	}
	st := s.Snapshot()
	if st.States != 2 || st.RecordsSinceState != 0 || string(st.LastState) != states[1] {
		t.Fatalf("stats %+v", st)
	}
	// An OnState error stops the scan.
	boom := errors.New("boom")
	s = New(Config{OnState: func([]byte) error { return boom }})
	if err := s.Run(&dst, strings.NewReader(in)); err != boom {
		t.Fatalf("err %v", err)
	}
}

// flushRecorder records writes and flushes.
type flushRecorder struct {
	buf     bytes.Buffer
	flushed int // bytes at the last flush
}

func (f *flushRecorder) Write(p []byte) (int, error) { return f.buf.Write(p) }
func (f *flushRecorder) Flush() error                { f.flushed = f.buf.Len(); return nil }
