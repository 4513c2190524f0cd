//go:build !goexperiment.simd

package stream

// skipMasked without SIMD: the portable classes (tests only; parseLine
// uses skipValue when the CPU or the build has no SIMD).
func (t *tokenizer) skipMasked(p []byte, i, room int) (int, bool) {
	return t.skipMaskedWith(p, i, room, classifySWAR)
}

func classifySIMD(b []byte) blockMasks { return classifySWAR(b) }
