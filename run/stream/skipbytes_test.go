package stream

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// skipBytesJudged fails t unless skipBytes judges v as encoding/json does:
// it accepts v (up to trailing whitespace) exactly when json.Valid does,
// and whatever prefix it accepts is a whole JSON value. Inputs with
// invalid UTF-8 are left out (skipBytes passes them, the i_ choice).
func skipBytesJudged(t testing.TB, tk *tokenizer, v []byte) {
	if len(v) == 0 || v[0] != '[' && v[0] != '{' || !utf8.Valid(v) {
		return
	}
	end, ok := tk.skipBytes(v, 0, maxDepth)
	whole := ok && end == len(bytes.TrimRight(v, " \t\r\n"))
	if whole != json.Valid(v) {
		t.Fatalf("skipBytes (%d, %v), json.Valid %v: %q", end, ok, !whole, v)
	}
	if ok && !json.Valid(v[:end]) {
		t.Fatalf("skipBytes accepted %q of %q, which is not a JSON value", v[:end], v)
	}
}

// TestSkipBytesMatchesEncodingJSON: on every case (the grammar's corners,
// every token pair, the corpus, JSONTestSuite), each cut of it and random
// edits of it, the portable validator agrees with encoding/json.
func TestSkipBytesMatchesEncodingJSON(t *testing.T) {
	var tk tokenizer
	rng := rand.New(rand.NewPCG(13, 1))
	for _, v := range skipCases(t) {
		skipBytesJudged(t, &tk, []byte(v))
		for cut := 1; cut < min(len(v), 200); cut++ {
			skipBytesJudged(t, &tk, []byte(v[:cut]))
		}
		for range 20 {
			skipBytesJudged(t, &tk, mutate(rng, []byte(v)))
		}
	}
}

// TestSkipBytesDepthAndKinds: nesting across the register's and the
// stack's word edges is accepted with just enough room and refused with
// one level less, and a close of the wrong kind is refused at every level.
func TestSkipBytesDepthAndKinds(t *testing.T) {
	var tk tokenizer
	for _, d := range []int{1, 2, 63, 64, 65, 127, 128, 129, 200} {
		var o, c strings.Builder
		for k := range d {
			if k%3 == 1 {
				o.WriteString(`{"k":`)
			} else {
				o.WriteString("[ ")
			}
		}
		for k := d - 1; k >= 0; k-- {
			if k%3 == 1 {
				c.WriteString("}")
			} else {
				c.WriteString(",1]")
			}
		}
		v := []byte(o.String() + "0" + c.String())
		if end, ok := tk.skipBytes(v, 0, d); !ok || end != len(v) {
			t.Fatalf("depth %d, room %d: (%d, %v), want (%d, true)", d, d, end, ok, len(v))
		}
		if _, ok := tk.skipBytes(v, 0, d-1); ok {
			t.Fatalf("depth %d accepted with room %d", d, d-1)
		}
		for i, b := range v {
			if b != ']' && b != '}' {
				continue
			}
			w := bytes.Clone(v)
			w[i] ^= ']' ^ '}'
			if _, ok := tk.skipBytes(w, 0, d); ok {
				t.Fatalf("depth %d: a wrong close at %d accepted: %q", d, i, w)
			}
		}
	}
}

// FuzzSkipBytes: for any bytes after a '[' or '{', skipBytes and
// encoding/json agree.
func FuzzSkipBytes(f *testing.F) {
	addBracketSeeds(f)
	f.Fuzz(func(t *testing.T, rest []byte, obj bool) {
		v := bracketed(rest, obj)
		var tk tokenizer
		skipBytesJudged(t, &tk, v)
	})
}
