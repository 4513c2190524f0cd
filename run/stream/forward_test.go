package stream

import (
	"strings"
	"testing"
)

func TestPassThroughIsByteExact(t *testing.T) {
	in := `{"type":"SCHEMA","stream":"users","schema":{"type":"object"},"key_properties":["id"]}
{ "stream" : "users", "type":"RECORD",  "record": {"id": 1.0E+2, "name":"\u00e9t\u00E9 ü", "n": -0.5e-3, "z": [ ] , "t":true}, "time_extracted":"2024-01-01T00:00:00Z" }	
{"type":"STATE","value":{"bookmarks":{"users":{"id":100}}}}
{"type":"ACTIVATE_VERSION","stream":"users","version":1}
{"type":"RECORD","record":{"stream":"s","data":{"a":"b"},"emitted_at":1}}
{"type":"LOG","log":{"level":"INFO","message":"hi"}}
{"type":"RECORD","stream":"users","record":{"id":2}}` + "\r" + `
`
	for _, p := range []Protocol{Auto} {
		r := scan(t, Config{Protocol: p, MaxFieldSize: 1000, MaxRecordSize: 2000}, in)
		if r.err != nil || r.out != in || r.flags != "" || r.warn != "" {
			t.Fatalf("err %v warn %q flags %q\nout %q", r.err, r.warn, r.flags, r.out)
		}
		if r.stats.Records != 3 || r.stats.ByStream["users"].Records != 2 || r.stats.States != 1 ||
			string(r.stats.LastState) != `{"bookmarks":{"users":{"id":100}}}` || r.stats.Lines != 7 ||
			r.stats.Bytes != int64(len(in)) {
			t.Fatalf("stats %+v", r.stats)
		}
	}
}

// An edited line is the input's bytes with only the edits applied: the
// whitespace, escapes, number spellings, member order and the "\r" before
// the newline around them are untouched, edits anywhere in the line (the
// lineage before the payload included) land where they belong, and a
// last line without a newline gets one (and a warning) edited or not.
func TestForwardSplicesByteExact(t *testing.T) {
	long := strings.Repeat("é", 30) // 60 bytes
	tail := "\t\r"
	line := "{ \"meta\" :\t{ \"changes\" : [ {\"field\":\"x\"} ] } , \"type\" : \"RECORD\", \"stream\":\"s\\u0073\",  " +
		"\"record\" : { \"n\" : 1.0E+2 ,\"a\" :\t\"" + long + "\" , \"e\":\"\\u00e9\\\"\", \"o\" : { \"b\" : [ 1 , \"\\u00e9\" ] } , \"c\": \"" + long + "\"  } }" + tail
	ch := func(f, c string) string {
		return `{"field":"` + f + `","change":"` + c + `","reason":"PLATFORM_FIELD_SIZE_LIMITATION"}`
	}
	cut := `"` + strings.Repeat("é", 20) + `"`
	want := strings.NewReplacer(
		`{"field":"x"} ]`, `{"field":"x"} ,`+ch("a", "TRUNCATED")+`,`+ch("c", "TRUNCATED")+`]`,
		`"`+long+`"`, cut).Replace(line)
	for _, nl := range []string{"\n", ""} {
		r := scan(t, Config{Protocol: Singer, MaxFieldSize: 40, Oversize: Truncate}, line+"\n"+line+nl)
		if r.err != nil || r.out != want+"\n"+want+"\n" {
			t.Fatalf("nl %q: err %v\nout  %q\nwant %q", nl, r.err, r.out, want+"\n")
		}
		if got := strings.Contains(r.warn, "line 2: the last line had no newline; one was added"); got != (nl == "") {
			t.Fatalf("nl %q: warn %q", nl, r.warn)
		}
	}
	// Two edits out of order: the lineage goes before the value nulled.
	r := scan(t, Config{Protocol: Singer, MaxFieldSize: 40}, `{"meta":{} ,"type":"RECORD","stream":"s","record":{"v":"`+long+`"}}`+"\n")
	if r.out != `{"meta":{"changes":[`+ch("v", "NULLED")+`]} ,"type":"RECORD","stream":"s","record":{"v":null}}`+"\n" {
		t.Fatalf("out %q", r.out)
	}
	// Unchanged lines, with or without a newline at the end.
	for _, in := range []string{line + "\n" + line, `{"type":"LOG","log":{}}` + "\n" + `{"type":"LOG","log":{"m":"` + long + `"}}`} {
		r := scan(t, Config{MaxFieldSize: 1000}, in)
		if r.out != in+"\n" || !strings.Contains(r.warn, "no newline") {
			t.Fatalf("out %q warn %q", r.out, r.warn)
		}
	}
}

