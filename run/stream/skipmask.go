package stream

// This file validates a JSON object or array held in memory a block of 64
// bytes at a time, from bitmasks of its byte classes (AVX2 in
// skipmask_amd64.s, one byte at a time in classifySWAR), in the manner of
// simdjson's stage 1: the escaped bytes and the bytes inside strings follow
// from the quote and backslash masks, with carries from block to block.
// Unlike simdjson's stage 2, it never walks the tokens one by one. The
// grammar is checked on whole blocks: JSON is valid if every token is one
// that may follow the token before it, and, once the brackets are matched
// and each byte knows whether its innermost container is an object or an
// array, what may follow a token depends on its class alone:
//
//	':', and ',' in an array           a value
//	'['                                a value or a close
//	'{'                                a key (a string) or a close
//	',' in an object                   a key
//	a key (a string after '{' or ',')  ':'
//	a value's end                      ',' or a close
//
// "The next token after each token of a class" is one addition per class:
// adding the bit after each token to the whitespace mask carries it over
// the whitespace that follows. Numbers of the common shape and escapes are
// checked on masks too. Only brackets (to match them and know the context),
// literals, and the numbers of a block that holds an exponent are looked at
// one by one; a record has few of those next to its strings, keys, colons
// and commas.
//
// It only says valid or not: on false, parseLine parses the line again the
// byte-by-byte way, whose errors and offsets are the ones users see. The
// tests hold it to skipBytes (at every block position, exhaustively for
// short strings across a block boundary, and by fuzzing) and to
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
	digit, zero      uint64 // '0' to '9'; '0'
	minus, dot       uint64
	// Only where the block has a backslash (else unset): the bytes an escape
	// may name ("\/bfnrtu), hex digits, 'u'.
	escapable, hex, u uint64
}

// maskBatch is how many blocks skipMasked classifies per call.
const maskBatch = 4

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
		case '-':
			m.minus |= bit
		case '.':
			m.dot |= bit
		}
		if c < 0x20 {
			m.ctrl |= bit
		}
		if '0' <= c && c <= '9' {
			m.digit |= bit
			if c == '0' {
				m.zero |= bit
			}
		}
	}
	if m.backslash != 0 {
		for i, c := range b[:64] {
			bit := uint64(1) << uint(i)
			switch c {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't', 'u':
				m.escapable |= bit
			}
			if '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
				m.hex |= bit
			}
			if c == 'u' {
				m.u |= bit
			}
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
	obj              uint64 // 1: the innermost open container is an object
	depth, room      int
	top              uint64   // bit d: the container at depth d < 64 is an object
	stack            []uint64 // the same for depths of 64 and more (word 0 unused)
	// Per class of token, the carry of its follow (see follow), and the
	// carry of the key strings' closing-quote addition.
	pValue, pArr, pObj, pKey, pColon, pAfter, kc uint64
	// Numbers: the carry of the number-run addition, and the first byte
	// of the next block must be a digit (after '-' or '.'), must not be
	// one (after a leading 0), follows a digit; the fraction carry.
	nRun, nMinus, nZero, nDot, nDigit, nFrac uint64
	numAt                                    int    // where the number that goes on into the next block starts
	numChecked                               bool   // and numberEnd checked it whole
	hexNeed                                  uint64 // the next block's first bytes that must be hex digits (\uXXXX)
}

func (s *maskScan) reset(stack []uint64, room int) {
	if w := room>>6 + 1; cap(stack) < w {
		stack = make([]uint64, w)
	}
	*s = maskScan{stack: stack[:cap(stack)], room: room}
}

