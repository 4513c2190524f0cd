package stream

// This file validates a JSON object or array held in memory a block of 64
// bytes at a time, from bitmasks of its byte classes (SIMD in
// skipmask_simd_amd64.go, one byte at a time in classifySWAR), in the
// manner of simdjson's stage 1: the escaped bytes and the bytes inside
// strings follow from the quote and backslash masks, with carries from
// block to block. Unlike simdjson's stage 2, it never walks the tokens one
// by one. The grammar is checked on whole blocks: JSON is valid if every
// token is one that may follow the token before it, and, once the
// brackets are matched and each byte knows whether its innermost
// container is an object or an array, what may follow a token depends on
// its class alone:
//
//	':' and ',' in an array       a value
//	'['                           a value or a close
//	'{'                           a key (a string) or a close
//	',' in an object              a key
//	a key (string after '{' or ','  in an object)   ':'
//	a value's end                 ',' or a close
//
// "The next token after each token of a class" is one addition per class:
// adding the bit after each token to the whitespace mask carries it over
// the whitespace that follows. Per block, only brackets (to match them and
// to know the context), scalars (numbers and literals, checked by
// skipNumber) and escapes are looked at one by one; a record has few of
// those next to its strings, keys, colons and commas.
//
// It only says valid or not: on false, parseLine parses the line again the
// byte-by-byte way, whose errors and offsets are the ones users see. A
// differential test and a fuzz test hold it to skipValue and
// encoding/json.

import "math/bits"

// blockMasks are one 64-byte block's byte classes, bit i for byte i,
// wherever the bytes are (inside strings or not).
type blockMasks struct {
	quote, backslash uint64
	ctrl             uint64 // bytes below 0x20
	space            uint64 // ' ', '\t', '\n', '\r'
	open, close      uint64 // '{' or '[';  '}' or ']'
	colon, comma     uint64
}

// classifySWAR is the classes of b[:64] a byte at a time: the portable
// path's classifier and the reference the SIMD one is tested against.
func classifySWAR(b []byte) blockMasks {
	var m blockMasks
	for i, c := range b[:64] {
		bit := uint64(1) << uint(i)
		switch c {
		case '"':
			m.quote |= bit
		case '\\':
			m.backslash |= bit
		case '{', '[':
			m.open |= bit
		case '}', ']':
			m.close |= bit
		case ':':
			m.colon |= bit
		case ',':
			m.comma |= bit
		case ' ', '\t', '\n', '\r':
			m.space |= bit
		}
		if c < 0x20 {
			m.ctrl |= bit
		}
	}
	return m
}

// prefixXor sets bit i to the parity of bits 0..i of x: with x the
// unescaped quotes, the bytes inside strings (opening quote included).
func prefixXor(x uint64) uint64 {
	x ^= x << 1
	x ^= x << 2
	x ^= x << 4
	x ^= x << 8
	x ^= x << 16
	x ^= x << 32
	return x
}

// escapedBits returns the bytes escaped by a backslash (simdjson's
// find_escaped): a run of backslashes escapes every second byte after its
// start. carry is 1 if the block's first byte is escaped by the previous
// block's last backslash, and is set for the next block.
func escapedBits(backslash uint64, carry *uint64) uint64 {
	const even = 0x5555555555555555
	backslash &^= *carry
	follows := backslash<<1 | *carry
	oddStarts := backslash &^ even &^ follows
	sum, c := bits.Add64(oddStarts, backslash, 0)
	*carry = c
	invert := sum << 1
	return (even ^ invert) & follows
}

// follow returns the first byte that is not whitespace after each byte
// of f (f holds the bytes just after tokens; ws the whitespace outside
// strings). pend is 1 if the previous block's follow carried into this
// block's first byte; it is set for the next block.
func follow(f, ws uint64, pend *uint64) uint64 {
	s, c := bits.Add64(f|*pend, ws, 0)
	*pend = c
	return s &^ ws
}

// delim marks the bytes that may end a number or literal.
var delim = func() (t [256]bool) {
	for _, c := range []byte(" \t\r\n,:]}[{\"") {
		t[c] = true
	}
	return t
}()

