package stream

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// Attacks on skipMasked: inputs built to sit on its carries (block
// boundaries inside escapes, \uXXXX digits, numbers, literals, keys and
// whitespace runs), lines whose spare capacity holds hostile bytes that
// the SIMD classifier reads, and random grammar-aware values and their
// mutations. Each is judged by skipBytes (and encoding/json where the
// value is the whole input); skipMasked must agree on both classifiers.

// garbageFills are what the spare capacity past len(p) holds: bytes that
// would close, open, escape, continue a number or a literal.
var garbageFills = []string{"]", "}", `"`, `\`, `\"`, "0", "e", " ", ",", "\x00", "u", "1]}", `"]}`, "\xff"}

// hostileLine copies v to a fresh buffer at offset pre (bytes before it
// are garbage too: the validator never reads before its start), with
// spare capacity of 64 to 255 bytes filled with the pattern fill.
func hostileLine(v []byte, pre int, fill string, spare int) []byte {
	buf := make([]byte, pre+len(v)+spare)
	for k := range buf {
		buf[k] = fill[k%len(fill)]
	}
	copy(buf[pre:], v)
	return buf[:pre+len(v)]
}

// agreeHostile checks skipMasked (AVX2 batches reading spare capacity,
// classifySIMD and classifySWAR) against skipBytes on v placed at the
// given offsets, the spare capacity after it filled with the next of
// garbageFills (tk.n counts the calls).
func agreeHostile(t *testing.T, tk *attackState, v []byte, room int, offsets []int) {
	t.Helper()
	wantEnd, wantOK := tk.skipBytes(v, 0, room)
	for _, pre := range offsets {
		tk.n++
		fill := garbageFills[tk.n%len(garbageFills)]
		p := hostileLine(v, pre, fill, 64+(tk.n*37)%192)
		for _, path := range []struct {
			name string
			f    func([]byte) blockMasks
		}{{"simd", classifySIMD}, {"swar", classifySWAR}} {
			end, ok := tk.skipMaskedWith(p, pre, room, path.f)
			if ok != wantOK || ok && end-pre != wantEnd {
				t.Fatalf("%s at offset %d, garbage %q, room %d: %q: masked (%d, %v), bytes (%d, %v)",
					path.name, pre, fill, room, v, end-pre, ok, wantEnd, wantOK)
			}
		}
		end, ok := tk.skipMasked(p, pre, room)
		if ok != wantOK || ok && end-pre != wantEnd {
			t.Fatalf("skipMasked at offset %d, garbage %q, room %d: %q: masked (%d, %v), bytes (%d, %v)",
				pre, fill, room, v, end-pre, ok, wantEnd, wantOK)
		}
	}
}

// attackState is a tokenizer reused by every check, and a call count
// that picks each call's garbage.
type attackState struct {
	tokenizer
	n int
}

// jsonAgree checks that skipBytes, the reference, judges v as
// encoding/json does when v is the whole value.
func jsonAgree(t *testing.T, tk *attackState, v []byte) {
	t.Helper()
	if !utf8.Valid(v) {
		return
	}
	end, ok := tk.skipBytes(v, 0, maxDepth)
	whole := ok && end == len(strings.TrimRight(string(v), " \t\r\n"))
	if whole != json.Valid(v) {
		t.Fatalf("skipBytes (%d, %v), json.Valid %v: %q", end, ok, json.Valid(v), v)
	}
}

// hostileTokens are values (valid or not) aimed at the number, literal,
// escape and string checks.
var hostileTokens = []string{
	`-0`, `0`, `0.0`, `-0.0`, `1e5`, `1E+5`, `1e-5`, `1E5`, `-`, `01`, `-01`, `00`, `1.e5`, `1.`, `.1`, `-.1`, `1.5.`,
	`0.5e`, `0e`, `0e+`, `0e-1`, `1e5.5`, `1e05`, `1.0e+0`, `-0e0`, `1-`, `1+1`, `+1`, `--0`, `0-0`, `0.0.0`,
	`1.2.3`, `12345678901234567890`, `1x`, `1e5x`, `1.5x`, `-x`, `0x10`, `1e`, `1E`, `1e+`, `2.`, `2..5`, `9.9e9.9`,
	`true`, `false`, `null`, `tru`, `fals`, `nul`, `truex`, `falsey`, `nullx`, `True`, `nulL`, `t`, `f`, `n`, `truetrue`,
	`"\u0041"`, `"\u004"`, `"\u00G1"`, `"\u"`, `"\uD83D\uDE00"`, `"\x"`, `"\'"`, `"\/"`, `"\b\f\n\r\t"`, `"\\"`, `"\\\"`,
	`"\"\\"`, `"\\\\"`, `"\u00e9\"`, `"\uABCDx"`, `"\uabcd"`, `"\uabc"`, `"\U0041"`, `"a` + "\x7f" + `"`, `"a` + "\x1f" + `"`,
	"\"\xff\xfe\"", `""`, `"`, `"\`, `"\"`, `\"a"`, `"a"\`, `"\u12"x`,
	`[]`, `{}`, `[[]]`, `{"":{}}`, `{"a":1}`, `{"":""}`, `[{"a":[]}]`, `{"a":}`, `{"a"}`, `{:1}`, `[:]`, `[,]`, `{,}`,
	`]`, `}`, `[}`, `{]`, `[1}`, `{"a":1]`, `[1]]`, `{}}`, "\x80", "é", `'a'`, "\x00", "\x0b", "\x0c",
}

// TestSkipMaskedHostileTokens: each hostile token at every position of a
// block (pushed by whitespace, by a string, by a number), in arrays and
// objects, first, middle and last, with garbage after the line.
func TestSkipMaskedHostileTokens(t *testing.T) {
	if swarPass {
		t.Skip("agreeHostile compares both classifiers in the first pass")
	}
	var tk attackState
	offs := []int{0, 1}
	for _, tok := range hostileTokens {
		for n := 0; n < 130; n++ {
			ws := strings.Repeat(" ", n)
			str := `"` + strings.Repeat("s", n) + `"`
			num := "1" + strings.Repeat("0", n)
			for _, v := range []string{
				`[` + ws + tok + `]`,
				`[` + ws + tok + ws + `]`,
				`[` + str + `,` + tok + `,1]`,
				`[` + num + `,` + tok + `]`,
				`{"` + strings.Repeat("k", n) + `":` + tok + `}`,
				`{"a":[` + ws + tok + `],"b":` + tok + `}`,
				`[` + tok + ws + `,` + tok + `]`,
			} {
				agreeHostile(t, &tk, []byte(v), 200, offs)
				if n%17 == 0 {
					jsonAgree(t, &tk, []byte(v))
				}
			}
		}
	}
}

// TestSkipMaskedBoundaryRuns: runs of backslashes, digits, exponent parts,
// letters and whitespace of every length, ending at every position of a
// block, with the byte after the run of every kind.
func TestSkipMaskedBoundaryRuns(t *testing.T) {
	if swarPass {
		t.Skip("agreeHostile compares both classifiers in the first pass")
	}
	var tk attackState
	offs := []int{0}
	nexts := []string{`"`, `\`, `u`, `0`, `A`, `.`, `e`, `-`, `]`, `}`, ` `, `,`, `:`, "\x01", `x`, "\x80"}
	for n := 0; n < 140; n++ {
		for _, nx := range nexts {
			pad := strings.Repeat("p", n%64)
			for _, v := range []string{
				`["` + pad + strings.Repeat(`\`, n%9) + nx + `"]`,
				`["` + pad + `\u` + strings.Repeat("0", n%5) + nx + `"]`,
				`{"` + pad + `\` + nx + `":1}`,
				`[` + strings.Repeat("1", n+1) + nx + `]`,
				`[1` + strings.Repeat("0", n) + `.` + nx + `0]`,
				`[1` + strings.Repeat("0", n) + `e` + nx + `5]`,
				`[-` + strings.Repeat("0", n%3) + nx + `]`,
				`[1.` + strings.Repeat("5", n) + nx + `]`,
				`[1.` + strings.Repeat("5", n) + `e1` + nx + `]`,
				`[` + pad + `tru` + nx + `]`,
				`[` + pad + `true` + nx + `]`,
				`[` + pad + `fals` + nx + `]`,
				`[` + pad + `null` + nx + `1]`,
				`{"a"` + strings.Repeat(" ", n) + nx + `1}`,
				`{"a":1` + strings.Repeat("\t", n) + nx + `"b":2}`,
				`[` + strings.Repeat("[", n%70) + nx + strings.Repeat("]", n%70) + `]`,
			} {
				agreeHostile(t, &tk, []byte(v), 200, offs)
			}
		}
	}
}

