package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

type flagEntry struct {
	Line, Offset, Record, Size, Limit int64
	Stream, Namespace, Field          string
	Measure, Reason, Action, Rejects  string
	Keys                              map[string]any
}

// flagEntries decodes every flags line, failing on one that is not JSON.
func flagEntries(t *testing.T, flags string) []flagEntry {
	t.Helper()
	var es []flagEntry
	for _, l := range strings.SplitAfter(flags, "\n") {
		if l == "" {
			continue
		}
		var e flagEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil || !strings.HasSuffix(l, "}\n") {
			t.Fatalf("flags entry is not one JSON line (%v): %q", err, l)
		}
		es = append(es, e)
	}
	return es
}

// Stream, namespace, field and key names are copied from the input as it
// spells them (escapes and all) and decode to what the input's decode to:
// quotes, backslashes, escaped controls, bidi characters and non-ASCII
// never break an entry.
func TestFlagsEntriesKeepHostileNames(t *testing.T) {
	const hostile = `q\"b\\s\/\u0000\u001b\u202e\ud83d\ude00` + "é\u202e"
	var dec string
	if err := json.Unmarshal([]byte(`"`+hostile+`"`), &dec); err != nil {
		t.Fatal(err)
	}
	val := `"` + strings.Repeat("v", 40) + `"`
	lines := []struct {
		proto Protocol
		line  string
		ns    string
	}{
		{Airbyte, `{"type":"RECORD","record":{"stream":"` + hostile + `","namespace":"` + hostile + `","data":{"` + hostile + `":"k` + hostile + `","` + hostile + `x":` + val + `}}}`, dec},
		{Singer, `{"type":"RECORD","stream":"` + hostile + `","record":{"` + hostile + `":"k` + hostile + `","` + hostile + `x":` + val + `}}`, ""},
	}
	for _, tc := range lines {
		schema := `{"type":"SCHEMA","stream":"` + hostile + `","schema":{},"key_properties":["` + hostile + `"]}` + "\n"
		cfg := Config{Protocol: tc.proto, MaxFieldSize: 30}
		in := tc.line + "\n"
		if tc.proto == Airbyte {
			cfg.Keys = map[string][]string{dec: {dec}}
		} else {
			in = schema + in
		}
		r := scan(t, cfg, in)
		es := flagEntries(t, r.flags)
		if r.err != nil || len(es) != 1 {
			t.Fatalf("%v: err %v flags %s", tc.proto, r.err, r.flags)
		}
		e := es[0]
		if e.Stream != dec || e.Namespace != tc.ns || e.Field != dec+"x" || e.Keys[dec] != "k"+dec || len(e.Keys) != 1 ||
			e.Record != 1 || e.Size != 40 || e.Limit != 30 || e.Action != "nulled" || e.Reason != "field_size" {
			t.Fatalf("%v: entry %+v\nfrom %s", tc.proto, e, r.flags)
		}
		if tc.proto == Airbyte && !strings.Contains(r.flags, `"namespace":"`+hostile+`"`) {
			t.Fatalf("namespace not as the input spells it: %s", r.flags)
		}
		// The stats show the same names made safe for a terminal.
		if r.stats.Largest.Field != safeText(dec+"x") || r.stats.Largest.Keys != `{"`+hostile+`":"k`+hostile+`"}` {
			t.Fatalf("%v: largest %+v", tc.proto, r.stats.Largest)
		}
	}
}

