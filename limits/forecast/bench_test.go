package forecast

import (
	"testing"
	"time"
)

// BenchmarkRecommend times one forecast on a full history (1000 hourly runs
// of its own, two other tenants with 1000 each), today's rule beside the new
// one in the same run.
func BenchmarkRecommend(b *testing.B) {
	own := every(time.Hour, 1000, 1000, 0.1)
	var prior []Run
	for _, t := range []string{"a", "b"} {
		for _, r := range every(time.Hour, 1000, 2000, 0.1) {
			r.Tenant = t
			prior = append(prior, r)
		}
	}
	b.Run("today", func(b *testing.B) {
		p := todaysParams(64 * gib)
		for range b.N {
			oldRecommend(now, own, prior, p)
		}
	})
	b.Run("new", func(b *testing.B) {
		p := params()
		for range b.N {
			Recommend(now, Incremental, own, prior, p)
		}
	})
}
