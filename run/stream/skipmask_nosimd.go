//go:build !goexperiment.simd

package stream

// skipMasked without SIMD: the portable classes (tests only; parseLine
// uses skipValue when the CPU or the build has no SIMD).
func (t *tokenizer) skipMasked(p []byte, i, room int) (int, bool) {
	return t.skipMaskedWith(p, i, room, classifySWAR)
}

func classifySIMD(b []byte) blockMasks { return classifySWAR(b) }

// classifyBatch is the AVX2 batch's contract on the portable classes: the
// last block's bytes past len(p) are read within cap(p), or from pad.
func classifyBatch(p []byte, ms *[maskBatch]blockMasks, nb int, pad *[64]byte) {
	for k := range nb {
		b := p[k*64:]
		if cap(b) < 64 {
			clear(pad[copy(pad[:], b):])
			b = pad[:]
		}
		ms[k] = classifySWAR(b[:64])
	}
}
