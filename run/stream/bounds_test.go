package stream

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// spoolWatcher feeds a line in pieces and records the largest size the
// scanner's spool file reached.
type spoolWatcher struct {
	s       *Scanner
	pieces  int
	piece   string
	tail    string
	cur     string
	maxSize int64
}

func (w *spoolWatcher) Read(p []byte) (int, error) {
	if w.s.spool != nil {
		if fi, err := w.s.spool.f.Stat(); err == nil {
			w.maxSize = max(w.maxSize, fi.Size())
		}
	}
	if w.cur == "" && w.pieces > 0 {
		w.pieces--
		w.cur = w.piece
	}
	if w.cur != "" {
		n := copy(p, w.cur)
		w.cur = w.cur[n:]
		return n, nil
	}
	if w.tail != "" {
		n := copy(p, w.tail)
		w.tail = w.tail[n:]
		return n, nil
	}
	return 0, io.EOF
}

// A line longer than MaxLineSize is rejected with lineage and never
// spooled beyond the limit; the lines after it go on.
func TestLongLineIsRejectedNotSpooled(t *testing.T) {
	const limit = 256 << 10
	good := `{"type":"RECORD","stream":"s","record":{"a":1}}` + "\n"
	for _, nl := range []bool{true, false} {
		var flags, warn strings.Builder
		rej := t.TempDir()
		s := New(Config{Window: 64 << 10, MaxLineSize: limit, Flags: &flags, Warn: &warn, RejectsDir: rej, SpoolDir: t.TempDir()})
		tail := `"}}` + "\n" + good
		if !nl {
			tail = `"}}`
		}
		src := &spoolWatcher{s: s, pieces: 64, piece: strings.Repeat("x", 32<<10), tail: tail}
		head := `{"type":"RECORD","stream":"s","record":{"v":"`
		var out strings.Builder
		err := s.Run(&out, io.MultiReader(strings.NewReader(head), src))
		st := s.Snapshot()
		size := int64(len(head) + 64*32<<10 + 3)
		if err != nil || st.LongLines != 1 || st.InvalidLines != 1 || (nl && (out.String() != good || st.Records != 1)) {
			t.Fatalf("err %v out %q stats %+v", err, out.String(), st)
		}
		if src.maxSize > limit {
			t.Fatalf("spool grew to %d bytes, limit %d", src.maxSize, limit)
		}
		if !strings.Contains(flags.String(), fmt.Sprintf(`"line":1,"offset":0,"size":%d,"reason":"line of %d bytes is longer than the line size limit (%d bytes)","action":"rejected"`, size, size, limit)) {
			t.Fatalf("flags %s", flags.String())
		}
		if fi, err := os.Stat(rej + "/invalid.line1.json"); err != nil || fi.Size() != limit {
			t.Fatalf("rejects: %v %v", fi, err)
		}
		if st.InputBytes != size+int64(len(good))+1 && nl {
			t.Fatalf("input bytes %d", st.InputBytes)
		}
	}
	// In memory too (a limit below the window).
	r := scan(t, Config{MaxLineSize: 60}, good+`{"type":"RECORD","stream":"s","record":{"a":"`+strings.Repeat("y", 40)+`"}}`+"\n"+good)
	if r.out != good+good || r.stats.LongLines != 1 {
		t.Fatalf("in memory: out %q stats %+v", r.out, r.stats)
	}
}

