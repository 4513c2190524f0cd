//go:build goexperiment.simd

package stream

// skipMasked's byte classes with AVX2, 32 bytes a compare: quotes,
// backslashes, brackets (c|0x20 is '{' or '}' for both kinds), colons and
// commas by compares; whitespace by one table lookup on the low nibble
// (VPSHUFB: a byte with its high bit set looks up zero); control bytes by
// their top three bits. The constants stay in registers over the blocks;
// VZEROUPPER before returning to SSE code avoids the transition's false
// dependencies.

import "simd/archsimd"

// spaceTable[c&15] == c (0xff elsewhere, which no looked-up byte is) for ' ', '\t', '\n', '\r' only (per 128-bit lane).
var spaceTable = func() (t [32]uint8) {
	w := [16]uint8{' ', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '\t', '\n', 0xff, 0xff, '\r', 0xff, 0xff}
	copy(t[:], w[:])
	copy(t[16:], w[:])
	return
}()

// maskBatch is how many blocks skipMasked classifies before it checks
// them: the checks are calls, and a call clobbers the vector registers
// (and returning to SSE code wants VZEROUPPER first).
const maskBatch = 4

// skipMasked is skipMaskedWith on the AVX2 classes.
func (t *tokenizer) skipMasked(p []byte, i, room int) (int, bool) {
	if !useSIMD {
		return t.skipMaskedWith(p, i, room, classifySWAR)
	}
	s := &t.mscan
	s.reset(s.stack, room)
	var ms [maskBatch]blockMasks
	var pad [64]byte
	for base := i; base < len(p); base += maskBatch * 64 {
		nb := min(maskBatch, (len(p)-base+63)/64)
		classifyBatch(p[base:], &ms, nb, &pad)
		for k := range nb {
			b := base + k*64
			valid := ^uint64(0)
			if n := len(p) - b; n < 64 {
				valid = 1<<uint(n) - 1
			}
			end, ok := s.block(p, b, ms[k], valid)
			if !ok {
				return 0, false
			}
			if end >= 0 {
				return b + end + 1, true
			}
		}
	}
	return 0, false
}

// classifyBatch sets ms[:nb] to the classes of the blocks of p (the last
// one may be short: its bytes past len(p) are read within cap(p), or from
// pad).
func classifyBatch(p []byte, ms *[maskBatch]blockMasks, nb int, pad *[64]byte) {
	ws := archsimd.LoadUint8x32(&spaceTable)
	q, bs := archsimd.BroadcastUint8x32('"'), archsimd.BroadcastUint8x32('\\')
	colon, comma := archsimd.BroadcastUint8x32(':'), archsimd.BroadcastUint8x32(',')
	lower, curlyO, curlyC := archsimd.BroadcastUint8x32(0x20), archsimd.BroadcastUint8x32('{'), archsimd.BroadcastUint8x32('}')
	hi3 := archsimd.BroadcastUint8x32(0xe0)
	var z archsimd.Uint8x32
	for k := range nb {
		b := p[k*64:]
		if len(b) < 64 && cap(b) < 64 {
			clear(pad[copy(pad[:], b):])
			b = pad[:]
		}
		b = b[:64:64]
		x0 := archsimd.LoadUint8x32((*[32]uint8)(b[0:32]))
		x1 := archsimd.LoadUint8x32((*[32]uint8)(b[32:64]))
		l0, l1 := x0.Or(lower), x1.Or(lower)
		// Field by field: a struct assignment is copied with SSE moves,
		// which stall while the upper halves are dirty.
		m := &ms[k]
		m.quote = uint64(x0.Equal(q).ToBits()) | uint64(x1.Equal(q).ToBits())<<32
		m.backslash = uint64(x0.Equal(bs).ToBits()) | uint64(x1.Equal(bs).ToBits())<<32
		m.ctrl = uint64(x0.And(hi3).Equal(z).ToBits()) | uint64(x1.And(hi3).Equal(z).ToBits())<<32
		m.space = uint64(ws.PermuteOrZeroGrouped(x0.AsInt8x32()).Equal(x0).ToBits()) | uint64(ws.PermuteOrZeroGrouped(x1.AsInt8x32()).Equal(x1).ToBits())<<32
		m.open = uint64(l0.Equal(curlyO).ToBits()) | uint64(l1.Equal(curlyO).ToBits())<<32
		m.close = uint64(l0.Equal(curlyC).ToBits()) | uint64(l1.Equal(curlyC).ToBits())<<32
		m.colon = uint64(x0.Equal(colon).ToBits()) | uint64(x1.Equal(colon).ToBits())<<32
		m.comma = uint64(x0.Equal(comma).ToBits()) | uint64(x1.Equal(comma).ToBits())<<32
	}
	archsimd.ClearAVXUpperBits()
}

// classifySIMD is skipMasked's classes of b[:64] (tests compare it with
// classifySWAR).
func classifySIMD(b []byte) blockMasks {
	var m blockMasks
	ws := archsimd.LoadUint8x32(&spaceTable)
	x0 := archsimd.LoadUint8x32((*[32]uint8)(b[0:32]))
	x1 := archsimd.LoadUint8x32((*[32]uint8)(b[32:64]))
	l0, l1 := x0.Or(archsimd.BroadcastUint8x32(0x20)), x1.Or(archsimd.BroadcastUint8x32(0x20))
	eq := func(c uint8) uint64 {
		v := archsimd.BroadcastUint8x32(c)
		return uint64(x0.Equal(v).ToBits()) | uint64(x1.Equal(v).ToBits())<<32
	}
	leq := func(c uint8) uint64 {
		v := archsimd.BroadcastUint8x32(c)
		return uint64(l0.Equal(v).ToBits()) | uint64(l1.Equal(v).ToBits())<<32
	}
	var z archsimd.Uint8x32
	hi3 := archsimd.BroadcastUint8x32(0xe0)
	m.quote, m.backslash, m.colon, m.comma = eq('"'), eq('\\'), eq(':'), eq(',')
	m.open, m.close = leq('{'), leq('}')
	m.ctrl = uint64(x0.And(hi3).Equal(z).ToBits()) | uint64(x1.And(hi3).Equal(z).ToBits())<<32
	m.space = uint64(ws.PermuteOrZeroGrouped(x0.AsInt8x32()).Equal(x0).ToBits()) | uint64(ws.PermuteOrZeroGrouped(x1.AsInt8x32()).Equal(x1).ToBits())<<32
	archsimd.ClearAVXUpperBits()
	return m
}
