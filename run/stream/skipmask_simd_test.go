//go:build goexperiment.simd

package stream

import (
	"bytes"
	"testing"
	"time"
)

// BenchmarkSkipStages: skipMasked's two halves apart over the corpus's payloads,
// interleaved, best of five: the byte classes (classifyBatch) and the
// checks on classes made beforehand (maskScan.block), and both.
func BenchmarkSkipStages(b *testing.B) {
	c, _ := benchCorpus()
	var vals [][]byte
	total := 0
	for l := range bytes.SplitSeq(c, []byte("\n")) {
		if i := bytes.Index(l, []byte(`"record":`)); i >= 0 {
			vals = append(vals, l[i+len(`"record":`):])
			total += len(l) - i - 9
		}
	}
	var ms [maskBatch]blockMasks
	var pad [64]byte
	var all []blockMasks
	for _, v := range vals {
		for base := 0; base < len(v); base += maskBatch * 64 {
			nb := min(maskBatch, (len(v)-base+63)/64)
			classifyBatch(v[base:], &ms, nb, &pad)
			all = append(all, ms[:nb]...)
		}
	}
	var tk tokenizer
	best := [3]float64{}
	for range 5 {
		t0 := time.Now()
		for _, v := range vals {
			for base := 0; base < len(v); base += maskBatch * 64 {
				nb := min(maskBatch, (len(v)-base+63)/64)
				classifyBatch(v[base:], &ms, nb, &pad)
			}
		}
		best[0] = max(best[0], float64(total)/1e6/time.Since(t0).Seconds())
		t0 = time.Now()
		k := 0
		for _, v := range vals {
			s := &tk.mscan
			s.reset(s.stack, 100)
			for base := 0; base < len(v); base += 64 {
				valid := ^uint64(0)
				if n := len(v) - base; n < 64 {
					valid = 1<<uint(n) - 1
				}
				end, _ := s.block(v, base, &all[k], valid)
				k++
				if end >= 0 {
					k += (len(v) - base - 1) / 64
					break
				}
			}
		}
		best[1] = max(best[1], float64(total)/1e6/time.Since(t0).Seconds())
		t0 = time.Now()
		for _, v := range vals {
			tk.skipMasked(v, 0, 100)
		}
		best[2] = max(best[2], float64(total)/1e6/time.Since(t0).Seconds())
	}
	b.ReportMetric(best[0], "classify-MB/s")
	b.ReportMetric(best[1], "block-MB/s")
	b.ReportMetric(best[2], "whole-MB/s")
}