// genValue writes a random JSON value (valid, unless the mutations of
// the caller break it) with whitespace runs of random length.
func genValue(r *rand.Rand, b []byte, depth int) []byte {
	ws := func() {
		switch r.IntN(4) {
		case 0:
			b = append(b, strings.Repeat(" \t\r\n"[r.IntN(4):][:1], r.IntN(70))...)
		case 1:
			b = append(b, ' ')
		}
	}
	str := func() {
		b = append(b, '"')
		for range r.IntN(80) {
			switch r.IntN(10) {
			case 0:
				b = append(b, `\`+`"\/bfnrt`[r.IntN(8):][:1]...)
			case 1:
				b = append(b, strings.Repeat(`\\`, r.IntN(5))...)
			case 2:
				b = append(b, `\u`...)
				for range 4 {
					b = append(b, "0123456789abcdefABCDEF"[r.IntN(22)])
				}
			case 3:
				b = append(b, "é😀{}[]:,"[r.IntN(11):][:1]...)
			default:
				b = append(b, byte('a'+r.IntN(26)))
			}
		}
		b = append(b, '"')
	}
	k := r.IntN(9)
	if depth > 6 || len(b) > 2000 {
		k = r.IntN(3)
	}
	switch k {
	case 0:
		str()
	case 1:
		if r.IntN(2) == 0 {
			b = append(b, '-')
		}
		if r.IntN(3) == 0 {
			b = append(b, '0')
		} else {
			b = append(b, byte('1'+r.IntN(9)))
			for range r.IntN(70) {
				b = append(b, byte('0'+r.IntN(10)))
			}
		}
		if r.IntN(2) == 0 {
			b = append(b, '.')
			for range 1 + r.IntN(70) {
				b = append(b, byte('0'+r.IntN(10)))
			}
		}
		if r.IntN(3) == 0 {
			b = append(b, "eE"[r.IntN(2)])
			if r.IntN(2) == 0 {
				b = append(b, "+-"[r.IntN(2)])
			}
			for range 1 + r.IntN(40) {
				b = append(b, byte('0'+r.IntN(10)))
			}
		}
	case 2:
		b = append(b, []string{"true", "false", "null"}[r.IntN(3)]...)
	case 3, 4, 5:
		b = append(b, '[')
		ws()
		for i := range r.IntN(6) {
			if i > 0 {
				b = append(b, ',')
				ws()
			}
			b = genValue(r, b, depth+1)
			ws()
		}
		b = append(b, ']')
	default:
		b = append(b, '{')
		ws()
		for i := range r.IntN(6) {
			if i > 0 {
				b = append(b, ',')
				ws()
			}
			str()
			ws()
			b = append(b, ':')
			ws()
			b = genValue(r, b, depth+1)
			ws()
		}
		b = append(b, '}')
	}
	return b
}

// TestSkipMaskedRandomValues: random values and their mutations, at a
// few offsets, with garbage after them and every room near their depth.
func TestSkipMaskedRandomValues(t *testing.T) {
	if swarPass {
		t.Skip("agreeHostile compares both classifiers in the first pass")
	}
	var tk attackState
	r := rand.New(rand.NewPCG(11, 12))
	n := 4000
	if testing.Short() {
		n = 400
	}
	for range n {
		v := []byte{'['}
		if r.IntN(2) == 0 {
			v[0] = '{'
			v = append(v, `"k":`...)
		}
		v = genValue(r, v, 1)
		if v[0] == '{' {
			v = append(v, '}')
		} else {
			v = append(v, ']')
		}
		jsonAgree(t, &tk, v)
		agreeHostile(t, &tk, v, 200, []int{0, 5})
		for range 3 {
			w := mutate(r, append([]byte(nil), v...))
			if len(w) == 0 || w[0] != '[' && w[0] != '{' {
				continue
			}
			agreeHostile(t, &tk, w, 200, []int{0})
			jsonAgree(t, &tk, w)
		}
	}
}

// FuzzSkipMaskedHostile: any bytes after a '[' or '{', pushed by a string
// of shift bytes so that they fall at every block position, at an offset,
// with hostile spare capacity, with a room from the fuzzer.
func FuzzSkipMaskedHostile(f *testing.F) {
	for i, v := range skipCases(f)[:300] {
		f.Add([]byte(v[1:]), v[0] == '{', uint8(i), uint8(i*7), uint8(200))
	}
	for i, tok := range hostileTokens {
		f.Add([]byte(tok+`]`), false, uint8(i), uint8(i*3), uint8(5))
	}
	f.Fuzz(func(t *testing.T, rest []byte, obj bool, shift, fill, room uint8) {
		v := append([]byte{'['}, rest...)
		if obj {
			v[0] = '{'
		}
		if s := int(shift % 64); s > 0 {
			// A first member that moves the rest by s bytes.
			first := `"` + strings.Repeat("x", s) + `",`
			if obj {
				first = `"` + strings.Repeat("x", s) + `":0,`
			}
			v = append(v[:1], append([]byte(first), v[1:]...)...)
		}
		var tk tokenizer
		wantEnd, wantOK := tk.skipBytes(v, 0, int(room))
		g := garbageFills[int(fill)%len(garbageFills)]
		p := hostileLine(v, int(fill>>4), g, 64+int(fill))
		pre := int(fill >> 4)
		for _, c := range []func([]byte) blockMasks{classifySIMD, classifySWAR} {
			if end, ok := tk.skipMaskedWith(p, pre, int(room), c); ok != wantOK || ok && end-pre != wantEnd {
				t.Fatalf("%q: masked (%d, %v), bytes (%d, %v)", v, end-pre, ok, wantEnd, wantOK)
			}
		}
		if end, ok := tk.skipMasked(p, pre, int(room)); ok != wantOK || ok && end-pre != wantEnd {
			t.Fatalf("%q garbage %q: skipMasked (%d, %v), bytes (%d, %v)", v, g, end-pre, ok, wantEnd, wantOK)
		}
	})
}

// TestScannerForwardsOnlyValidRecords: Singer RECORD lines whose payloads
// are random values, their mutations and the hostile tokens at block
// boundaries, through one Scanner.Run (the tokenizer and its mask state
// reused from line to line, each line followed in the buffer by the
// next): every forwarded line is an input line encoding/json finds valid,
// and every valid input line is forwarded.
func TestScannerForwardsOnlyValidRecords(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	var in bytes.Buffer
	in.WriteString(`{"type":"SCHEMA","stream":"s","schema":{},"key_properties":[]}` + "\n")
	add := func(payload []byte) {
		if bytes.ContainsAny(payload, "\n\r") {
			payload = bytes.ReplaceAll(bytes.ReplaceAll(payload, []byte("\n"), []byte(" ")), []byte("\r"), []byte("\t"))
		}
		in.WriteString(`{"type":"RECORD","stream":"s","record":`)
		in.Write(payload)
		in.WriteString("}\n")
	}
	for range 1500 {
		v := genValue(r, []byte(`{"k":`), 1)
		v = append(v, '}')
		add(v)
		add(mutate(r, append([]byte(nil), v...)))
	}
	for i, tok := range hostileTokens {
		for n := i % 3; n < 130; n += 3 {
			add([]byte(`{"` + strings.Repeat("k", n) + `":[` + tok + `]}`))
			add([]byte(`{"a":{"b":` + strings.Repeat(" ", n) + tok + `}}`))
		}
	}
	var out bytes.Buffer
	s := New(Config{Protocol: Singer})
	if err := s.Run(&out, bytes.NewReader(in.Bytes())); err != nil {
		t.Fatal(err)
	}
	valid := map[string]bool{}
	nValid := 0
	for l := range bytes.SplitSeq(in.Bytes(), []byte("\n")) {
		if len(l) > 0 && json.Valid(l) {
			valid[string(l)] = true
			nValid++
		}
	}
	nOut := 0
	for l := range bytes.SplitSeq(out.Bytes(), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		nOut++
		if !valid[string(l)] {
			t.Fatalf("forwarded a line that is not a valid input line: %q", l)
		}
	}
	if nOut != nValid {
		t.Fatalf("forwarded %d lines of %d valid", nOut, nValid)
	}
}

// TestClassifySIMDEscapeClassesMatchSWAR: the escape classes (computed
// only in blocks with a backslash) agree for every byte value at every
// position, with the backslash before, after or on it, and in batches
// that read the spare capacity of a short last block.
func TestClassifySIMDEscapeClassesMatchSWAR(t *testing.T) {
	b := make([]byte, 64)
	for c := range 256 {
		for pos := range 64 {
			for _, bs := range []int{0, 63, (pos + 1) % 64, (pos + 33) % 64} {
				for k := range b {
					b[k] = byte(k*5 + ' ')
				}
				b[bs] = '\\'
				b[pos] = byte(c)
				if got, want := classifySIMD(b), classifySWAR(b); got != want {
					t.Fatalf("byte %#x at %d, backslash at %d: simd %+v, swar %+v", c, pos, bs, got, want)
				}
			}
		}
	}
	var ms [maskBatch]blockMasks
	var pad [64]byte
	buf := make([]byte, 4*64)
	for k := range buf {
		buf[k] = byte(k*11 + 3)
	}
	for n := 193; n <= 256; n++ {
		for _, p := range [][]byte{buf[:n], buf[:n:n]} {
			classifyBatch(p, &ms, 4, &pad)
			last := make([]byte, 64)
			copy(last, p[192:])
			if cap(p) == 256 {
				last = buf[192:]
			}
			for blk := range 3 {
				if want := classifySWAR(buf[blk*64:]); ms[blk] != want {
					t.Fatalf("len %d block %d: simd %+v, swar %+v", n, blk, ms[blk], want)
				}
			}
			if want := classifySWAR(last); ms[3] != want {
				t.Fatalf("len %d cap %d last block: simd %+v, swar %+v", n, cap(p), ms[3], want)
			}
		}
	}
}

// TestSkipMaskedRoomBothPaths: the room bound at the stack's word edges,
// with both kinds of bracket, on the AVX2 batches too.
func TestSkipMaskedRoomBothPaths(t *testing.T) {
	var tk attackState
	for _, d := range []int{1, 2, 63, 64, 65, 127, 128, 129, 191, 192, 193, 257} {
		var o, c strings.Builder
		for k := range d {
			if k%3 == 1 {
				o.WriteString(`{"k":`)
			} else {
				o.WriteString("[")
			}
		}
		open := o.String()
		for k := d - 1; k >= 0; k-- {
			if k%3 == 1 {
				c.WriteString("}")
			} else {
				c.WriteString("]")
			}
		}
		v := []byte(open + c.String())
		for _, room := range []int{0, d - 1, d, d + 1} {
			agreeHostile(t, &tk, v, room, []int{0, 3})
		}
		// A close of the wrong kind at the deepest level and at the top.
		w := append([]byte(nil), v...)
		w[len(open)] ^= ']' ^ '}'
		agreeHostile(t, &tk, w, d+1, []int{0})
		w = append([]byte(nil), v...)
		w[len(w)-1] ^= ']' ^ '}'
		agreeHostile(t, &tk, w, d+1, []int{0})
	}
}

// TestSkipMaskedNumberEndsAtBlockEdge: FOUND BY THIS ATTACK (it accepted
// these before its fix). A number whose last byte is a block's last and
// may not end a number ('-' or '.') leaves its check to the next block's
// first byte; a next block with an exponent anywhere in it is checked by
// numberEnd, which looked only at the numbers in that block, so
// `[-,1e1]` and `[1.,1e1]` with the '-' or '.' at a block's end were
// valid, and Scanner.Run forwarded a RECORD line holding one.
func TestSkipMaskedNumberEndsAtBlockEdge(t *testing.T) {
	var tk attackState
	for _, num := range []string{"-", "1.", "-0.", "12.", "-1.5.", "0-"} {
		for _, rest := range []string{",1e1]", "]", " ,1E+1]", "],[1e-1]]", ",true,2e2]", `,"x",1.5e3]`, "\t\n,2E5 ]"} {
			for _, shift := range []int{0, 1, 2} {
				// The number's last byte at 63 - shift, 63 and 127.
				for _, at := range []int{63 - shift, 63, 127} {
					v := "[[" + strings.Repeat(" ", at-len(num)-1) + num + rest + "]"
					if v[at] != num[len(num)-1] {
						t.Fatalf("bad layout %q", v)
					}
					if json.Valid([]byte(v)) {
						t.Fatalf("case %q is valid", v)
					}
					agreeHostile(t, &tk, []byte(v), 200, []int{0})
				}
			}
		}
	}
	// The whole scanner: a Singer RECORD whose payload holds `-,1e1` with
	// the '-' at the payload's 63rd byte is not forwarded.
	payload := `{"a":[` + strings.Repeat(" ", 57) + `-,1e1]}`
	if payload[63] != '-' {
		t.Fatalf("bad layout %q", payload)
	}
	line := `{"type":"RECORD","stream":"s","record":` + payload + "}\n"
	var out bytes.Buffer
	if err := New(Config{Protocol: Singer}).Run(&out, strings.NewReader(line)); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("forwarded the invalid line %q", out.String())
	}
}

