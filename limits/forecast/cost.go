package forecast

import "math"

// The limit minimises the expected cost of the next run under the model, in
// units of the model's median peak x the run's duration (the duration is
// the same for every candidate limit, so it drops out):
//
//	cost(L) = L                          the memory reserved while it runs
//	        + S(L) x (KillPrice x median  a kill: the rerun, the delay
//	                  + 0.5 x L           the memory the killed half held
//	                  + (RetryCost-1) x L) the retry reserves more than L
//
// with S(L) = P(peak > L). (Reserving L for the whole run, or for half of it
// and then RetryCost x L for the rerun, is L + S(L)(RetryCost - 0.5)L.)
// A tight connector's density falls fast, so its limit sits many spreads
// out at a tiny kill chance; a wide one's limit sits fewer spreads out; a
// rare spike is not worth covering and is left to a retry.

// costOf is the expected cost of limit x bytes, given the survival function.
func costOf(x, sx, median float64, p Params, rerun float64) float64 {
	return x + sx*(p.KillPrice*median+(p.RetryCost-0.5)*x+rerun)
}

// choose returns the limit (bytes) that minimises the expected cost over
// [floor, ...), searched on a grid in log peak and refined around the best;
// survival gives P(peak > x) (the model, or the model given a kill).
func choose(lo, hi float64, survival func(float64) float64, median float64, p Params) (limit, cost, kill float64) {
	return chooseWith(lo, hi, survival, median, p, 0)
}

// chooseWith is choose where a kill also costs a rerun at a known limit.
func chooseWith(lo, hi float64, survival func(float64) float64, median float64, p Params, rerun float64) (limit, cost, kill float64) {
	if !(hi > lo) {
		hi = lo + 0.01
	}
	best, bestCost, bestS := lo, math.Inf(1), 1.0
	try := func(lx float64) {
		x := math.Exp(lx)
		s := survival(x)
		if c := costOf(x, s, median, p, rerun); c < bestCost {
			best, bestCost, bestS = lx, c, s
		}
	}
	step := max((hi-lo)/200, 0.002)
	for lx := lo; lx <= hi+step/2; lx += step {
		try(lx)
	}
	c := best
	for lx := c - step; lx <= c+step; lx += step / 20 {
		if lx >= lo {
			try(lx)
		}
	}
	return math.Exp(best), bestCost / median, bestS
}

// roundLimit rounds n up to a multiple of the largest power-of-two MiB not
// above n/128 (at most 0.8% on top, 1 MiB below 256 MiB): rounding must not
// be a visible share of a small connector's slack (16 MiB steps were a
// third of the oracle's slack at 170 MiB).
func roundLimit(n int64) int64 {
	step := mib
	for step*2 <= n/128 {
		step *= 2
	}
	if n <= 0 {
		return step
	}
	return (n + step - 1) / step * step
}