// The input's strings may hold invalid UTF-8 (passed byte-exact in the
// records: doc.go), but the flags file is syncbox's own JSON: every entry
// is UTF-8, each bad byte written as \ufffd, so the names decode as
// encoding/json decodes the input's.
func TestFlagsEntriesAreUTF8(t *testing.T) {
	const bad = "a\xff\xc3b\xed\xa0\x80\\\"c"
	var dec string
	if err := json.Unmarshal([]byte(`"`+bad+`"`), &dec); err != nil || !utf8.ValidString(dec) {
		t.Fatal(err)
	}
	val := `"` + strings.Repeat("v", 40) + `"`
	in := `{"type":"RECORD","record":{"stream":"` + bad + `","namespace":"` + bad + `","data":{"id":"` + bad + `","` + bad + `x":` + val + `}}}` + "\n"
	raw := "a\xff\xc3b\xed\xa0\x80\"c" // as Config.Keys names it: escapes decoded, bytes as they are
	r := scan(t, Config{Protocol: Airbyte, MaxFieldSize: 30, Keys: map[string][]string{raw: {"id"}}}, in)
	if !utf8.ValidString(r.flags) || !utf8.ValidString(r.stats.Largest.Keys) {
		t.Fatalf("flags are not UTF-8: %q\nlargest keys %q", r.flags, r.stats.Largest.Keys)
	}
	es := flagEntries(t, r.flags)
	if len(es) != 1 || es[0].Stream != dec || es[0].Namespace != dec || es[0].Field != dec+"x" || es[0].Keys["id"] != dec {
		t.Fatalf("flags %q", r.flags)
	}
	if !strings.Contains(r.out, `"data":{"id":"`+bad+`","`+bad+`x":null}`) {
		t.Fatalf("the record is not passed byte-exact: %q", r.out)
	}
	// A key property's name (from a Singer SCHEMA).
	r = scan(t, Config{MaxFieldSize: 30}, `{"type":"SCHEMA","stream":"s","schema":{},"key_properties":["`+bad+`"]}`+"\n"+
		`{"type":"RECORD","stream":"s","record":{"`+bad+`":7,"v":`+val+`}}`+"\n")
	es = flagEntries(t, r.flags)
	if !utf8.ValidString(r.flags) || len(es) != 1 || es[0].Keys[dec] != 7.0 || len(es[0].Keys) != 1 {
		t.Fatalf("flags %q", r.flags)
	}
}

// An entry's keys are bounded: a key value of more than maxKeyValue
// serialized bytes is written as its size, and keys beyond about
// maxKeysJSON bytes are left out and counted ("…": n).
func TestFlagsKeysAreBounded(t *testing.T) {
	at := `"` + strings.Repeat("a", maxKeyValue-2) + `"` // exactly maxKeyValue bytes
	over := `"` + strings.Repeat("b", maxKeyValue-1) + `"`
	rec := `{"type":"RECORD","stream":"s","record":{"at":` + at + `,"over":` + over + `,"v":"` + big + `"}}` + "\n"
	r := scan(t, Config{MaxFieldSize: 2000, MaxRecordSize: 2100, Keys: map[string][]string{"s": {"at", "over"}}}, rec)
	es := flagEntries(t, r.flags)
	if len(es) != 1 || es[0].Keys["at"] != at[1:len(at)-1] || es[0].Keys["over"] != fmt.Sprintf("<%d bytes>", maxKeyValue+1) {
		t.Fatalf("flags %s", r.flags)
	}
	// A key name is cut as paths cut it, on an escape boundary.
	long := strings.Repeat("n", maxPathSeg-3) + `\u00e9tail`
	rec = `{"type":"RECORD","stream":"s","record":{"` + long + `":1,"v":"` + big + `"}}` + "\n"
	r = scan(t, Config{MaxFieldSize: 50, Keys: map[string][]string{"s": {strings.Repeat("n", maxPathSeg-3) + "étail"}}}, rec)
	es = flagEntries(t, r.flags)
	if len(es) != 1 || es[0].Keys[strings.Repeat("n", maxPathSeg-3)] != 1.0 || len(es[0].Keys) != 1 {
		t.Fatalf("flags %s", r.flags)
	}
	// 40 keys of 500 bytes: those past maxKeysJSON are counted.
	var keys []string
	var data strings.Builder
	for i := range 40 {
		k := fmt.Sprintf("k%02d", i)
		keys = append(keys, k)
		fmt.Fprintf(&data, `"%s":"%s",`, k, strings.Repeat("x", 500))
	}
	rec = `{"type":"RECORD","stream":"s","record":{` + data.String() + `"v":"` + strings.Repeat("y", 600) + `"}}` + "\n"
	r = scan(t, Config{MaxFieldSize: 550, Keys: map[string][]string{"s": keys}}, rec)
	es = flagEntries(t, r.flags)
	if len(es) != 1 {
		t.Fatalf("flags %s", r.flags)
	}
	kept := len(es[0].Keys) - 1
	left, _ := es[0].Keys["…"].(float64)
	if kept < 1 || kept+int(left) != 40 || len(r.flags) > maxKeysJSON+maxKeyValue+400 || len(r.stats.Largest.Keys) > maxKeysJSON+maxKeyValue {
		t.Fatalf("%d keys kept, %v left out, entry of %d bytes", kept, es[0].Keys["…"], len(r.flags))
	}
	for i := range kept {
		if es[0].Keys[keys[i]] != strings.Repeat("x", 500) {
			t.Fatalf("key %s: %v", keys[i], es[0].Keys[keys[i]])
		}
	}
}

