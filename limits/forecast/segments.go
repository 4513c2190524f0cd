package forecast

import (
	"math"
	"time"
)

// The walk reads a history's successful peaks in time order and splits it
// into segments of one level each. Every run is judged against the current
// segment's prediction for its time, in predictive spreads; an outlier
// (|z| > OutlierZ) is held pending:
//   - an ordinary run after it makes a high outlier a spike (a low one a
//     dip, dropped);
//   - StepHighRuns high (StepLowRuns low) outliers in a row that agree make a
//     change point: a new segment starts at the first of them.
// The spread is pooled over all segments from their ordinary runs only, so a
// spike or a step never widens it. Weights decay by 2^(-age/HalfLife).

// obs is a pending outlier.
type obs struct {
	at    time.Time
	y     float64 // log peak
	resid float64 // y minus the segment's level at its time
	high  bool
}

// spike is a resolved high outlier: its log ratio to the level, its time
// and its decayed weight.
type spike struct {
	at    time.Time
	ratio float64
	w     float64
}

// spreadPrior is the prior spread: s2 worth nu runs.
type spreadPrior struct{ s2, nu float64 }

type walk struct {
	p        Params
	prior    spreadPrior
	last     time.Time
	start    time.Time // of the current segment
	cur      sums
	curRuns  int
	closed   struct{ w, w2, r, kw float64 }
	segments int
	spikes   []spike
	dips     int
	pending  []obs
	total    float64 // decayed weight of all runs, outliers too
}

// pooled is the spread pooled over segments: sigma, the degrees of freedom
// with the prior, and the data's own part (rss, dof) for other tenants' use.
type pooled struct {
	sigma, df float64
	rss, dof  float64
}

func newWalk(p Params, prior spreadPrior) *walk {
	return &walk{p: p, prior: prior}
}

func (w *walk) weight(at time.Time) float64 {
	if w.p.HalfLife <= 0 {
		return 1
	}
	return math.Exp2(-float64(w.last.Sub(at)) / float64(w.p.HalfLife))
}

// advance decays everything to time t.
func (w *walk) advance(t time.Time) {
	if !w.last.IsZero() && w.p.HalfLife > 0 && t.After(w.last) {
		f := math.Exp2(-float64(t.Sub(w.last)) / float64(w.p.HalfLife))
		w.cur.decay(f)
		w.closed.w *= f
		w.closed.w2 *= f * f
		w.closed.r *= f
		w.closed.kw *= f
		w.total *= f
		for i := range w.spikes {
			w.spikes[i].w *= f
		}
	}
	if t.After(w.last) {
		w.last = t
	}
}

func days(d time.Duration) float64 { return d.Hours() / 24 }

// spread pools the residuals of every segment's ordinary runs and shrinks
// them to the prior (normal-inverse-chi^2 posterior). The current segment's
// line is fitted with the spread of the mean-only fit.
func (w *walk) spread() (pooled, line) {
	cur := w.cur.fit(false, 0, 0)
	pl := w.pool(cur)
	if w.p.Trend && w.cur.neff() >= max(w.p.TrendMinRuns, 3) {
		cur = w.cur.fit(true, w.p.TrendMinRuns, pl.sigma)
		pl = w.pool(cur)
	}
	return pl, cur
}

func (w *walk) pool(cur line) pooled {
	W, W2, R, KW := w.closed.w, w.closed.w2, w.closed.r, w.closed.kw
	if w.cur.sw > 0 {
		W += w.cur.sw
		W2 += w.cur.sw2
		R += cur.rss
		KW += cur.k * w.cur.sw2 / w.cur.sw
	}
	var pl pooled
	if W > 0 && W2 > 0 {
		n := W * W / W2
		pl.dof = max(n*(1-KW/W), 0)
		pl.rss = R / W * n
	}
	nu := w.prior.nu + pl.dof
	if nu > 0 {
		pl.sigma = math.Sqrt((w.prior.nu*w.prior.s2 + pl.rss) / nu)
	} else {
		pl.sigma = math.Sqrt(w.prior.s2)
	}
	pl.df = max(nu, 1)
	return pl
}

// predict is the current segment's predictive distribution at t: level,
// scale (spread widened by the level's own uncertainty) and the pooled fit.
func (w *walk) predict(t time.Time) (mu, scale float64, pl pooled, l line) {
	pl, l = w.spread()
	mu, vfac := l.at(days(t.Sub(w.start)), w.cur.neff())
	return mu, pl.sigma * math.Sqrt(1+vfac), pl, l
}

// add takes the next successful run (time order).
func (w *walk) add(t time.Time, peak int64) {
	if peak <= 0 {
		return
	}
	w.advance(t)
	w.total++
	y := math.Log(float64(peak))
	if w.cur.sw == 0 && w.curRuns == 0 {
		w.start = t
		w.cur.add(0, y, 1)
		w.curRuns = 1
		w.segments = 1
		return
	}
	mu, scale, pl, _ := w.predict(t)
	z := (y - mu) / scale
	if math.Abs(z) <= w.p.OutlierZ {
		w.resolve()
		w.cur.add(days(t.Sub(w.start)), y, 1)
		w.curRuns++
		return
	}
	o := obs{at: t, y: y, resid: y - mu, high: z > 0}
	if n := len(w.pending); n > 0 {
		mean := 0.0
		for _, q := range w.pending {
			mean += q.y
		}
		mean /= float64(n)
		if w.pending[0].high != o.high || math.Abs(y-mean) > w.p.OutlierZ*pl.sigma*math.Sqrt(1+1/float64(n)) {
			w.resolve()
		}
	}
	w.pending = append(w.pending, o)
	need := w.p.StepLowRuns
	if o.high {
		need = w.p.StepHighRuns
	}
	if len(w.pending) >= need {
		w.changePoint()
	}
}