// The counters forwarding keeps: every stream's output bytes (edited,
// spooled and unchanged records alike), the bytes since the last STATE
// (the STATE line itself and the lines after it, records or not), all
// output bytes, and the input read (dropped and bad lines included).
func TestForwardCounts(t *testing.T) {
	big := `"` + strings.Repeat("x", 80) + `"`
	lines := []string{
		`{"type":"RECORD","stream":"a","record":{"v":` + big + `}}`, // nulled
		`{"type":"RECORD","stream":"b","record":{"v":1}}`,           // unchanged
		`{"type":"RECORD","stream":"a","record":{"v":2}}`,
		`{"type":"STATE","value":{"n":1}}`,
		`{bad`,
		`{"type":"RECORD","stream":"b","record":{"id":` + big + `}}`, // a key: dropped
		`{"type":"LOG","message":"` + strings.Repeat("l", 100) + `"}`,
		`{"type":"RECORD","stream":"b","record":{"v":` + big + `,"w":` + big + `}}`,
		`{"type":"RECORD","stream":"a","record":{"v":3}}`,
	}
	in := strings.Join(lines, "\n") + "\n"
	r := scan(t, Config{MaxFieldSize: 50, Keys: map[string][]string{"b": {"id"}}}, in)
	out := strings.SplitAfter(r.out, "\n")
	if len(out) != 8 || r.stats.Dropped != 1 || r.stats.InvalidLines != 1 {
		t.Fatalf("out %q stats %+v", r.out, r.stats)
	}
	n := func(ls ...int) (s int64) {
		for _, l := range ls {
			s += int64(len(out[l]))
		}
		return s
	}
	// out: 0 a, 1 b, 2 a, 3 STATE, 4 LOG, 5 b, 6 a, 7 "" (after the last newline)
	st := r.stats
	if st.ByStream["a"] != (StreamStats{Records: 3, Bytes: n(0, 2, 6)}) || st.ByStream["b"] != (StreamStats{Records: 3, Bytes: n(1, 5)}) ||
		st.BytesSinceState != n(3, 4, 5, 6) || st.RecordsSinceState != 3 || st.Bytes != int64(len(r.out)) ||
		st.InputBytes != int64(len(in)) || st.Lines != int64(len(lines)) {
		t.Fatalf("stats %+v\nwant a %d, b %d, since state %d", st, n(0, 2, 6), n(1, 5), n(3, 4, 5, 6))
	}
	// The input count is of complete lines: a last line without its
	// newline is counted without one, and its output with the one added.
	r = scan(t, Config{Protocol: Singer, MaxFieldSize: 50}, lines[0])
	if r.stats.InputBytes != int64(len(lines[0])) || r.stats.Bytes != int64(len(r.out)) || r.stats.ByStream["a"].Bytes != int64(len(r.out)) {
		t.Fatalf("no newline: stats %+v, out %d bytes", r.stats, len(r.out))
	}
}

// While the scan runs, the counters are those of the last line handled,
// whichever way it was forwarded (edited, unchanged record, other
// message; in memory or spooled): seen from OnState, before each STATE
// line, they stand at the line before it (its input counted up to its
// newline).
func TestForwardCountsWhileRunning(t *testing.T) {
	lines := []string{
		`{"type":"RECORD","stream":"a","record":{"v":"` + strings.Repeat("x", 80) + `"}}`, // edited
		`{"type":"STATE","value":1}`,
		`{"type":"RECORD","stream":"b","record":{"v":1}}`, // unchanged
		`{"type":"STATE","value":2}`,
		`{"type":"LOG","log":{"message":"` + strings.Repeat("l", 80) + `"}}`,
		`{"type":"STATE","value":3}`,
	}
	in := strings.Join(lines, "\n") + "\n"
	for _, window := range []int{0, 64} {
		var out strings.Builder
		var s *Scanner
		var got []Stats
		s = New(Config{MaxFieldSize: 50, Window: window, OnState: func([]byte) error { got = append(got, s.Snapshot()); return nil }})
		if err := s.Run(&out, strings.NewReader(in)); err != nil || len(got) != 3 {
			t.Fatalf("window %d: err %v, %d states", window, err, len(got))
		}
		outLines := strings.SplitAfter(out.String(), "\n")
		for k, st := range got {
			i := 2*k + 1                              // the STATE's line index
			off := len(strings.Join(lines[:i], "\n")) // up to the newline before the STATE
			written := len(strings.Join(outLines[:i], ""))
			if st.Lines != int64(i) || st.InputBytes != int64(off) || st.Bytes != int64(written) {
				t.Errorf("window %d, before STATE %d: lines %d input %d output %d, want %d, %d, %d",
					window, k+1, st.Lines, st.InputBytes, st.Bytes, i, off, written)
			}
		}
	}
}