// block checks the 64 bytes of p at base, of classes m, of which valid
// are p's. It returns the offset in the block of the container's closing
// bracket (-1 if it is not in this block) and false if the bytes are not
// valid JSON.
func (s *maskScan) block(p []byte, base int, m *blockMasks, valid uint64) (int, bool) {
	var escaped uint64
	if bs := m.backslash & valid; bs|s.esc != 0 {
		escaped = escapedBits(bs, &s.esc)
	}
	quote := m.quote & valid &^ escaped
	str := prefixXor(quote) ^ s.inStr
	s.inStr = uint64(int64(str) >> 63)

	// Brackets, in order: matching, depth, and the context of each byte
	// (ctx: 1 where the innermost container is an object). Without a
	// branch on the kind: an open bracket has bit 1 set, a curly one bit 5.
	end := -1
	lim := valid
	cur := s.obj
	ctx := -cur
	var bad uint64
	// The kinds of the 64 outer containers stay in a register (top); the
	// memory stack holds deeper ones.
	top, d, room := s.top, s.depth, s.room
	for br := (m.open | m.close) & valid &^ str; br != 0; br &= br - 1 {
		i := bits.TrailingZeros64(br)
		c := p[base+i]
		o, k := int(c>>1&1), uint64(c>>5&1)
		at := d - 1 + o // an open bracket's depth, or the one a close closes
		if uint(at) >= uint(room) {
			return -1, false
		}
		if at < 64 {
			sh := uint(at)
			bad |= (top>>sh&1 ^ k) &^ uint64(o) // a close of the other kind
			top = top&^(uint64(o)<<sh) | k&uint64(o)<<sh
		} else {
			w, sh := &s.stack[at>>6], uint(at&63)
			bad |= (*w>>sh&1 ^ k) &^ uint64(o)
			*w = *w&^(uint64(o)<<sh) | k&uint64(o)<<sh
		}
		d += 2*o - 1
		if d == 0 {
			end = i
			lim &= 2<<uint(i) - 1
			break
		}
		var obj uint64
		if d <= 64 {
			obj = top >> uint(d-1) & 1
		} else {
			obj = s.stack[(d-1)>>6] >> uint((d-1)&63) & 1
		}
		ctx ^= -(obj ^ cur) & (^uint64(0) << uint(i+1))
		cur = obj
	}
	s.top, s.depth = top, d
	s.obj = cur

	if m.ctrl&lim&(str|^m.space) != 0 {
		return -1, false // a control byte in a string, or one that is not whitespace
	}
	if escaped|s.hexNeed != 0 {
		if m.backslash == 0 {
			escapeClasses(p[base:], m)
		}
		e := escaped & lim
		u := e & m.u
		need := u<<1 | u<<2 | u<<3 | u<<4 | s.hexNeed
		bad |= e&^m.escapable | need&lim&^m.hex
		t := u >> 60
		s.hexNeed = t | t>>1 | t>>2 | t>>3
	}
	str &= lim
	out := lim &^ str // the bytes outside strings
	ws := m.space & out
	colon := m.colon & out
	comma := m.comma & out
	open := m.open & out
	closing := m.close & out
	openQ := quote & str
	closeQ := quote & out
	scal := out &^ (m.colon | m.comma | m.open | m.close | m.space | m.quote)
	starts := scal &^ (scal<<1 | s.scal)
	after := ^scal & (scal<<1 | s.scal) & lim // the byte after each scalar
	s.scal = scal >> 63

	// Numbers, by masks where they are -?(0|[1-9][0-9]*)(.[0-9]+)?; a
	// block with another byte in a number (an exponent) checks each of
	// its numbers by numberEnd. Literals by a word compare each.
	digit := m.digit
	numStart := starts & (digit | m.minus)
	sum, c := bits.Add64(scal, numStart, s.nRun)
	nrun := (sum ^ scal) & scal
	contd, contdAt := s.nRun&scal&1 != 0, s.numAt // a number from the previous block goes on
	s.nRun = c
	if c != 0 && numStart != 0 {
		s.numAt = base + 63 - bits.LeadingZeros64(numStart)
	}
	minusStart := numStart & m.minus
	first := minusStart<<1 | s.nMinus // the byte after a leading '-'
	lz := (numStart&digit | first) & m.zero
	dots := m.dot & nrun
	fracStart := dots<<1 | s.nDot
	sum, c = bits.Add64(fracStart&digit, digit, s.nFrac)
	numBad := first&^digit | m.minus&nrun&^numStart | (lz<<1|s.nZero)&digit |
		dots&^(digit<<1|s.nDigit) | fracStart&^digit | sum&^digit&m.dot
	s.nMinus, s.nZero, s.nDot, s.nDigit, s.nFrac = minusStart>>63, lz>>63, dots>>63, digit>>63, c
	checked := contd && s.numChecked
	s.numChecked = false
	if nrun&^(digit|m.minus|m.dot) == 0 {
		if checked {
			numBad &^= scal ^ (scal + 1) // the number numberEnd checked goes on here
		}
		bad |= numBad
	} else {
		if contd && !checked && !validScalar(p, contdAt) {
			return -1, false
		}
		// A number that ended at the previous block's last byte ('-' or
		// '.') left its check to this block's first: numberEnd only sees
		// the numbers that are in this block.
		if !contd && numBad&1 != 0 {
			return -1, false
		}
		for st := numStart; st != 0; st &= st - 1 {
			if !validScalar(p, base+bits.TrailingZeros64(st)) {
				return -1, false
			}
		}
		s.numChecked = s.nRun != 0
	}
	for st := starts &^ numStart; st != 0; st &= st - 1 {
		i := bits.TrailingZeros64(st)
		if !literalAt(p, base+i, after>>uint(i)) {
			return -1, false
		}
	}

	// The context just after each byte: an open bracket's is its own kind.
	ctxAfter := ctx>>1 | cur<<63
	openObj := open & ctxAfter
	openArr := open &^ openObj
	values := openQ | starts | open

	// The follows, on local copies of the carries (kept in registers).
	pv, pa, po, pk, pc, pf, kc := s.pValue, s.pArr, s.pObj, s.pKey, s.pColon, s.pAfter, s.kc
	g := colon | comma&^ctx
	bad |= follow(g<<1, ws, &pv) &^ values
	pv |= g >> 63
	bad |= follow(openArr<<1, ws, &pa) &^ (values | closing)
	pa |= openArr >> 63
	afterObj := follow(openObj<<1, ws, &po)
	po |= openObj >> 63
	g = comma & ctx
	afterComma := follow(g<<1, ws, &pk)
	pk |= g >> 63
	bad |= afterObj&^(openQ|closing) | afterComma&^openQ

	// Keys: the strings that open after '{' or an object's ','; the
	// addition carries each key's opening quote to its closing one.
	keyOpen := (afterObj | afterComma) & openQ
	sum, kc = bits.Add64(keyOpen, str, kc)
	keyClose := sum &^ str & closeQ
	bad |= follow(keyClose<<1, ws, &pc) &^ colon
	pc |= keyClose >> 63

	ends := closeQ&^keyClose | closing
	if end >= 0 {
		ends &^= 1 << uint(end) // what follows the container is the caller's
	}
	bad |= follow(ends<<1|after, ws, &pf) &^ (comma | closing)
	pf |= ends >> 63
	s.pValue, s.pArr, s.pObj, s.pKey, s.pColon, s.pAfter, s.kc = pv, pa, po, pk, pc, pf, kc
	return end, bad == 0
}