// resolve settles the pending outliers once an ordinary run (or one of the
// other sign) follows them: high ones are spikes, low ones dips.
func (w *walk) resolve() {
	for _, o := range w.pending {
		if o.high {
			w.spikes = append(w.spikes, spike{at: o.at, ratio: o.resid, w: w.weight(o.at)})
		} else {
			w.dips++
		}
	}
	w.pending = w.pending[:0]
}

// changePoint closes the current segment (its residuals stay in the pooled
// spread) and starts a new one from the pending outliers.
func (w *walk) changePoint() {
	if w.cur.sw > 0 {
		_, l := w.spread()
		w.closed.w += w.cur.sw
		w.closed.w2 += w.cur.sw2
		w.closed.r += l.rss
		w.closed.kw += l.k * w.cur.sw2 / w.cur.sw
	}
	w.segments++
	w.cur = sums{}
	w.start = w.pending[0].at
	for _, o := range w.pending {
		w.cur.add(days(o.at.Sub(w.start)), o.y, w.weight(o.at))
	}
	w.curRuns = len(w.pending)
	w.pending = w.pending[:0]
}

// state is what the walk knows at now.
type state struct {
	runs, segments, curRuns, dips int
	segStart                      time.Time
	mu, vfac, slope               float64
	neff                          float64
	pl                            pooled
	spikes                        []spike
	spikeW                        float64 // decayed weight of spikes
	total                         float64
	pending                       []obs
}

// walkRuns walks the successful runs (time order, none after now).
func walkRuns(now time.Time, runs []Run, p Params, prior spreadPrior) state {
	w := newWalk(p, prior)
	n := 0
	for _, r := range runs {
		if r.OOM || r.PeakBytes <= 0 {
			continue
		}
		w.add(r.At, r.PeakBytes)
		n++
	}
	st := state{runs: n}
	if n == 0 {
		st.pl = w.pool(line{})
		return st
	}
	w.advance(now)
	pl, l := w.spread()
	st.mu, st.vfac = l.at(days(now.Sub(w.start)), w.cur.neff())
	st.slope, st.neff, st.pl = l.slope, w.cur.neff(), pl
	st.segments, st.curRuns, st.dips, st.segStart = w.segments, w.curRuns, w.dips, w.start
	st.spikes, st.total = w.spikes, w.total
	for _, s := range w.spikes {
		st.spikeW += s.w
	}
	st.pending = append([]obs(nil), w.pending...)
	return st
}

// spikeRate is the posterior chance that a run is a spike.
func (s state) spikeRate(p Params) float64 {
	return (p.SpikeRate*p.SpikeRateRuns + s.spikeW) / (p.SpikeRateRuns + s.total)
}

// spikeSize is the posterior mean, variance and degrees of freedom of a
// spike's log ratio to the level: the prior is worth one spike (mean) and
// two (variance), so while few spikes are seen their sizes have a heavy
// tail (Student-t with 2 + spikes df). Other tenants' spikes of the same
// connector count too (at half weight): a connector's spikes are its own.
func (s state) spikeSize(p Params, others []spike) (mean, variance, df float64) {
	const k0, nu0 = 1.0, 2.0
	m0 := math.Log(p.SpikeSize)
	// Sizes do not decay: a connector's spikes are as large as they were
	// (the rate decays; how often it spikes may change).
	sw, swr := 0.0, 0.0
	weigh := func(f func(x spike, w float64)) {
		for _, x := range s.spikes {
			f(x, 1)
		}
		for _, x := range others {
			f(x, 0.5)
		}
	}
	weigh(func(x spike, w float64) { sw += w; swr += w * x.ratio })
	mean = (k0*m0 + swr) / (k0 + sw)
	ss := 0.0
	weigh(func(x spike, w float64) { ss += w * (x.ratio - mean) * (x.ratio - mean) })
	variance = (nu0*p.SpikeSpread*p.SpikeSpread + ss) / (nu0 + sw)
	return mean, variance, nu0 + sw
}

// periodic finds spikes that recur: the last three equally spaced (within
// 10%), or the last two about a day or a week apart. It returns the next
// time one is due, the period and how many spikes the chain holds.
func (s state) periodic() (due time.Time, period time.Duration, chain int) {
	n := len(s.spikes)
	if n < 2 {
		return time.Time{}, 0, 0
	}
	d := s.spikes[n-1].at.Sub(s.spikes[n-2].at)
	near := func(a, b time.Duration, tol float64) bool {
		return math.Abs(float64(a-b)) <= tol*float64(b)
	}
	ok := near(d, 24*time.Hour, 0.05) || near(d, 7*24*time.Hour, 0.05)
	chain = 2
	for i := n - 2; i >= 1 && near(s.spikes[i].at.Sub(s.spikes[i-1].at), d, 0.1); i-- {
		chain++
	}
	if chain >= 3 {
		ok = true
	}
	if !ok || d <= 0 {
		return time.Time{}, 0, 0
	}
	return s.spikes[n-1].at.Add(d), d, chain
}
