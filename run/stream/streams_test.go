package stream

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// One stream is one decoded (namespace, name), whatever the spelling: a
// SCHEMA's key properties for "s" hold for records of "\u0073", records
// are numbered per stream, and the stats and flags agree.
func TestStreamNameSpellingsAreOneStream(t *testing.T) {
	big := strings.Repeat("x", 2000)
	schema := `{"type":"SCHEMA","stream":"s","schema":{},"key_properties":["id"]}` + "\n"
	in := `{"type":"RECORD","stream":"s","record":{"id":1,"a":"` + big + `"}}` + "\n" +
		schema +
		`{"type":"RECORD","stream":"\u0073","record":{"id":"` + big + `","a":1}}` + "\n"
	r := scan(t, Config{MaxFieldSize: 1000, RejectsDir: t.TempDir()}, in)
	if r.err != nil {
		t.Fatal(r.err)
	}
	// The key is never nulled: the record is dropped.
	if strings.Contains(r.out, `"id":null`) || r.stats.Dropped != 1 || r.stats.Flagged != 2 {
		t.Fatalf("stats %+v out %.300s", r.stats, r.out)
	}
	if !strings.Contains(r.flags, `"stream":"\u0073","record":2,`) || !strings.Contains(r.flags, `"reason":"key_too_large","action":"dropped"`) {
		t.Fatalf("flags %s", r.flags)
	}
	if bs := r.stats.ByStream; len(bs) != 1 || bs["s"].Records != 2 {
		t.Fatalf("by stream %+v", bs)
	}

	// Airbyte: the namespace and the name, either escaped; Config.Keys
	// names the decoded stream.
	rec := func(ns, name, id string) string {
		return `{"type":"RECORD","record":{"namespace":"` + ns + `","stream":"` + name + `","data":{"id":"` + id + `","v":1},"emitted_at":1}}` + "\n"
	}
	in = rec("crm", "users", "1") + rec(`cr\u006d`, "users", big) + rec("crm", `u\u0073ers`, big) + rec(`\u0063rm`, `\u0075sers`, "2")
	r = scan(t, Config{Protocol: Airbyte, MaxFieldSize: 1000, Keys: map[string][]string{"crm.users": {"id"}}}, in)
	if r.err != nil || r.stats.Dropped != 2 || strings.Contains(r.out, `"id":null`) {
		t.Fatalf("err %v stats %+v out %.300s", r.err, r.stats, r.out)
	}
	if !strings.Contains(r.flags, `"namespace":"cr\u006d","record":2,`) || !strings.Contains(r.flags, `"stream":"u\u0073ers","namespace":"crm","record":3,`) {
		t.Fatalf("flags %s", r.flags)
	}
	if bs := r.stats.ByStream; len(bs) != 1 || bs["crm.users"].Records != 4 {
		t.Fatalf("by stream %+v", bs)
	}
}

// A name that decodes to a NUL byte does not make two streams one: the
// table's key keeps namespace and name apart.
func TestStreamKeyKeepsNamespaceAndNameApart(t *testing.T) {
	rec := func(ns, name string) string {
		return `{"type":"RECORD","record":{"namespace":"` + ns + `","stream":"` + name + `","data":{"v":1},"emitted_at":1}}` + "\n"
	}
	r := scan(t, Config{Protocol: Airbyte}, rec(`a\u0000`, "b")+rec("a", `\u0000b`))
	if r.err != nil || len(r.stats.ByStream) != 2 {
		t.Fatalf("err %v by stream %+v", r.err, r.stats.ByStream)
	}
}

// The table key decodes names as encoding/json does, for valid JSON.
func TestStreamKeyDecodesLikeJSON(t *testing.T) {
	for _, raw := range []string{`plain`, `\u0073`, `a\"b\\c\/d\b\f\n\r\t`, `\u00e9t\u00C9`, `\ud83d\ude00x`, `\u20ac\u0000`, `é\u00e9`} {
		var want string
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &want); err != nil {
			t.Fatal(err)
		}
		if got := string(appendUnescaped(nil, []byte(raw))); got != want {
			t.Errorf("%s: got %q, want %q", raw, got, want)
		}
	}
	// A lone surrogate stays apart from U+FFFD.
	if a, b := appendUnescaped(nil, []byte(`\ud800`)), appendUnescaped(nil, []byte(`\ufffd`)); string(a) == string(b) {
		t.Errorf("lone surrogate decodes to %q, like U+FFFD", a)
	}
}

// Records of many streams, interleaved, each line spelling its stream
// and namespace in one of several ways (escapes, no namespace or an empty
// one): every record counts for its decoded stream, numbered in order,
// whether the scanner found the stream by the spelling of a recent line
// or in the table (in memory and through the spool, which agree: scan).
func TestRecentStreamSpellingsAreTheirStreams(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	spell := func(s string) string {
		var b strings.Builder
		for _, c := range []byte(s) {
			if r.IntN(3) == 0 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
		return b.String()
	}
	for _, n := range []int{1, 3, 4, 5, 9} {
		var in strings.Builder
		want := map[string]int64{}
		for i := range 600 {
			name := fmt.Sprintf("u%d", r.IntN(n))
			ns, nsField := "", ""
			switch r.IntN(4) {
			case 1:
				nsField = `"namespace":"",`
			case 2, 3:
				ns = []string{"n", "n1", "u1"}[r.IntN(3)]
				nsField = `"namespace":"` + spell(ns) + `",`
			}
			full := name
			if ns != "" {
				full = ns + "." + name
			}
			want[full]++
			v := "1"
			if i%2 == 0 {
				v = `"` + strings.Repeat("x", 40) + `"`
			}
			fmt.Fprintf(&in, `{"type":"RECORD","record":{%s"stream":"%s","data":{"v":%s},"emitted_at":1}}`+"\n", nsField, spell(name), v)
		}
		res := scan(t, Config{Protocol: Airbyte, MaxFieldSize: 20}, in.String())
		if res.err != nil || res.stats.Records != 600 {
			t.Fatalf("%d streams: err %v stats %+v", n, res.err, res.stats)
		}
		for full, c := range want {
			if got := res.stats.ByStream[full].Records; got != c {
				t.Errorf("%d streams: %s has %d records, want %d (%+v)", n, full, got, c, res.stats.ByStream)
			}
		}
		// The flagged records are numbered per decoded stream.
		next := map[string]int64{}
		for l := range strings.SplitSeq(strings.TrimSpace(res.flags), "\n") {
			var f struct {
				Stream, Namespace string
				Record            int64
			}
			if err := json.Unmarshal([]byte(l), &f); err != nil {
				t.Fatal(err)
			}
			key := f.Namespace + "\x00" + f.Stream
			if f.Record <= next[key] {
				t.Fatalf("%d streams: record %d of %q after %d", n, f.Record, key, next[key])
			}
			next[key] = f.Record
		}
	}
}

// head8 reads the first eight bytes of a span wherever it lies in the line,
// its end included.
func TestHead8(t *testing.T) {
	line := []byte(`{"stream":"abcdefghijk"}`)
	for st := 0; st <= len(line); st++ {
		for end := st; end <= len(line); end++ {
			var want uint64
			for i, c := range line[st:min(end, st+8)] {
				want |= uint64(c) << (8 * i)
			}
			if got := head8(line, span{int64(st), int64(end)}); got != want {
				t.Fatalf("[%d,%d): %#x, want %#x", st, end, got, want)
			}
		}
	}
}
