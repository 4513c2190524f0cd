//go:build !goexperiment.simd || !amd64

package stream

// Without GOEXPERIMENT=simd (or off amd64) strStop is SWAR only.

var (
	useSIMD = false
	use512  = false
)

const (
	simdMin  = 64
	haveSIMD = false
)

func stopSIMD(p []byte, i int) int { return stopSWAR(p, i) }

func simdName() string { return "swar" }
