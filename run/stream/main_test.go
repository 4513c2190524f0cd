package stream

import (
	"fmt"
	"os"
	"testing"
)

// swarPass is set while the tests run a second time on the SWAR path.
var swarPass bool

// TestMain runs every test on the path the CPU selects (SIMD where it has
// it) and then, if that was SIMD, again on the portable SWAR path, so that
// both see every input the tests use. The child-process memory tests run
// once: they measure memory, which the path does not change.
func TestMain(m *testing.M) {
	if os.Getenv("SYNCBOX_STREAM_SWAR") == "1" {
		useSIMD, use512 = false, false // benchmarks of the SWAR path alone
	}
	// SYNCBOX_STREAM_ONEPASS=1: the selected path only (profiles, benchmarks).
	code := m.Run()
	if useSIMD && code == 0 && os.Getenv(helperEnv) == "" && os.Getenv("SYNCBOX_STREAM_ONEPASS") != "1" {
		fmt.Fprintf(os.Stderr, "stream: tests again on the SWAR path (first pass: %s)\n", simdName())
		useSIMD, use512, swarPass = false, false, true
		code = m.Run()
	}
	os.Exit(code)
}

// The SIMD and SWAR string scans agree at every offset and length, with a
// stop byte at every position of a 64- and 32-byte block.
func TestStringScanPathsAgree(t *testing.T) {
	if !haveSIMD {
		t.Skip("built without GOEXPERIMENT=simd")
	}
	buf := make([]byte, 300)
	for stopAt := -1; stopAt < len(buf); stopAt++ {
		for _, stop := range []byte{'"', '\\', 0x00, 0x1f, 0x0a} {
			for k := range buf {
				buf[k] = byte('a' + k%26)
				if k%7 == 0 {
					buf[k] = 0xc3 // non-ASCII never stops a string
				}
				if k%11 == 0 {
					buf[k] = 0x20
				}
			}
			if stopAt >= 0 {
				buf[stopAt] = stop
			}
			for i := 0; i < 70; i++ {
				if got, want := stopSIMD(buf, i), stopSWAR(buf, i); got != want {
					t.Fatalf("stop %q at %d, from %d: simd %d swar %d", stop, stopAt, i, got, want)
				}
			}
		}
	}
}
