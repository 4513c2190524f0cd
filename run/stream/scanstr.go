package stream

// This file is the one string scanner both grammars use (the resumable
// feed and the in-memory parseLine), as encoding/json v2's jsonwire has
// one: strStop finds the end of a run of plain string content in bulk
// (SIMD where the CPU has it, SWAR eight bytes at a time otherwise),
// escape checks one escape, skipString and shortString are the fast
// path's whole-string consumers built on them.

import (
	"encoding/binary"
	"math/bits"
)

// Bulk string scan constants.
const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// stopByte marks the bytes that end a run of plain string content.
var stopByte = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// stopMask has the high bit set in each byte of x (little-endian) that is
// '"', '\\' or a control byte; the lowest set bit marks the first such byte.
func stopMask(x uint64) uint64 {
	q := x ^ (0x22 * lo8)
	b := x ^ (0x5c * lo8)
	return (((q - lo8) &^ q) | ((b - lo8) &^ b) | ((x - 0x20*lo8) &^ x)) & hi8
}

// strStop returns the index of the first '"', '\\' or control byte in
// p[i:], or len(p).
func strStop(p []byte, i int) int {
	if useSIMD && len(p)-i >= simdMin {
		// Most strings are short: two SWAR words first, then blocks.
		for k := 0; k < 2; k, i = k+1, i+8 {
			if m := stopMask(binary.LittleEndian.Uint64(p[i:])); m != 0 {
				return i + bits.TrailingZeros64(m)>>3
			}
		}
		return stopSIMD(p, i)
	}
	return stopSWAR(p, i)
}

// stopSWAR is strStop eight bytes at a time (the portable path).
func stopSWAR(p []byte, i int) int {
	for ; i+8 <= len(p); i += 8 {
		if m := stopMask(binary.LittleEndian.Uint64(p[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(p); i++ {
		if stopByte[p[i]] {
			return i
		}
	}
	return len(p)
}

// escape checks the escape whose backslash is p[j] (p starts at line
// offset base). It returns its length, or 0 if p ends inside it.
func (t *tokenizer) escape(p []byte, j int, base int64) (int, error) {
	if j+1 >= len(p) {
		return 0, nil
	}
	switch p[j+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		for k := j + 2; k < j+6; k++ {
			if k >= len(p) {
				return 0, nil
			}
			if c := p[k]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return 0, t.errAt(base+int64(k), "invalid hex digit %q in \\u escape", c)
			}
		}
		return 6, nil
	}
	return 0, t.errAt(base+int64(j+1), "invalid escape %q", p[j+1])
}

// shortString is the common case of skipString, small enough to inline
// (the call cost more than the scan): it reports the closing quote when it
// is among the first eight bytes of the body at p[i] with nothing to
// check before it; otherwise it returns where skipString is to go on from
// (the bytes before it are plain).
func shortString(p []byte, i int) (int, bool) {
	if len(p)-i < 8 {
		return i, false
	}
	m := stopMask(binary.LittleEndian.Uint64(p[i:]))
	j := i + bits.TrailingZeros64(m)>>3
	return j, m != 0 && p[j] == '"'
}

// skipString returns the index of the closing quote of the string whose
// body goes on at p[i] (a whole line: its end is a truncation).
func (t *tokenizer) skipString(p []byte, i int) (int, error) {
	for {
		j := strStop(p, i)
		if j >= len(p) {
			return 0, t.truncated(len(p))
		}
		switch c := p[j]; {
		case c == '"':
			return j, nil
		case c == '\\':
			n, err := t.escape(p, j, 0)
			if err != nil {
				return 0, err
			}
			if n == 0 {
				return 0, t.truncated(len(p))
			}
			i = j + n
		default:
			return 0, t.errAt(int64(j), "control character 0x%02x in string", c)
		}
	}
}