// maskScan carries a validation from block to block.
type maskScan struct {
	esc, inStr, scal uint64 // first byte escaped; in a string at the end (all ones); last byte part of a scalar
	obj              bool   // the innermost open container is an object
	depth, room      int
	stack            []uint64 // bit d: the container at depth d is an object
	// Per class of token, the carry of its follow (see follow), and the
	// carry of the key strings' closing-quote addition.
	pValue, pArr, pObj, pKey, pColon, pAfter, kc uint64
}

func (s *maskScan) reset(stack []uint64, room int) {
	*s = maskScan{stack: stack[:0], room: room}
}

// block checks the 64 bytes of p at base, of classes m, of which valid
// are p's. It returns the offset in the block of the container's closing
// bracket (-1 if it is not in this block) and false if the bytes are not
// valid JSON.
func (s *maskScan) block(p []byte, base int, m blockMasks, valid uint64) (int, bool) {
	var escaped uint64
	if bs := m.backslash & valid; bs|s.esc != 0 {
		escaped = escapedBits(bs, &s.esc)
	}
	quote := m.quote & valid &^ escaped
	str := prefixXor(quote) ^ s.inStr
	s.inStr = uint64(int64(str) >> 63)

	// Brackets, in order: matching, depth, and the context of each byte.
	end := -1
	lim := valid
	ctx := uint64(0)
	if s.obj {
		ctx = ^uint64(0)
	}
	for br := (m.open | m.close) & valid &^ str; br != 0; br &= br - 1 {
		i := bits.TrailingZeros64(br)
		c := p[base+i]
		d := s.depth
		var obj bool
		if c == '{' || c == '[' {
			if d >= s.room {
				return -1, false
			}
			if w := d >> 6; w == len(s.stack) {
				s.stack = append(s.stack, 0)
			}
			obj = c == '{'
			if obj {
				s.stack[d>>6] |= 1 << (d & 63)
			} else {
				s.stack[d>>6] &^= 1 << (d & 63)
			}
			s.depth = d + 1
		} else {
			if d == 0 || (c == '}') != (s.stack[(d-1)>>6]>>((d-1)&63)&1 != 0) {
				return -1, false
			}
			s.depth = d - 1
			if d == 1 {
				end = i
				lim &= 2<<uint(i) - 1
				break
			}
			obj = s.stack[(d-2)>>6]>>((d-2)&63)&1 != 0
		}
		if obj != s.obj {
			ctx ^= ^uint64(0) << uint(i+1)
			s.obj = obj
		}
	}

	if m.ctrl&lim&(str|^m.space) != 0 {
		return -1, false // a control byte in a string, or one that is not whitespace
	}
	if e := escaped & lim; e != 0 && !validEscapes(p, base, e) {
		return -1, false
	}
	str &= lim
	ws := m.space & lim &^ str
	colon := m.colon & lim &^ str
	comma := m.comma & lim &^ str
	open := m.open & lim &^ str
	closing := m.close & lim &^ str
	openQ := quote & lim & str
	closeQ := quote & lim &^ str
	scal := lim &^ (colon | comma | open | closing | ws | quote | str)
	starts := scal &^ (scal<<1 | s.scal)
	after := ^scal & (scal<<1 | s.scal) & lim // the byte after each scalar
	s.scal = scal >> 63
	for st := starts; st != 0; st &= st - 1 {
		if !validScalar(p, base+bits.TrailingZeros64(st)) {
			return -1, false
		}
	}

	// The context just after each byte: an open bracket's is its own kind.
	ctxAfter := ctx>>1 | uint64(0)
	if s.obj {
		ctxAfter |= 1 << 63
	}
	openObj := open & ctxAfter
	openArr := open &^ openObj
	values := openQ | starts | open

	bad := follow((colon|comma&^ctx)<<1, ws, &s.pValue) &^ values
	s.pValue |= (colon | comma&^ctx) >> 63
	bad |= follow(openArr<<1, ws, &s.pArr) &^ (values | closing)
	s.pArr |= openArr >> 63
	afterObj := follow(openObj<<1, ws, &s.pObj)
	s.pObj |= openObj >> 63
	afterComma := follow((comma&ctx)<<1, ws, &s.pKey)
	s.pKey |= (comma & ctx) >> 63
	bad |= afterObj&^(openQ|closing) | afterComma&^openQ

	// Keys: the strings that open after '{' or an object's ','; the
	// addition carries each key's opening quote to its closing one.
	keyOpen := (afterObj | afterComma) & openQ
	sum, c := bits.Add64(keyOpen, str, s.kc)
	s.kc = c
	keyClose := sum &^ str & closeQ
	bad |= follow(keyClose<<1, ws, &s.pColon) &^ colon
	s.pColon |= keyClose >> 63

	ends := closeQ&^keyClose | closing
	if end >= 0 {
		ends &^= 1 << uint(end) // what follows the container is the caller's
	}
	bad |= follow(ends<<1|after, ws, &s.pAfter) &^ (comma | closing)
	s.pAfter |= ends >> 63
	return end, bad == 0
}

