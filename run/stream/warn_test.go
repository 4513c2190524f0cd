package stream

import (
	"fmt"
	"strings"
	"testing"
)

// Names from the input never put control, C1 or bidi characters into
// warnings or the stats.
func TestStreamNamesAreMadeSafe(t *testing.T) {
	name := `ti\u001b]0;owned\u0007tle\u009b2J\u202ex` + "\u202e\u0085"
	in := `{"type":"SCHEMA","stream":"` + name + `","schema":{},"key_properties":7}` + "\n" +
		`{"type":"RECORD","stream":"` + name + `","record":{"v":"` + strings.Repeat("q", 100) + `"}}` + "\n"
	r := scan(t, Config{MaxFieldSize: 10, Oversize: Drop}, in)
	want := `ti\u001B]0;owned\u0007tle\u009B2J\u202Ex\u202E\u0085`
	if _, ok := r.stats.ByStream[want]; !ok || r.stats.Largest.Stream != want {
		t.Fatalf("by stream %v, largest %q", r.stats.ByStream, r.stats.Largest.Stream)
	}
	for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e", "\u0085"} {
		if strings.Contains(r.warn, bad) || strings.Contains(fmt.Sprint(r.stats), bad) {
			t.Fatalf("%q reached the warnings or stats:\n%s", bad, r.warn)
		}
	}
	if !strings.Contains(r.warn, want) {
		t.Fatalf("warn %s", r.warn)
	}
}