// literalAt checks the literal at p[i] whose run of scalar bytes ends at
// the first set bit of after (after has bit 0 for p[i]).
func literalAt(p []byte, i int, after uint64) bool {
	if after == 0 {
		return validScalar(p, i) // it goes on past the block
	}
	switch bits.TrailingZeros64(after) {
	case 4:
		w := uint32(p[i]) | uint32(p[i+1])<<8 | uint32(p[i+2])<<16 | uint32(p[i+3])<<24
		return w == 'e'<<24|'u'<<16|'r'<<8|'t' || w == 'l'<<24|'l'<<16|'u'<<8|'n'
	case 5:
		w := uint64(p[i]) | uint64(p[i+1])<<8 | uint64(p[i+2])<<16 | uint64(p[i+3])<<24 | uint64(p[i+4])<<32
		return w == 'e'<<32|'s'<<24|'l'<<16|'a'<<8|'f'
	}
	return false
}

// escapeClasses sets m's escape classes for a block without backslashes
// (classifyBatch leaves them unset) whose first bytes an escape in the
// previous block names.
func escapeClasses(b []byte, m *blockMasks) {
	var esc, hex, u uint64
	for i, c := range b[:min(len(b), 5)] {
		bit := uint64(1) << uint(i)
		switch c {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't', 'u':
			esc |= bit
		}
		if '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
			hex |= bit
		}
		if c == 'u' {
			u |= bit
		}
	}
	m.escapable, m.hex, m.u = esc, hex, u
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
		m := classify(b)
		end, ok := s.block(p, base, &m, valid)
		if !ok {
			return 0, false
		}
		if end >= 0 {
			return base + end + 1, true
		}
	}
	return 0, false
}
