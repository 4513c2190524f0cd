package stream

import (
	"encoding/json"
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