// Flags entries, rejects files and bytes, and line warnings stop at their
// bounds; what is left out is counted.
func TestFlagsRejectsWarningsAreBounded(t *testing.T) {
	var in strings.Builder
	for i := range 300 {
		fmt.Fprintf(&in, `{"type":"RECORD","stream":"s","record":{"v":"%s"}}`+"\n", strings.Repeat("z", 50+i%3))
		in.WriteString("{bad\n")
	}
	rej := t.TempDir()
	r := scanOnce(t, Config{MaxFieldSize: 20, RejectsDir: rej, MaxFlags: 100, MaxRejectFiles: 150, MaxWarnings: 5}, in.String())
	ents, _ := os.ReadDir(rej)
	if r.err != nil || strings.Count(r.flags, "\n") != 100 || r.stats.FlagsSkipped != 500 || len(ents) != 150 ||
		r.stats.RejectFiles != 150 || r.stats.RejectsSkipped != 450 || r.stats.Flagged != 300 || r.stats.InvalidLines != 300 {
		t.Fatalf("flags %d lines, rejects %d, stats %+v", strings.Count(r.flags, "\n"), len(ents), r.stats)
	}
	if strings.Count(r.warn, "\n") != 6 || r.stats.WarningsSkipped != 295 || !strings.Contains(r.warn, "295 more line warnings not shown") {
		t.Fatalf("warnings:\n%s", r.warn)
	}
	// Bytes: a value that does not fit is left out, smaller ones after it still fit.
	rej = t.TempDir()
	r = scanOnce(t, Config{MaxFieldSize: 20, RejectsDir: rej, MaxRejectBytes: 130},
		`{"type":"RECORD","stream":"s","record":{"v":"`+strings.Repeat("a", 100)+`"}}`+"\n"+
			`{"type":"RECORD","stream":"s","record":{"v":"`+strings.Repeat("b", 100)+`"}}`+"\n"+
			`{"type":"RECORD","stream":"s","record":{"v":"`+strings.Repeat("c", 25)+`"}}`+"\n")
	if r.stats.RejectBytes != 102+27 || r.stats.RejectFiles != 2 || r.stats.RejectsSkipped != 1 {
		t.Fatalf("stats %+v", r.stats)
	}
	// The defaults are on: the zero Config bounds flags at 10,000.
	in.Reset()
	for range DefaultMaxFlags + 10 {
		in.WriteString("[]\n")
	}
	r = scanOnce(t, Config{}, in.String())
	if strings.Count(r.flags, "\n") != DefaultMaxFlags || r.stats.FlagsSkipped != 10 || strings.Count(r.warn, "\n") != DefaultMaxWarnings+1 {
		t.Fatalf("defaults: %d flags, stats %+v", strings.Count(r.flags, "\n"), r.stats)
	}
}

// The stream table is bounded: a message of a stream beyond MaxStreams, a
// stream name beyond maxNameBytes, and a STATE beyond MaxStateSize are bad
// lines.
func TestStreamTableAndStateAreBounded(t *testing.T) {
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, `{"type":"RECORD","stream":"s%d","record":{}}`+"\n", i)
	}
	in.WriteString(`{"type":"RECORD","stream":"s1","record":{}}` + "\n")
	r := scan(t, Config{MaxStreams: 10}, in.String())
	if r.stats.Records != 11 || r.stats.InvalidLines != 40 || len(r.stats.ByStream) != 10 || !strings.Contains(r.warn, "more than 10 streams") {
		t.Fatalf("stats %+v warn %s", r.stats, r.warn)
	}
	long := `{"type":"RECORD","stream":"` + strings.Repeat("n", maxNameBytes+1) + `","record":{}}` + "\n"
	r = scan(t, Config{}, long)
	if r.stats.InvalidLines != 1 || len(r.stats.ByStream) != 0 {
		t.Fatalf("long name: stats %+v", r.stats)
	}
	var got []string
	st := `{"type":"STATE","value":"` + strings.Repeat("s", 100) + `"}` + "\n"
	r = scan(t, Config{MaxStateSize: 100, OnState: func(v []byte) error { got = append(got, string(v)); return nil }}, st+`{"type":"STATE","value":1}`+"\n")
	if r.stats.States != 1 || r.stats.InvalidLines != 1 || string(r.stats.LastState) != "1" || len(got) != 2 || got[0] != "1" {
		t.Fatalf("state: stats %+v, OnState %q", r.stats, got)
	}
}

// Key properties that do not fit the stream table keep the stream out of
// it: its records are bad lines, never records whose keys could be nulled.
func TestKeysBeyondTheTableRejectTheStream(t *testing.T) {
	keys := make([]string, 0, maxTableBytes/64+1)
	for i := range cap(keys) {
		keys = append(keys, fmt.Sprintf("key%020d", i))
	}
	in := `{"type":"RECORD","record":{"stream":"s","data":{"key00000000000000000000":"` + strings.Repeat("k", 50) + `"}}}` + "\n"
	r := scanOnce(t, Config{Protocol: Airbyte, MaxFieldSize: 10, Keys: map[string][]string{"s": keys}}, in+in)
	if r.out != "" || r.stats.InvalidLines != 2 || r.stats.Records != 0 || !strings.Contains(r.warn, "do not fit the stream table") {
		t.Fatalf("out %q stats %+v warn %s", r.out, r.stats, r.warn)
	}
}
