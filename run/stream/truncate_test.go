package stream

import (
	"encoding/json"
	"strings"
	"testing"
)

// A string's size is its decoded UTF-8 bytes: "\u039a" (Κ) is 2 bytes, as
// a destination stores it, not the 6 bytes of its escape.
func TestStringSizeIsDecodedUTF8(t *testing.T) {
	v := strings.Repeat(`\u039a`, 100) // 600 bytes written, 200 stored
	rec := `{"type":"RECORD","stream":"s","record":{"v":"` + v + `","n":{"a":"` + v + `"}}}` + "\n"
	r := scan(t, Config{MaxFieldSize: 300}, rec)
	// v fits (200 bytes); the object n is measured serialized (608 bytes),
	// and its string, 200 bytes, fits: the whole object is nulled.
	if !strings.Contains(r.flags, `"field":"n","size":608,"measure":"json"`) || strings.Contains(r.flags, `"field":"v"`) ||
		!strings.Contains(r.out, `"v":"`+v+`","n":null`) {
		t.Fatalf("flags %s", r.flags)
	}
	r = scan(t, Config{MaxFieldSize: 150, Oversize: Truncate}, rec)
	var m struct{ Record struct{ V string } }
	if err := json.Unmarshal([]byte(r.out), &m); err != nil || len(m.Record.V) != 150 ||
		!strings.Contains(r.flags, `"field":"v","size":200,"measure":"utf8","limit":150,"reason":"field_size","action":"truncated"`) {
		t.Fatalf("out %s flags %s", r.out, r.flags)
	}
}

// Key prefixes in paths, flags and lineage are cut on escape and UTF-8
// boundaries: a 256-byte cut inside "\u00e9" or "é" would make the flags
// line and the forwarded record invalid JSON.
func TestKeyCutsStayValidJSON(t *testing.T) {
	for pad := 250; pad < 258; pad++ {
		for _, tail := range []string{`\u00e9\u00e9`, `éé`, `\"\\`, `\ud83d\ude00`} {
			key := strings.Repeat("k", pad) + tail + "z"
			rec := `{"type":"RECORD","stream":"s","record":{"` + key + `":"` + strings.Repeat("v", 50) + `","o":{"` + key + `":[1,"` + strings.Repeat("w", 50) + `"]}}}` + "\n"
			r := scan(t, Config{MaxFieldSize: 20, Keys: map[string][]string{"s": {key}}}, rec)
			for _, l := range strings.SplitAfter(r.flags+r.out, "\n") {
				if l != "" && !json.Valid([]byte(l)) {
					t.Fatalf("pad %d %s: invalid JSON %s", pad, tail, l)
				}
			}
			if r.stats.Flagged == 0 {
				t.Fatalf("pad %d %s: nothing flagged", pad, tail)
			}
		}
	}
}
