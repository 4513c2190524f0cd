package stream

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// skipCases are values skipMasked must judge as skipBytes does: the
// JSONTestSuite documents that are arrays or objects, the corpus's
// payloads, and shapes aimed at the mask arithmetic (carries over block
// boundaries, whitespace everywhere, escapes, every token pair).
func skipCases(t testing.TB) []string {
	cases := []string{
		`{}`, `[]`, `{"a":1}`, `[1,2]`, `{"a":{"b":[1,{"c":null}]}}`, `[[[[]]]]`,
		`{"a" : 1 , "b" : [ 1 , 2 ] }`, "{\t\"a\"\n:\r1}", `[ ]`, `{ }`,
		`{"a":"\"","b":"\\","c":"\\\"","d":"\u00e9\ud83d\ude00"}`,
		`{"a":1,}`, `{,"a":1}`, `[1,]`, `[,1]`, `{"a"}`, `{"a":}`, `{:1}`, `["a":1]`, `{"a":1 "b":2}`,
		`[1 2]`, `{"a":1}}`, `{"a":[1}`, `{"a":{1}}`, `{"a"::1}`, `{"a":1,,"b":2}`, `[01]`, `[1.]`, `[.1]`,
		`[-]`, `[1e]`, `[1e+]`, `[-01]`, `[1.5e-3]`, `[tru]`, `[truex]`, `[nul]`, `[true,false,null]`,
		`["\x"]`, `["\u12"]`, `["\u12G4"]`, "[\"a\x01\"]", "[\"a\tb\"]", "[1\x0c]", "[\x1a]", `["a"b]`,
		`{"a":1]`, `[1}`, `{"a":"b":1}`, `{"a",1}`, `[{"a":1},{"b":2}]`, `[{},[]]`, `{"":""}`,
		`["\\\\\\\"", "\\\\"]`, `[1]x`, `[1] `, `["unterminated]`, `[`, `{"a":1`, `{"a":"b\"}`,
		`[-0, 0, -0.0e0, 1E5, 2e-5]`, `[1.2.3]`, `[1e5e5]`, `[--1]`, `[+1]`, `[1-2]`, `[0x1]`, `[é]`,
	}
	// Every length of key and string across the block boundaries.
	for n := 0; n < 140; n++ {
		k := strings.Repeat("k", n)
		cases = append(cases, `{"`+k+`":"`+k+`","x":[`+k+`]}`, `{"`+k+`":"`+k+`","x":["`+k+`",1]}`,
			`{"a":"`+k+`\"","b":[1, `+strings.Repeat(" ", n)+`2]}`, `{"`+k+`" `+strings.Repeat(" ", n)+`: 1}`,
			`{"a":`+strings.Repeat(" ", n)+`"b"`+strings.Repeat(" ", n)+`}`, `[`+strings.Repeat(`\`, n)+`"]`,
			`["`+strings.Repeat(`\`, n)+`"]`, `["`+strings.Repeat(`\\`, n)+`"]`, `{"a":"`+strings.Repeat(`\\`, n)+`"}`,
			`[`+strings.Repeat("1", n+1)+`]`, `[1`+strings.Repeat(" ", n)+`,2]`, `[`+strings.Repeat("[", n)+strings.Repeat("]", n)+`]`,
			`[`+strings.Repeat("{}", n)+`]`, `[`+strings.Repeat("[],", n)+`1]`, `{"a":`+strings.Repeat("[", n)+strings.Repeat("]", n)+`}`)
	}
	// Every pair of tokens, next to each other or apart, in both kinds
	// of container: each class's follow is checked at every offset.
	toks := []string{`"s"`, `"k":`, `1`, `-2.5e3`, `true`, `null`, `{}`, `[]`, `{`, `[`, `}`, `]`, `:`, `,`, `{"k":1}`, `[1]`}
	for _, a := range toks {
		for _, b := range toks {
			for _, sep := range []string{"", " ", " \n\t "} {
				cases = append(cases, `[`+a+sep+b+`]`, `{"k":`+a+sep+b+`}`, `[1,`+a+sep+b+`,2]`, `{"k":1,"j":`+a+sep+b+`}`)
			}
		}
	}
	c, _ := singerCorpus(1 << 18)
	for l := range bytes.SplitSeq(c, []byte("\n")) {
		if i := bytes.Index(l, []byte(`"record":`)); i >= 0 {
			cases = append(cases, string(l[i+len(`"record":`):len(l)-1]))
		}
	}
	dir := suiteDir
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if b = bytes.TrimLeft(b, " \t\r\n"); len(b) > 0 && (b[0] == '[' || b[0] == '{') {
				cases = append(cases, string(b))
			}
		}
	}
	return cases
}

