package forecast

import (
	"math"

	"syncbox/limits"
)

// A retry follows an OOM kill at limit L: the peak is now known to be above
// L. The retry's limit comes from the same model conditioned on that,
// S(x | > L) = S(x) / S(L): after a kill the ordinary tail just above L
// competes with a spike or a new level, in proportion to their chances.
// The last retry covers all but LastRetryRisk of the model given the kill,
// up to Max: a cold start (a vague model) reaches the machine's limit, so
// no run is lost that the machine could have held.

// RetryLimit is the limit for retry number attempt (1 = first retry) after
// an attempt limited to killed bytes was OOM-killed, from the model that
// chose the first limit. A result not above killed means escalation is
// exhausted (killed is at Max) and the caller should stop retrying.
func (r Recommendation) RetryLimit(attempt int, killed int64, p Params) int64 {
	m := r.Model
	if len(m.Components) == 0 {
		m = coldModel(float64(max(killed, p.ColdStart)), p)
	}
	return retryLimit(m, attempt, killed, p)
}

// NextRetryLimit is the retry limit when no forecast chose the first one
// (an explicit --memory): a vague model around the killed limit.
func NextRetryLimit(attempt int, lastLimit, lastPeak int64, p Params) int64 {
	return retryLimit(coldModel(float64(max(lastLimit, lastPeak, 1)), p), attempt, max(lastLimit, lastPeak), p)
}

func retryLimit(m Model, attempt int, killed int64, p Params) int64 {
	k := float64(max(killed, 1))
	sk := m.survival(k)
	if sk < 1e-12 {
		// The model thought this impossible: it is wrong, so start again
		// from a vague model around the killed limit.
		m = coldModel(k, p)
		sk = m.survival(k)
	}
	given := func(x float64) float64 { return min(m.survival(x)/sk, 1) }
	// The last retry covers all but LastRetryRisk of what the model allows
	// above the kill; an earlier one minimises its expected cost, where
	// being killed again costs the kill price, half its limit and the
	// next retry (the last one's limit, or RetryCost times its own).
	lo, hi := math.Log(k), math.Log(k)+40
	for range 100 {
		mid := (lo + hi) / 2
		if given(math.Exp(mid)) > p.LastRetryRisk {
			lo = mid
		} else {
			hi = mid
		}
	}
	last := math.Exp(hi)
	if p.Max > 0 {
		last = min(last, float64(p.Max))
	}
	want := last
	if attempt < p.Retries {
		// Before the last retry: the expected cost under the model given
		// the kill, where being killed again costs the kill price, half
		// this limit and the next retry (the last one's limit when it is
		// next, else RetryCost times this one). So the retry covers a
		// possible spike or new level when a second kill would cost more.
		_, top := m.span()
		if attempt+1 == p.Retries {
			q := p
			q.RetryCost = 0.5 // costOf adds (RetryCost - 0.5) x; the rerun is last
			want, _, _ = chooseWith(math.Log(k), max(top, math.Log(k)+1), given, m.Median, q, last)
		} else {
			want, _, _ = choose(math.Log(k), max(top, math.Log(k)+1), given, m.Median, p)
		}
	}
	next := limits.OOMBump(killed)
	if want < math.MaxInt64/4 {
		next = max(next, roundLimit(int64(math.Ceil(want))))
	} else {
		next = math.MaxInt64 / 4
	}
	if p.Max > 0 && next > p.Max {
		next = p.Max
	}
	if p.Min > 0 && next < p.Min {
		next = p.Min
	}
	return next
}

// coldModel is the vague belief when nothing is known but that x was a
// plausible limit: a log-t with spread ColdSpread whose 90th percentile is x.
func coldModel(x float64, p Params) Model {
	const df = 3
	mu := math.Log(x) - tQuantileUpper(0.10, df)*p.ColdSpread
	return Model{Components: []Component{{Name: "cold start", Weight: 1, Mu: mu, Scale: p.ColdSpread, DF: df}}, Median: math.Exp(mu)}
}
