package stream

import (
	"bytes"
	"encoding/json"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/bytedance/sonic"
	gojson "github.com/goccy/go-json"
)

// BenchmarkPeers measures, in one run on the same corpus and one core
// (GOMAXPROCS 1, the scanner without its helper goroutine), syncbox's
// scanner with a field limit against validating JSON libraries and a plain
// line split, best of three each, taken in turns (each round runs every
// one: a machine whose speed changes from second to second changes it for
// all), and reports the ratios. Only the
// scanner also classifies messages, counts streams and forwards the
// bytes; the peers only say valid or not.
func BenchmarkPeers(b *testing.B) {
	c, n := benchCorpus()
	var lines [][]byte
	for l := range bytes.SplitSeq(c, []byte("\n")) {
		if len(l) > 0 {
			lines = append(lines, l)
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	type peer struct {
		name string
		run  func() bool
		best float64 // MB/s
	}
	var peers []*peer
	best := func(name string, run func() bool) *float64 {
		p := &peer{name: name, run: run}
		peers = append(peers, p)
		return &p.best
	}
	valid := func(f func([]byte) bool) func() bool {
		return func() bool {
			for _, l := range lines {
				if !f(l) {
					return false
				}
			}
			return true
		}
	}
	scan := best("syncbox-"+simdName(), func() bool {
		s := New(Config{Protocol: Singer, MaxFieldSize: 16 << 20, MaxRecordSize: 64 << 20})
		s.serial = true
		return s.Run(io.Discard, bytes.NewReader(c)) == nil && s.Snapshot().Records == int64(n)
	})
	split := best("indexbyte", func() bool {
		k := 0
		for i := 0; i < len(c); k++ {
			j := bytes.IndexByte(c[i:], '\n')
			if j < 0 {
				break
			}
			i += j + 1
		}
		return k > 0
	})
	std := best("encoding/json", valid(json.Valid))
	goc := best("goccy", valid(gojson.Valid))
	son := best("sonic", valid(sonic.ConfigStd.Valid))
	for range 3 {
		for _, p := range peers {
			t0 := time.Now()
			if !p.run() {
				b.Fatalf("%s: invalid", p.name)
			}
			p.best = max(p.best, float64(len(c))/1e6/time.Since(t0).Seconds())
		}
	}
	for _, p := range peers {
		b.ReportMetric(p.best, p.name+"-MB/s")
	}
	b.ReportMetric(*scan / *std, "x-encoding/json")
	b.ReportMetric(*scan / *goc, "x-goccy")
	b.ReportMetric(*scan / *son, "x-sonic")
	b.ReportMetric(*scan / *split, "x-indexbyte")
	b.SetBytes(0)
}

// BenchmarkScanSerial: the scanner alone on one goroutine, for profiles;
// /singer and /auto by protocol (auto is the CLI's default).
func BenchmarkScanSerial(b *testing.B) {
	c, n := benchCorpus()
	for _, p := range []Protocol{Singer, Auto} {
		b.Run(p.String(), func(b *testing.B) {
			for range b.N {
				s := New(Config{Protocol: p, MaxFieldSize: 16 << 20, MaxRecordSize: 64 << 20})
				s.serial = true
				if s.Run(io.Discard, bytes.NewReader(c)) != nil || s.Snapshot().Records != int64(n) {
					b.Fatal("scan failed")
				}
			}
			b.SetBytes(int64(len(c)))
		})
	}
}
