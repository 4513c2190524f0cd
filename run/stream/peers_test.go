package stream

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/bytedance/sonic"
	gojson "github.com/goccy/go-json"
	"github.com/minio/simdjson-go"
)

// BenchmarkPeers measures, in one run on the same corpus and one core
// (GOMAXPROCS 1, the scanner without its helper goroutine), syncbox's
// scanner with a field limit against validating JSON libraries and a plain
// line split, best of three each, taken in turns (each round runs every
// one: a machine whose speed changes from second to second changes it for
// all), and reports the ratios. Only the
// scanner also classifies messages, counts streams and forwards the
// bytes; the peers only say valid or not (simdjson-go also builds its
// tape, but checks no UTF-8).
//
// simdjson's C++ parser runs as a process, one round per run in the same
// turns, when SYNCBOX_SIMDJSON_PEER names the binary `make simdjson-peer`
// builds (`make bench` does both); its own timing leaves out loading the
// file, and it is single-threaded by construction (peer.cpp).
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
		name  string
		run   func() bool
		check func() bool // after run, untimed; nil: run's result is all
		best  float64     // MB/s
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
	// simdjson-go needs AVX2 and CLMUL; without them it parses nothing and
	// is left out (said in the log).
	var sjg, sjgND *float64
	if simdjson.SupportedCPU() {
		// Per line, reusing the tape; strings not copied (validity is all
		// the others are asked for).
		var pj *simdjson.ParsedJson
		sjg = best("simdjson-go", func() bool {
			for _, l := range lines {
				var err error
				if pj, err = simdjson.Parse(l, pj, simdjson.WithCopyStrings(false)); err != nil {
					return false
				}
			}
			return true
		})
		// The whole corpus at once. ParseND runs stage 2 on a second
		// goroutine beside stage 1 for inputs over 8 KiB: under GOMAXPROCS
		// 1 both share this one core, as the other peers do. v0.4.5's
		// ParseND hands back no internal state to reuse, so each call
		// allocates its tape anew: its cost as its users pay it.
		var nd *simdjson.ParsedJson
		sjgND = best("simdjson-go-nd", func() bool {
			var err error
			nd, err = simdjson.ParseND(c, nd, simdjson.WithCopyStrings(false))
			return err == nil
		})
		peers[len(peers)-1].check = func() bool {
			roots := 0
			err := nd.ForEach(func(simdjson.Iter) error { roots++; return nil })
			return err == nil && roots == len(lines)
		}
	} else {
		b.Log("simdjson-go: this CPU lacks AVX2 or CLMUL (simdjson.SupportedCPU false): not run")
	}
	sj := newSimdjsonPeer(b, os.Getenv(simdjsonPeerEnv), c, len(lines))
	if sj == nil {
		b.Logf("simdjson (C++): not run, %s is unset (make bench builds and sets it)", simdjsonPeerEnv)
	}
	for range 3 {
		for _, p := range peers {
			t0 := time.Now()
			ok := p.run()
			d := time.Since(t0)
			if !ok || p.check != nil && !p.check() {
				b.Fatalf("%s: invalid", p.name)
			}
			p.best = max(p.best, float64(len(c))/1e6/d.Seconds())
		}
		if sj != nil {
			if err := sj.round(); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, p := range peers {
		b.ReportMetric(p.best, p.name+"-MB/s")
	}
	b.ReportMetric(*scan / *std, "x-encoding/json")
	b.ReportMetric(*scan / *goc, "x-goccy")
	b.ReportMetric(*scan / *son, "x-sonic")
	b.ReportMetric(*scan / *split, "x-indexbyte")
	if sjg != nil {
		b.ReportMetric(*scan / *sjg, "x-simdjson-go")
		b.ReportMetric(*scan / *sjgND, "x-simdjson-go-nd")
	}
	if sj != nil {
		b.Logf("simdjson (C++) %s, one thread, in a process", sj.version)
		for _, k := range []string{"dom", "parse-many", "stage1"} {
			b.ReportMetric(sj.best[k+"-MB/s"], "simdjson-"+k+"-MB/s")
			b.ReportMetric(*scan/sj.best[k+"-MB/s"], "x-simdjson-"+k)
		}
	}
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
