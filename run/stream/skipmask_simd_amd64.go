//go:build goexperiment.simd

package stream

// skipMasked on AVX2 (when useSIMD: the CPU has it): the byte classes of
// four blocks at a time by classifyAVX2 (skipmask_amd64.s), then the
// checks on them. The tables are the assembly's.

// spaceTable[c&15] == c for ' ', '\t', '\n', '\r' only, per 128-bit lane
// (0xff elsewhere: VPSHUFB looks up 0 for a byte with its high bit set).
var spaceTable = func() (t [32]uint8) {
	w := [16]uint8{' ', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '\t', '\n', 0xff, 0xff, '\r', 0xff, 0xff}
	copy(t[:], w[:])
	copy(t[16:], w[:])
	return
}()

// skipMasked is skipMaskedWith on the AVX2 classes.
func (t *tokenizer) skipMasked(p []byte, i, room int) (int, bool) {
	if !useSIMD {
		return t.skipMaskedWith(p, i, room, classifySWAR)
	}
	s := &t.mscan
	s.reset(s.stack, room)
	var ms [maskBatch]blockMasks
	var pad [64]byte
	// One block first: most nested values end in it (a payload goes on).
	for base, batch := i, 1; base < len(p); base, batch = base+batch*64, maskBatch {
		nb := min(batch, (len(p)-base+63)/64)
		classifyBatch(p[base:], &ms, nb, &pad)
		for k := range nb {
			b := base + k*64
			valid := ^uint64(0)
			if n := len(p) - b; n < 64 {
				valid = 1<<uint(n) - 1
			}
			end, ok := s.block(p, b, &ms[k], valid)
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

// escTable[c&15] == c for the bytes an escape may name ("/\\fntu; 0xff
// elsewhere), but 'b' and 'r', which share '"'s low nibble: they are
// compared. No shifts: a VPSRLW by a count in a register costs a legacy
// MOVQ, which stalls while the upper halves are dirty.
var escTable = func() (t [32]uint8) {
	var w [16]uint8
	for i := range w {
		w[i] = 0xff
	}
	for _, c := range []byte(`"/\\fntu`) {
		w[c&15] = c
	}
	copy(t[:], w[:])
	copy(t[16:], w[:])
	return
}()

// classifyAVX2 sets ms[0:nb] to the classes of the nb blocks at b, which
// must all be readable (skipmask_amd64.s).
//
//go:noescape
func classifyAVX2(b *byte, nb int, ms *blockMasks)

// classifyBatch sets ms[:nb] to the classes of the blocks of p (the last
// one may be short: its bytes past len(p) are read within cap(p), or from
// pad). A test keeps blockMasks' layout in step with the assembly.
func classifyBatch(p []byte, ms *[maskBatch]blockMasks, nb int, pad *[64]byte) {
	full := nb
	if cap(p) < nb*64 {
		full--
	}
	if full > 0 {
		classifyAVX2(&p[0], full, &ms[0])
	}
	if full < nb {
		clear(pad[copy(pad[:], p[full*64:]):])
		classifyAVX2(&pad[0], 1, &ms[full])
	}
}

// classifySIMD is classifyBatch's classes of b[:64] (tests compare them
// with classifySWAR's).
func classifySIMD(b []byte) blockMasks {
	var ms [maskBatch]blockMasks
	var pad [64]byte
	classifyBatch(b[:64:64], &ms, 1, &pad)
	return ms[0]
}