// TestSkipMaskedTokenPairsAtBlockEdge: every pair of hostile tokens with
// the first one's last byte at a block's last byte (or one before or
// after), apart or not: the check a token leaves to the next block must
// hold whichever way the next block is checked.
func TestSkipMaskedTokenPairsAtBlockEdge(t *testing.T) {
	if swarPass {
		t.Skip("agreeHostile compares both classifiers in the first pass")
	}
	var tk attackState
	for _, a := range hostileTokens {
		for _, b := range hostileTokens {
			for _, sep := range []string{",", " , ", ""} {
				for _, end := range []int{62, 63, 64} {
					n := end + 1 - len(a) - 1 // '[' then spaces, a ends at end
					if n < 0 {
						continue
					}
					v := "[" + strings.Repeat(" ", n) + a + sep + b + "]"
					agreeHostile(t, &tk, []byte(v), 200, []int{0})
					if n >= 5 && sep != "" {
						// In an object, after a key that crosses no boundary.
						v = `{"k":` + strings.Repeat("\t", n-4) + a + sep + `"j":` + b + "}"
						agreeHostile(t, &tk, []byte(v), 200, []int{0})
					}
				}
			}
		}
	}
}

// fuzzSeps are the separators FuzzSkipMaskedTokens puts between tokens.
var fuzzSeps = []string{",", ":", " ", "\t\n", "[", "]", "{", "}", `"k":`, `,"k":`, ""}

// FuzzSkipMaskedTokens: values made of hostile tokens and separators (each
// input byte picks one), pushed by 0 to 63 bytes of whitespace, each
// shift in turn, so that every seam falls at every block position;
// skipMasked agrees with skipBytes.
func FuzzSkipMaskedTokens(f *testing.F) {
	f.Add([]byte{0, 1, 2}, false)
	f.Add([]byte{byte(len(hostileTokens) + 0), 4, 44}, false)
	f.Add([]byte{44, byte(len(hostileTokens) + 9), 15, 3}, true)
	f.Fuzz(func(t *testing.T, picks []byte, obj bool) {
		var body []byte
		for _, c := range picks {
			if k := int(c) % (len(hostileTokens) + len(fuzzSeps)); k < len(hostileTokens) {
				body = append(body, hostileTokens[k]...)
			} else {
				body = append(body, fuzzSeps[k-len(hostileTokens)]...)
			}
		}
		var tk attackState
		for shift := range 64 {
			v := []byte("[")
			if obj {
				v = []byte(`{"k":`)
			}
			v = append(v, strings.Repeat(" ", shift)...)
			v = append(v, body...)
			v = append(v, "]}"[btoi(obj)])
			agreeHostile(t, &tk, v, 200, []int{0})
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