// skipAgree runs skipBytes and skipMasked (SIMD and portable classes)
// on v, and on v with a first member of 0 to 70 bytes inserted, so that
// every byte of v falls at every position of a block (blocks start at the
// value), each at a few offsets in the line.
func skipAgree(t *testing.T, tk *tokenizer, v string) {
	for k := -1; k <= 70; k++ {
		w := v
		if k >= 0 {
			first := `"` + strings.Repeat("x", k) + `",`
			if v[0] == '{' {
				first = `"` + strings.Repeat("x", k) + `":0,`
			}
			w = v[:1] + first + v[1:]
		}
		for _, pre := range []int{0, 63} {
			p := []byte(strings.Repeat(" ", pre) + w)
			wantEnd, wantOK := tk.skipBytes(p, pre, 200)
			for _, path := range []struct {
				name string
				f    func([]byte) blockMasks
			}{{"simd", classifySIMD}, {"swar", classifySWAR}} {
				end, ok := tk.skipMaskedWith(p, pre, 200, path.f)
				if ok != wantOK || ok && end != wantEnd {
					t.Fatalf("%s at offset %d, %q: masked (%d, %v), bytes (%d, %v)", path.name, pre, w, end, ok, wantEnd, wantOK)
				}
			}
			if haveSIMD && useSIMD {
				if end, ok := tk.skipMasked(p, pre, 200); ok != wantOK || ok && end != wantEnd {
					t.Fatalf("skipMasked at offset %d, %q: (%d, %v), bytes (%d, %v)", pre, w, end, ok, wantEnd, wantOK)
				}
			}
		}
	}
}

// TestSkipMaskedAgreesWithSkipBytes: the block validator and the byte one
// agree on every case, and agree with encoding/json where the value is
// the whole input.
func TestSkipMaskedAgreesWithSkipBytes(t *testing.T) {
	if swarPass {
		t.Skip("skipAgree compares both classifiers in the first pass")
	}
	var tk tokenizer
	for _, v := range skipCases(t) {
		// skipBytes accepts invalid UTF-8 (the i_ choice); json.Valid does not.
		if end, ok := tk.skipBytes([]byte(v), 0, maxDepth); utf8.ValidString(v) {
			whole := ok && end == len(strings.TrimRight(v, " \t\r\n"))
			if whole != json.Valid([]byte(v)) {
				t.Fatalf("skipBytes (%d, %v), json.Valid %v: %q", end, ok, !whole, v)
			}
		}
		skipAgree(t, &tk, v)
	}
}

// TestSkipMaskedMutations: random edits of the cases (mutate: a byte
// replaced, deleted, doubled or inserted, or the value cut) are judged
// alike.
func TestSkipMaskedMutations(t *testing.T) {
	if swarPass {
		t.Skip("skipAgree compares both classifiers in the first pass")
	}
	var tk tokenizer
	r := rand.New(rand.NewPCG(3, 4))
	base := skipCases(t)
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		v := mutate(r, []byte(base[r.IntN(len(base))])) // keeps v[0], a bracket
		if len(v) == 0 {
			continue
		}
		skipAgree(t, &tk, string(v))
	}
}

