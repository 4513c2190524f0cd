package stream

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
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

// safeText escapes exactly the characters that can act on a terminal or
// hide text (controls, DEL, C1, bidi and invisible format characters) and
// bad UTF-8, at each edge of its ranges, keeps everything else, and cuts
// at maxSafeText bytes of the input without splitting a character.
func TestSafeText(t *testing.T) {
	unsafe := []rune{0x00, 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9b, 0x9f, 0xad, 0x061c, 0x180e,
		0x200b, 0x200f, 0x2028, 0x202e, 0x2060, 0x206f, 0xfeff, 0xfff9, 0xfffb, 0xe0000, 0xe007f}
	safe := []rune{0x20, 0x7e, 0xa0, 0xac, 0xae, 0x061b, 0x061d, 0x180d, 0x180f, 0x200a, 0x2010,
		0x2027, 0x202f, 0x205f, 0x2070, 0xfefe, 0xff00, 0xfff8, 0xfffc, 0xdffff, 0xe0080, 0x10ffff}
	for _, r := range unsafe {
		in := "a" + string(r) + "b"
		if got, want := safeText(in), fmt.Sprintf(`a\u%04Xb`, r); got != want {
			t.Errorf("U+%04X: %q, want %q", r, got, want)
		}
	}
	for _, r := range safe {
		if in := "a" + string(r) + "b"; safeText(in) != in {
			t.Errorf("U+%04X: %q changed to %q", r, in, safeText(in))
		}
	}
	for in, want := range map[string]string{
		"a\xffb":           `a\xffb`,
		"a\xe2\x80b":       `a\xe2\x80b`,   // a cut 3-byte sequence
		"\xed\xa0\x80":     `\xed\xa0\x80`, // a surrogate in UTF-8
		"é€😀":              "é€😀",
		"\\u001b, not ESC": "\\u001b, not ESC", // already text
	} {
		if got := safeText(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	// The cut: maxSafeText bytes of the input, then "…".
	exact := strings.Repeat("a", maxSafeText)
	if got := safeText(exact); got != exact {
		t.Errorf("%d bytes cut: %q", maxSafeText, got)
	}
	if got := safeText(exact + "b"); got != exact+"…" {
		t.Errorf("%d bytes: %q", maxSafeText+1, got)
	}
	for pad := range 4 {
		in := strings.Repeat("a", pad) + strings.Repeat("€", maxSafeText)
		got := safeText(in)
		body := strings.TrimSuffix(got, "…")
		if !utf8.ValidString(got) || body == got || !strings.HasPrefix(in, body) ||
			len(body) < maxSafeText || len(body) >= maxSafeText+3 {
			t.Errorf("pad %d: cut to %d bytes: %q", pad, len(body), got)
		}
	}
	// Escapes do not count against the bound; input bytes do.
	if got := safeText(strings.Repeat("\x1b", maxSafeText+1)); got != strings.Repeat(`\u001B`, maxSafeText)+"…" {
		t.Errorf("controls cut: %q", got)
	}
}

// Line warnings stop at MaxWarnings and are summarized once, with the
// bound; warnings about the whole run are written beyond it; under the
// bound, or with no bound, there is no summary.
func TestLineWarningsAreBounded(t *testing.T) {
	bad := strings.Repeat("{bad\n", 10)
	last := `{"type":"RECORD","stream":"s","record":{}}` // no newline
	r := scanOnce(t, Config{MaxWarnings: 3}, bad+last)
	lines := strings.Split(strings.TrimSuffix(r.warn, "\n"), "\n")
	if len(lines) != 5 || r.stats.WarningsSkipped != 7 || !strings.HasPrefix(lines[2], "syncbox: line 3 ") ||
		!strings.Contains(r.warn, "the last line had no newline") ||
		lines[4] != "syncbox: 7 more line warnings not shown (the first 3 were); see the flags file and the report's counts" {
		t.Fatalf("skipped %d, warnings:\n%s", r.stats.WarningsSkipped, r.warn)
	}
	for _, cfg := range []Config{{MaxWarnings: 10}, {MaxWarnings: -1}} {
		r = scanOnce(t, cfg, bad)
		if strings.Count(r.warn, "\n") != 10 || r.stats.WarningsSkipped != 0 || strings.Contains(r.warn, "not shown") {
			t.Fatalf("MaxWarnings %d: skipped %d, warnings:\n%s", cfg.MaxWarnings, r.stats.WarningsSkipped, r.warn)
		}
	}
}

// A bad line's warning shows the connector's text quoted: its message
// type and first bytes never put a control, C1 or bidi character on the
// operator's terminal, and its flags entry stays valid JSON.
func TestBadLineWarningsAreSafe(t *testing.T) {
	typ := `\u001b]0;owned\u0007\u202e` + "\u202e\u0085"
	in := `{"type":"` + typ + `","x":1}` + "\n" + "\x1b[2J\u202e{\n"
	r := scan(t, Config{Protocol: Singer}, in)
	if r.stats.InvalidLines != 2 || strings.Count(r.warn, "\n") != 2 {
		t.Fatalf("stats %+v warn %q", r.stats, r.warn)
	}
	for _, bad := range []string{"\x1b", "\x07", "\u0085", "\u202e"} {
		if strings.Contains(r.warn, bad) {
			t.Fatalf("%q reached the warnings:\n%q", bad, r.warn)
		}
	}
	for _, l := range strings.SplitAfter(r.flags, "\n") {
		if l != "" && !json.Valid([]byte(l)) {
			t.Fatalf("flags entry is not JSON: %q", l)
		}
	}
}