// validScalar checks the number or literal at p[i] and that a delimiter
// follows it (the masks end a scalar at the first delimiter).
func validScalar(p []byte, i int) bool {
	var j int
	switch p[i] {
	case 't':
		if len(p)-i < 4 || string(p[i:i+4]) != "true" {
			return false
		}
		j = i + 4
	case 'f':
		if len(p)-i < 5 || string(p[i:i+5]) != "false" {
			return false
		}
		j = i + 5
	case 'n':
		if len(p)-i < 4 || string(p[i:i+4]) != "null" {
			return false
		}
		j = i + 4
	default:
		var ok bool
		if j, ok = numberEnd(p, i); !ok {
			return false
		}
	}
	return j < len(p) && delim[p[j]]
}

// numberEnd returns the end of the JSON number at p[i], false if there is
// none there.
func numberEnd(p []byte, i int) (int, bool) {
	n := len(p)
	j := i
	if j < n && p[j] == '-' {
		j++
	}
	switch {
	case j >= n:
		return 0, false
	case p[j] == '0':
		j++
	case '1' <= p[j] && p[j] <= '9':
		for j++; j < n && '0' <= p[j] && p[j] <= '9'; j++ {
		}
	default:
		return 0, false
	}
	if j < n && p[j] == '.' {
		j++
		k := j
		for ; j < n && '0' <= p[j] && p[j] <= '9'; j++ {
		}
		if j == k {
			return 0, false
		}
	}
	if j < n && (p[j] == 'e' || p[j] == 'E') {
		j++
		if j < n && (p[j] == '+' || p[j] == '-') {
			j++
		}
		k := j
		for ; j < n && '0' <= p[j] && p[j] <= '9'; j++ {
		}
		if j == k {
			return 0, false
		}
	}
	return j, true
}

// validEscapes checks each escaped byte of the block at base: one of
// "\/bfnrtu, and a 'u' followed by four hex digits.
func validEscapes(p []byte, base int, escaped uint64) bool {
	for ; escaped != 0; escaped &= escaped - 1 {
		e := base + bits.TrailingZeros64(escaped)
		switch p[e] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if len(p)-e < 5 {
				return false
			}
			for _, c := range p[e+1 : e+5] {
				if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

// skipMaskedWith validates the object or array at p[i] (nesting at most
// room deep) with the classifier classify, and returns the index after
// it; false if it is not valid JSON.
func (t *tokenizer) skipMaskedWith(p []byte, i, room int, classify func([]byte) blockMasks) (int, bool) {
	s := &t.mscan
	s.reset(s.stack, room)
	var pad [64]byte
	for base := i; base < len(p); base += 64 {
		b := p[base:]
		valid := ^uint64(0)
		if len(b) < 64 {
			valid = 1<<uint(len(b)) - 1
			clear(pad[copy(pad[:], b):])
			b = pad[:]
		}
		end, ok := s.block(p, base, classify(b), valid)
		if !ok {
			return 0, false
		}
		if end >= 0 {
			return base + end + 1, true
		}
	}
	return 0, false
}