// TestSkipMaskedDepth: the room bound holds as in skipBytes.
func TestSkipMaskedDepth(t *testing.T) {
	var tk tokenizer
	for _, d := range []int{1, 63, 64, 65, 127, 128, 129, 300} {
		v := []byte(strings.Repeat("[", d) + strings.Repeat("]", d))
		for _, room := range []int{d - 1, d, d + 1} {
			we, wok := tk.skipBytes(v, 0, room)
			e, ok := tk.skipMaskedWith(v, 0, room, classifySWAR)
			if ok != wok || e != we {
				t.Fatalf("depth %d room %d: masked (%d, %v), bytes (%d, %v)", d, room, e, ok, we, wok)
			}
		}
	}
}

// TestClassifySIMDMatchesSWAR: both classifiers agree on every byte value
// at every position.
func TestClassifySIMDMatchesSWAR(t *testing.T) {
	b := make([]byte, 64)
	for c := range 256 {
		for pos := range 64 {
			for k := range b {
				b[k] = byte(k*7 + 'a')
			}
			b[pos] = byte(c)
			if got, want := classifySIMD(b), classifySWAR(b); got != want {
				t.Fatalf("byte %#x at %d: simd %+v, swar %+v", c, pos, got, want)
			}
		}
	}
}

// BenchmarkSkip: the corpus's payloads through skipBytes and skipMasked
// in the same run, and their ratio.
func BenchmarkSkip(b *testing.B) {
	c, _ := benchCorpus()
	var vals [][]byte
	total := 0
	for l := range bytes.SplitSeq(c, []byte("\n")) {
		if i := bytes.Index(l, []byte(`"record":`)); i >= 0 {
			v := l[i+len(`"record":`):]
			vals = append(vals, v)
			total += len(v)
		}
	}
	var tk tokenizer
	// Interleaved rounds, best of each: this VM's speed drifts by 2x
	// within a minute, and a ratio of runs minutes apart means nothing.
	paths := []struct {
		name string
		f    func([]byte) bool
	}{
		{"bytes", func(v []byte) bool { _, ok := tk.skipBytes(v, 0, 100); return ok }},
		{"masked", func(v []byte) bool { _, ok := tk.skipMasked(v, 0, 100); return ok }},
	}
	best := make([]float64, len(paths))
	for range 5 {
		for k, path := range paths {
			t0 := time.Now()
			for _, v := range vals {
				if !path.f(v) {
					b.Fatalf("%s: invalid", path.name)
				}
			}
			best[k] = max(best[k], float64(total)/1e6/time.Since(t0).Seconds())
		}
	}
	for k, path := range paths {
		b.ReportMetric(best[k], path.name+"-MB/s")
	}
	b.ReportMetric(best[1]/best[0], "x-bytes")
}

// addBracketSeeds seeds a fuzz target of (rest, obj) with the first 400
// cases: the bytes after their opening bracket, and whether it is '{'.
func addBracketSeeds(f *testing.F) {
	for _, v := range skipCases(f)[:400] {
		f.Add([]byte(v[1:]), v[0] == '{')
	}
}

// bracketed is rest after '{' (obj) or '['.
func bracketed(rest []byte, obj bool) []byte {
	if obj {
		return append([]byte{'{'}, rest...)
	}
	return append([]byte{'['}, rest...)
}

// FuzzSkipMasked: for any bytes after a '[' or '{', skipMasked (both
// classifiers) and skipBytes agree.
func FuzzSkipMasked(f *testing.F) {
	addBracketSeeds(f)
	f.Fuzz(func(t *testing.T, rest []byte, obj bool) {
		v := bracketed(rest, obj)
		var tk tokenizer
		wantEnd, wantOK := tk.skipBytes(v, 0, 200)
		for _, f := range []func([]byte) blockMasks{classifySIMD, classifySWAR} {
			if end, ok := tk.skipMaskedWith(v, 0, 200, f); ok != wantOK || ok && end != wantEnd {
				t.Fatalf("%q: masked (%d, %v), bytes (%d, %v)", v, end, ok, wantEnd, wantOK)
			}
		}
		if end, ok := tk.skipMasked(v, 0, 200); ok != wantOK || ok && end != wantEnd {
			t.Fatalf("%q: skipMasked (%d, %v), bytes (%d, %v)", v, end, ok, wantEnd, wantOK)
		}
	})
}