// Beyond MaxFlags, entries are counted, not written; the stats still see
// every flagged value (the largest may be one whose entry was skipped,
// and of equal sizes the first is kept). Without a flags file nothing is
// written or skipped, and the stats are the same.
func TestFlagsBeyondTheBound(t *testing.T) {
	var in strings.Builder
	for _, n := range []int{30, 50, 40, 50, 90, 90, 20} {
		fmt.Fprintf(&in, `{"type":"RECORD","stream":"s","record":{"id":%d,"v":"%s"}}`+"\n", n, strings.Repeat("z", n))
	}
	in.WriteString("[]\n")
	r := scan(t, Config{MaxFieldSize: 10, MaxFlags: 2, Keys: map[string][]string{"s": {"id"}}}, in.String())
	es := flagEntries(t, r.flags)
	want := FlaggedValue{Stream: "s", Record: 5, Field: "v", Size: 90, Keys: `{"id":90}`}
	if len(es) != 2 || es[0].Record != 1 || es[1].Record != 2 || r.stats.FlagsSkipped != 6 || r.stats.Flagged != 7 ||
		r.stats.Largest != want || r.stats.InvalidLines != 1 {
		t.Fatalf("stats %+v\nflags %s", r.stats, r.flags)
	}
	var out bytes.Buffer
	s := New(Config{MaxFieldSize: 10, MaxFlags: 2, Keys: map[string][]string{"s": {"id"}}})
	if err := s.Run(&out, strings.NewReader(in.String())); err != nil || out.String() != r.out {
		t.Fatalf("without flags: err %v out %q", err, out.String())
	}
	if st := s.Snapshot(); st.FlagsSkipped != 0 || st.Flagged != 7 || st.Largest != want {
		t.Fatalf("without flags: stats %+v", st)
	}
}

// shortWriter writes one byte less than asked, without an error.
type shortWriter struct{ n int }

func (w *shortWriter) Write(p []byte) (int, error) { w.n++; return max(len(p)-1, 0), nil }

// A flags file that takes less than an entry is a write error, returned
// once and then for every later entry without writing again.
func TestFlagsShortWriteIsAnError(t *testing.T) {
	var out bytes.Buffer
	w := &shortWriter{}
	in := strings.Repeat(`{"type":"RECORD","stream":"s","record":{"v":"`+big+`"}}`+"\n", 3)
	err := New(Config{MaxFieldSize: 10, Flags: w}).Run(&out, strings.NewReader(in))
	var oe *OutputError
	if !errors.As(err, &oe) || oe.Output != "flags" || !strings.Contains(err.Error(), "short write") || w.n != 1 {
		t.Fatalf("err %v after %d writes", err, w.n)
	}
}
