package stream

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkStringStop: the bulk string scan alone over string bodies of
// several lengths, on the path in use (TestMain runs it on SWAR too).
func BenchmarkStringStop(b *testing.B) {
	for _, n := range []int{12, 40, 400, 64 << 10} {
		p := []byte(strings.Repeat("abcdéfgh", n/8+1)[:n] + `"`)
		b.Run(fmt.Sprintf("%s/%d", simdName(), n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for range b.N {
				if strStop(p, 0) != n {
					b.Fatal("wrong stop")
				}
			}
		})
	}
}
