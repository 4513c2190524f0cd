//go:build goexperiment.simd

package stream

// strStop with AVX-512 (64 bytes a step) or AVX2 (32), chosen at start by
// CPU feature detection. Built only with GOEXPERIMENT=simd (the Makefile
// sets it); without it, scanstr_nosimd.go keeps the SWAR path.

import (
	"math/bits"
	"simd/archsimd"
)

// useSIMD: the CPU has AVX2 or AVX-512 (tests turn it off to run the
// SWAR path on every input too).
var (
	useSIMD = archsimd.X86.AVX2()
	use512  = archsimd.X86.AVX512()
)

// simdMin: shorter tails are left to SWAR.
const simdMin = 64

const haveSIMD = true

func stopSIMD(p []byte, i int) int {
	// Every return clears the upper halves first: the Go code it returns
	// to uses SSE moves, which stall while they are dirty.
	if use512 {
		q, b, c := archsimd.BroadcastUint8x64('"'), archsimd.BroadcastUint8x64('\\'), archsimd.BroadcastUint8x64(0x20)
		for ; i+64 <= len(p); i += 64 {
			x := archsimd.LoadUint8x64Slice(p[i : i+64])
			if m := x.Equal(q).Or(x.Equal(b)).Or(x.Less(c)).ToBits(); m != 0 {
				archsimd.ClearAVXUpperBits()
				return i + bits.TrailingZeros64(m)
			}
		}
	}
	q, b, c := archsimd.BroadcastUint8x32('"'), archsimd.BroadcastUint8x32('\\'), archsimd.BroadcastUint8x32(0x20)
	for ; i+32 <= len(p); i += 32 {
		x := archsimd.LoadUint8x32Slice(p[i : i+32])
		if m := x.Equal(q).Or(x.Equal(b)).Or(x.Less(c)).ToBits(); m != 0 {
			archsimd.ClearAVXUpperBits()
			return i + bits.TrailingZeros32(m)
		}
	}
	archsimd.ClearAVXUpperBits()
	return stopSWAR(p, i)
}

// simdName names the path in use (benchmarks, tests).
func simdName() string {
	switch {
	case !useSIMD:
		return "swar"
	case use512:
		return "avx512"
	}
	return "avx2"
}
