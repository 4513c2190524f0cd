package stream

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// hostileShapes are the line shapes that made time or memory grow faster
// than the input (issue 13), each built at a scale n. BenchmarkHostile
// runs each at two scales: time per byte must stay about the same.
var hostileShapes = []struct {
	name string
	cfg  Config
	gen  func(n int) string
}{
	{"keys x fields", Config{MaxFieldSize: 1000}, func(n int) string {
		var b strings.Builder
		b.WriteString(`{"type":"SCHEMA","stream":"s","schema":{},"key_properties":[`)
		for i := range 50 * n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"k\u00%02x%d"`, 0x61+i%20, i)
		}
		b.WriteString("]}\n")
		b.WriteString(`{"type":"RECORD","stream":"s","record":{"big":"` + strings.Repeat("b", 2000) + `"`)
		for i := range n {
			fmt.Fprintf(&b, `,"f\u00%02x%d":"%s"`, 0x61+i%20, i, strings.Repeat("v", 400))
		}
		b.WriteString("}}\n")
		return b.String()
	}},
	{"duplicate oversized keys, rejects", Config{MaxFieldSize: 16}, func(n int) string {
		var b strings.Builder
		b.WriteString(`{"type":"RECORD","stream":"s","record":{"id":1`)
		for range n {
			b.WriteString(`,"v":"` + strings.Repeat("d", 40) + `"`)
		}
		b.WriteString("}}\n")
		return b.String()
	}},
	{"deep nesting, oversized strings", Config{MaxFieldSize: 16}, func(n int) string {
		key := strings.Repeat("k", 250)
		var b strings.Builder
		b.WriteString(`{"type":"RECORD","stream":"h","record":{"d":`)
		for range n {
			b.WriteString(`{"` + key + `":`)
		}
		b.WriteString("[")
		for i := range min(n, maxBigs) {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"0123456789abcdefghij",12345678901234567890123`)
		}
		b.WriteString("]" + strings.Repeat("}", n) + "}}\n")
		return b.String()
	}},
}

func BenchmarkHostile(b *testing.B) {
	for _, sh := range hostileShapes {
		for _, n := range []int{500, 2000} {
			in := sh.gen(n)
			b.Run(fmt.Sprintf("%s/n=%d", sh.name, n), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				for range b.N {
					cfg := sh.cfg
					cfg.Flags, cfg.RejectsDir = io.Discard, b.TempDir()
					s := New(cfg)
					if err := s.Run(io.Discard, strings.NewReader(in)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// The hostile shapes are handled as messages, not bad lines.
func TestHostileShapesAreHandled(t *testing.T) {
	for _, sh := range hostileShapes {
		cfg := sh.cfg
		cfg.RejectsDir = t.TempDir()
		r := scan(t, cfg, sh.gen(50))
		if r.err != nil || r.stats.InvalidLines != 0 || r.stats.Records != 1 || r.stats.Flagged == 0 {
			t.Fatalf("%s: err %v stats %+v warn %s", sh.name, r.err, r.stats, r.warn)
		}
		mustValidLines(t, r.out)
	}
}
