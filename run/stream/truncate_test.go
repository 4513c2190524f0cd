package stream

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
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

func TestTruncateBoundaries(t *testing.T) {
	tests := []struct{ name, value string }{
		{"ascii", strings.Repeat("a", 40)},
		{"utf8 2-byte", strings.Repeat("é", 40)},
		{"utf8 3-byte", strings.Repeat("€", 40)},
		{"utf8 4-byte", strings.Repeat("😀", 40)},
		{"escapes", strings.Repeat(`\n\"\\`, 40)},
		{"backslash run", strings.Repeat(`\\`, 40)},
		{"unicode escapes", strings.Repeat(`\u00e9`, 40)},
		{"surrogates", strings.Repeat(`\ud83d\ude00`, 40)},
		{"mixed", strings.Repeat(`a\u00e9€\t😀\\`, 20)},
	}
	for _, tc := range tests {
		for limit := int64(1); limit < 40; limit++ {
			rec := `{"type":"RECORD","stream":"s","record":{"v":"` + tc.value + `"}}` + "\n"
			r := scan(t, Config{MaxFieldSize: limit, Oversize: Truncate}, rec)
			var m struct{ Record struct{ V json.RawMessage } }
			if err := json.Unmarshal([]byte(r.out), &m); err != nil {
				t.Fatalf("%s limit %d: invalid JSON %v: %s", tc.name, limit, err, r.out)
			}
			v := m.Record.V
			var s, orig string
			json.Unmarshal(v, &s)
			json.Unmarshal([]byte(`"`+tc.value+`"`), &orig)
			// The decoded value fits the limit, is a prefix of the
			// original, and is at most one character (3 bytes) short.
			if int64(len(s)) > limit || !strings.HasPrefix(tc.value, string(v[1:len(v)-1])) ||
				!utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) || !strings.HasPrefix(orig, s) {
				t.Fatalf("%s limit %d: truncated to %s (%q)", tc.name, limit, v, s)
			}
			if limit-int64(len(s)) > 3 {
				t.Fatalf("%s limit %d: cut too much: %s", tc.name, limit, v)
			}
		}
	}
}

func TestTruncateNonStringNulls(t *testing.T) {
	r := scan(t, Config{MaxFieldSize: 20, Oversize: Truncate}, `{"type":"RECORD","stream":"s","record":{"v":[1,2,3,4,5,6,7,8,9,10,11]}}`+"\n")
	if r.out != `{"type":"RECORD","stream":"s","record":{"v":null},"meta":{"changes":[{"field":"v","change":"NULLED","reason":"PLATFORM_FIELD_SIZE_LIMITATION"}]}}`+"\n" {
		t.Fatalf("out %s", r.out)
	}
}
