package forecast

// The forecaster as of commit 3039f0a ("today's rule"), kept verbatim apart
// from its names (prefixed old) as the baseline that the scenario suite and
// the replay print beside the new rule and an oracle. Test code only: no
// caller of the package can reach it.

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"syncbox/limits"
)

// oldParams tunes the recommender. oldDefaultParams documents each default.
type oldParams struct {
	// HalfLife is the age at which a run counts half as much as a new one.
	// Zero or negative means no decay.
	HalfLife time.Duration `json:"half_life"`
	// Quantile of the predicted peak of the next run that the limit covers:
	// 1 - Quantile is the targeted chance that an ordinary run is OOM-killed
	// (0.99 = 1 run in 100). With Empirical, the quantile of past peaks.
	Quantile float64 `json:"quantile"`
	// Margin multiplies the quantile (1.03 = 3% headroom). With the fit it
	// is only for measurement noise: peaks are sampled, a short one can be
	// missed.
	Margin float64 `json:"margin"`
	// SpreadPrior and SpreadPriorRuns are the prior belief about a
	// connector's run-to-run spread (standard deviation of log peak) and
	// how many runs it is worth: with few runs of its own, the spread is
	// shrunk towards SpreadPrior, and the Student-t quantile has
	// SpreadPriorRuns more degrees of freedom.
	SpreadPrior     float64 `json:"spread_prior"`
	SpreadPriorRuns float64 `json:"spread_prior_runs"`
	// Trend fits log peak against time (weighted least squares) and
	// predicts now, so a growing connector is not always a half-life behind;
	// the slope's uncertainty widens the prediction. Used with at least
	// TrendMinRuns effective runs spread over at least a day, never on prior
	// runs (a mix of tenants).
	Trend        bool    `json:"trend"`
	TrendMinRuns float64 `json:"trend_min_runs"`
	// Empirical selects the rule before the log-normal fit: the Quantile of
	// the decayed peaks themselves times Margin (kept for comparison).
	Empirical bool `json:"empirical,omitempty"`
	// Min and Max bound every limit (--memory-min, --memory-max); Max 0 = no cap.
	Min int64 `json:"min_bytes"`
	Max int64 `json:"max_bytes"`
	// ColdStart is the limit when neither this connector nor the prior has runs.
	ColdStart int64 `json:"cold_start_bytes"`
	// OOMMemory is how long the bump after an OOM keeps the limit up.
	OOMMemory time.Duration `json:"oom_memory"`
	// SpikeRatio and SpikeMemory decide how long one giant run keeps the
	// limit up: a successful peak above SpikeRatio times the weighted median
	// stops counting once it is older than SpikeMemory and a normal run has
	// followed it. SpikeRatio 0 disables this (plain decay: giants are then
	// ordinary samples and widen the fit for weeks).
	SpikeRatio  float64       `json:"spike_ratio"`
	SpikeMemory time.Duration `json:"spike_memory"`
	// SpikeCover: the giant runs still counted are left out of the fit and
	// covered (limit = the largest one times Margin) only if they weigh more
	// than this share of the decayed history: a step change, or one giant
	// among few runs. Otherwise a retry absorbs the next one.
	SpikeCover float64 `json:"spike_cover"`
	// MinSamples is how many own successful runs a tenant needs before the
	// prior (other tenants) is ignored; PriorWeight scales prior runs.
	MinSamples  int     `json:"min_samples"`
	PriorWeight float64 `json:"prior_weight"`
	// Retries is how many times an OOM-killed run is rerun (--retry-oom).
	// Each retry but the last multiplies the killed limit by RetryFactor;
	// the last one reaches RetryReach times the first attempt's limit, so a
	// run needing several times its usual memory completes.
	Retries     int     `json:"retries"`
	RetryFactor float64 `json:"retry_factor"`
	RetryReach  float64 `json:"retry_reach"`
}

// oldDefaultParams returns the defaults, chosen with the replay benchmark
// (BenchmarkReplay; numbers in this package's README.md):
//
//   - Quantile 0.99, Margin 1.02: the limit is the p99 of the next run's
//     predicted peak, a 1% chance that an ordinary run is OOM-killed
//     whatever the connector's spread, plus 2% for a peak the measurement
//     missed. Replay: 32.1% slack at 1.63 OOM retries per 100 runs, where
//     the rule before (p90 of decayed peaks x1.2, a fixed margin for every
//     spread) left 32.9% at 1.63; the hourly, tight connector drops from
//     26% to 21% slack (oracle 20%) while the wide ones get what their
//     spread needs (the widest, daily one: 13.9 OOM kills per 100 runs
//     under p90 x1.2, 10.2 now, 4.6 for the oracle). q=0.985 trades 1.5
//     points of slack for 0.3 more OOM per 100 runs; the goal allows 2.
//   - SpreadPrior 0.10 worth SpreadPriorRuns 10: with two runs the spread
//     is mostly the prior's, so the third run of a connector gets about
//     1.4x their median instead of a Student-t with 1 degree of freedom
//     (30x the spread); after a few dozen runs its own spread rules. A
//     prior of 3 runs leaves 1.5 points more slack in the replay, 30 runs
//     1.6 less, at the cost of the wide connectors' OOM rate.
//   - Trend on, from TrendMinRuns 10 effective runs: significant growth is
//     extrapolated to now; without it, the replay has 0.2 points less slack
//     at slightly more OOM kills (its growth is 0.1-0.5%/day, small next to
//     the spread), but a connector growing 3%/day would lag days behind and
//     look wide.
//   - SpikeCover 0.10: giant runs still counted by the spike rule are
//     covered only while they weigh over 10% of the history (one among
//     fewer than ten runs, or a step change), as p90 did before; covering
//     them above 1% costs 1.1 points of slack in the replay for nothing.
//   - HalfLife 7 days: growth of connectors is slow (under 1%/day), and a
//     longer memory gives daily connectors enough samples; 24h-336h differ
//     by less than a point in the replay.
//   - OOMMemory 24h: after an OOM the limit stays at least at the VPA bump
//     for a day, or until a later run fits in the killed limit (the OOM was
//     one giant run), so a connector that really grew does not OOM each run.
//   - SpikeRatio 3, SpikeMemory 6h: a run above 3x the median stops counting
//     6h after it once a normal run has followed, so a rare giant is absorbed
//     by a retry instead of raising later limits for weeks; giants followed
//     only by giants are a step change and keep counting.
//   - MinSamples 3, PriorWeight 0.5: a new tenant starts from other tenants'
//     runs until it has three of its own.
//   - ColdStart 2GiB: with no history at all, 2GiB fits most taps; a larger
//     one escalates to 4GiB and 20GiB within the retries. Min 64MiB; Max 0
//     is uncapped: the caller passes --memory-max (the machine budget).
//   - Retries 2, RetryFactor 2, RetryReach 10: the first retry doubles (the
//     common near miss), the last reaches 10x the first limit, so runs
//     needing 5-10x their usual memory complete (x2 twice left 22 of them
//     failed in the replay).
func oldDefaultParams() oldParams {
	return oldParams{
		HalfLife:        7 * 24 * time.Hour,
		Quantile:        0.99,
		Margin:          1.02,
		SpreadPrior:     0.10,
		SpreadPriorRuns: 10,
		Trend:           true,
		TrendMinRuns:    10,
		Min:             64 * mib,
		Max:             0,
		ColdStart:       2 * gib,
		OOMMemory:       24 * time.Hour,
		SpikeRatio:      3,
		SpikeMemory:     6 * time.Hour,
		SpikeCover:      0.10,
		MinSamples:      3,
		PriorWeight:     0.5,
		Retries:         2,
		RetryFactor:     2,
		RetryReach:      10,
	}
}

// oldRecommendation is a limit and how it was reached.
type oldRecommendation struct {
	LimitBytes int64    `json:"recommended_limit_bytes"`
	Reasons    []string `json:"reasons"`
	// Samples is the number of successful runs the quantile was taken over.
	Samples       int     `json:"samples"`
	Quantile      float64 `json:"quantile"`
	Margin        float64 `json:"margin"`
	QuantileBytes int64   `json:"quantile_bytes"`
	FromPrior     bool    `json:"from_prior"`
	ColdStart     bool    `json:"cold_start"`
	// OOMBumpBytes is the floor set by a recent OOM (0 if none holds).
	OOMBumpBytes int64 `json:"oom_bump_bytes"`
	// SpikesIgnored counts giant runs left out (see oldParams.SpikeRatio).
	SpikesIgnored int `json:"spikes_ignored"`
	// The log-normal fit (zero with Empirical or at cold start): Spread is
	// the standard deviation of log peak used, EffectiveRuns the decayed
	// oldsample size, TrendPerDay the fitted growth of log peak per day.
	Spread        float64 `json:"spread,omitempty"`
	EffectiveRuns float64 `json:"effective_runs,omitempty"`
	TrendPerDay   float64 `json:"trend_per_day,omitempty"`
}

type oldsample struct {
	peak   float64
	weight float64
	age    time.Duration
}

// oldRecommend returns the memory limit for a connector's next run at now, from
// its own runs and, while it has fewer than p.MinSamples of them, the prior
// (the same connector's runs for other tenants). Runs after now are ignored.
func oldRecommend(now time.Time, own []Run, prior []Run, p oldParams) oldRecommendation {
	rec := oldRecommendation{Quantile: p.Quantile, Margin: p.Margin}

	ownSamples, bump, bumpFrom := oldcollect(now, own, p, 1)
	rec.OOMBumpBytes = bump

	samples := ownSamples
	if len(ownSamples) < p.MinSamples {
		priorSamples, _, _ := oldcollect(now, prior, p, p.PriorWeight)
		if len(priorSamples) > 0 {
			samples = append(append([]oldsample(nil), ownSamples...), priorSamples...)
			rec.FromPrior = true
			rec.Reasons = append(rec.Reasons, fmt.Sprintf("%d own runs (< %d), so %d runs of other tenants serve as prior (weight %.2g)",
				len(ownSamples), p.MinSamples, len(priorSamples), p.PriorWeight))
		}
	}
	slices.SortFunc(samples, func(a, b oldsample) int { return cmp.Compare(a.peak, b.peak) })
	samples, rec.SpikesIgnored = olddropOldSpikes(samples, p)
	if rec.SpikesIgnored > 0 {
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("%d giant runs (> %.3gx median, older than %s, normal runs since) left out: a retry absorbs them",
			rec.SpikesIgnored, p.SpikeRatio, p.SpikeMemory))
	}
	rec.Samples = len(samples)

	var want int64
	switch {
	case len(samples) == 0:
		rec.ColdStart = true
		want = p.ColdStart
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("no history: cold-start limit %s", limits.FormatSize(p.ColdStart)))
	case p.Empirical:
		q := oldweightedQuantile(samples, p.Quantile)
		rec.QuantileBytes = int64(q)
		want = int64(math.Ceil(q * p.Margin))
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("p%.4g of %d decayed peaks (half-life %s) = %s, x%.3g margin = %s",
			p.Quantile*100, len(samples), p.HalfLife, limits.FormatSize(int64(q)), p.Margin, limits.FormatSize(want)))
	default:
		ordinary, giants, giantShare, giantTop := oldsplitGiants(samples, p)
		f := oldfitLogPeaks(ordinary, p, !rec.FromPrior)
		q := f.quantile(p.Quantile)
		rec.QuantileBytes = int64(q)
		rec.Spread, rec.EffectiveRuns, rec.TrendPerDay = f.sigma, f.neff, f.slope
		want = int64(math.Ceil(q * p.Margin))
		trend := ""
		if f.trend {
			trend = fmt.Sprintf(", trend %+.2g%%/day", 100*math.Expm1(f.slope))
		}
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("log-normal fit of %d decayed peaks (half-life %s, %.3g effective runs): median %s, spread %.3g%s; p%.4g of the next run's peak (Student-t, %.3g df) = %s, x%.3g margin = %s",
			len(ordinary), p.HalfLife, f.neff, limits.FormatSize(int64(math.Exp(f.mu))), f.sigma, trend,
			p.Quantile*100, f.df, limits.FormatSize(int64(q)), p.Margin, limits.FormatSize(want)))
		if giants > 0 && giantShare > p.SpikeCover {
			if g := int64(math.Ceil(giantTop * p.Margin)); g > want {
				want = g
				rec.Reasons = append(rec.Reasons, fmt.Sprintf("%d recent giant runs (> %.3gx median) weigh %.2g%% of the decayed history (> %.3g%%): covered, %s",
					giants, p.SpikeRatio, 100*giantShare, 100*p.SpikeCover, limits.FormatSize(g)))
			}
		}
	}
	if bump > want {
		want = bump
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("OOM at %s less than %s ago: at least the bump %s",
			bumpFrom.Format(time.RFC3339), p.OOMMemory, limits.FormatSize(bump)))
	}
	rec.LimitBytes = oldclamp(limits.RoundUpTidy(want), p, &rec.Reasons)
	return rec
}

// oldcollect turns runs into weighted samples of successful peaks and returns
// the highest OOM bump still held, with the time of that OOM.
func oldcollect(now time.Time, runs []Run, p oldParams, scale float64) ([]oldsample, int64, time.Time) {
	var out []oldsample
	var bump int64
	var bumpFrom time.Time
	for _, r := range runs {
		age := now.Sub(r.At)
		if age < 0 {
			continue
		}
		if r.OOM {
			// Killed at its limit: it needed more than both figures.
			need := max(r.PeakBytes, r.LimitBytes)
			if age <= p.OOMMemory && !oldfitLater(now, runs, r) {
				if b := limits.OOMBump(need); b > bump {
					bump, bumpFrom = b, r.At
				}
			}
			continue
		}
		if r.PeakBytes <= 0 {
			continue
		}
		w := scale
		if p.HalfLife > 0 {
			w *= math.Exp2(-float64(age) / float64(p.HalfLife))
		}
		if w <= 0 {
			continue
		}
		out = append(out, oldsample{peak: float64(r.PeakBytes), weight: w, age: age})
	}
	return out, bump, bumpFrom
}

// oldfitLater reports whether a successful run after the OOM r peaked within
// r's killed limit: the connector fits again, so
// the OOM was one giant run (or a retry of it) and its bump no longer holds.
// Without this, the killed retries of one giant run would hold the limit at
// 1.2x their escalated limits for all of OOMMemory.
func oldfitLater(now time.Time, runs []Run, r Run) bool {
	for _, x := range runs {
		if !x.OOM && x.At.After(r.At) && !x.At.After(now) && x.PeakBytes > 0 && x.PeakBytes <= r.LimitBytes {
			return true
		}
	}
	return false
}

// olddropOldSpikes leaves out giant runs (above SpikeRatio times the weighted
// median) once they are older than SpikeMemory and a normal run has followed
// them, so one rare run does not hold a high quantile up for several
// half-lives. A run of giants with nothing normal after them is a step
// change, not a spike, and stays. s is sorted by peak and stays so.
func olddropOldSpikes(s []oldsample, p oldParams) ([]oldsample, int) {
	if p.SpikeRatio <= 0 || len(s) < 2 {
		return s, 0
	}
	cut := p.SpikeRatio * oldweightedQuantile(s, 0.5)
	lastNormal := time.Duration(math.MaxInt64) // age of the newest normal run
	for _, x := range s {
		if x.peak <= cut && x.age < lastNormal {
			lastNormal = x.age
		}
	}
	kept := make([]oldsample, 0, len(s))
	dropped := 0
	for _, x := range s {
		if x.peak > cut && x.age > p.SpikeMemory && x.age > lastNormal {
			dropped++
			continue
		}
		kept = append(kept, x)
	}
	return kept, dropped
}

// oldsplitGiants separates the giant runs that olddropOldSpikes kept (above
// SpikeRatio times the weighted median: recent, or a step change) from the
// ordinary ones the distribution is fitted to. It returns their weight share
// of all samples and the largest giant peak.
func oldsplitGiants(s []oldsample, p oldParams) (ordinary []oldsample, giants int, share, top float64) {
	if p.SpikeRatio <= 0 || len(s) < 2 {
		return s, 0, 0, 0
	}
	cut := p.SpikeRatio * oldweightedQuantile(s, 0.5)
	total, heavy := 0.0, 0.0
	ordinary = make([]oldsample, 0, len(s))
	for _, x := range s {
		total += x.weight
		if x.peak > cut {
			giants++
			heavy += x.weight
			top = max(top, x.peak)
			continue
		}
		ordinary = append(ordinary, x)
	}
	return ordinary, giants, heavy / total, top
}

// oldlogFit is the predictive distribution of the next run's log peak:
// mu + sigma*infl*T(df).
type oldlogFit struct {
	mu, sigma, df, infl float64
	neff, slope         float64 // effective runs; log peak per day
	trend               bool
}

func (f oldlogFit) quantile(q float64) float64 {
	return math.Exp(f.mu + f.sigma*f.infl*oldstudentT(q, f.df))
}

// oldfitLogPeaks fits the decayed log peaks: weighted mean (or, with a trend,
// weighted least squares against time, predicted at now) and spread. The
// spread is shrunk towards SpreadPrior as if it came with SpreadPriorRuns
// more runs (normal-inverse-chi-squared posterior), and the prediction is a
// Student-t with that many degrees of freedom, widened by the uncertainty of
// the mean (1/n) and of the slope: few runs, a wider limit.
func oldfitLogPeaks(s []oldsample, p oldParams, trendOK bool) oldlogFit {
	var sw, sw2, xbar, ybar float64
	for _, v := range s {
		sw += v.weight
		sw2 += v.weight * v.weight
		xbar += v.weight * -v.age.Hours() / 24
		ybar += v.weight * math.Log(v.peak)
	}
	xbar /= sw
	ybar /= sw
	var sxx, sxy, syy float64
	for _, v := range s {
		dx, dy := -v.age.Hours()/24-xbar, math.Log(v.peak)-ybar
		sxx += v.weight * dx * dx
		sxy += v.weight * dx * dy
		syy += v.weight * dy * dy
	}
	f := oldlogFit{neff: sw * sw / sw2}
	k := 1.0 // parameters fitted besides the spread
	varx := sxx / sw
	if trendOK && p.Trend && f.neff >= max(p.TrendMinRuns, 3) && varx >= 0.25 {
		// Only growth that stands out of its own noise (t >= 2): on a flat
		// connector an estimated slope only adds extrapolation error, and a
		// falling one is left to the decay (a step down, say a finished
		// backfill, is no line to extrapolate below the recent runs).
		b := sxy / sxx
		res := max(syy-b*sxy, 0) / sw * f.neff / (f.neff - 2)
		if se := math.Sqrt(res / (f.neff * varx)); b > 0 && b >= 2*se {
			f.trend, f.slope, k = true, b, 2
		}
	}
	rss := max(syy-2*f.slope*sxy+f.slope*f.slope*sxx, 0) / sw * f.neff
	f.mu = ybar - f.slope*xbar
	nu0 := max(p.SpreadPriorRuns, 0)
	if dof := nu0 + f.neff - k; dof > 0 {
		f.sigma = math.Sqrt((nu0*p.SpreadPrior*p.SpreadPrior + rss) / dof)
		f.df = max(dof, 1)
	} else {
		f.sigma, f.df = p.SpreadPrior, 1
	}
	infl := 1 + 1/f.neff
	if f.trend {
		infl += xbar * xbar / (f.neff * varx)
	}
	f.infl = math.Sqrt(infl)
	return f
}

// oldstudentT is the q quantile of Student's t with df degrees of freedom
// (Cornish-Fisher expansion in 1/df, Abramowitz & Stegun 26.7.5: within
// 0.5% for df >= 5 at q = 0.99; it understates the quantile for df < 3).
func oldstudentT(q, df float64) float64 {
	z := math.Sqrt2 * math.Erfinv(2*q-1)
	if df <= 0 || math.IsInf(df, 1) {
		return z
	}
	z2 := z * z
	g1 := (z2 + 1) * z / 4
	g2 := ((5*z2+16)*z2 + 3) * z / 96
	g3 := (((3*z2+19)*z2+17)*z2 - 15) * z / 384
	g4 := ((((79*z2+776)*z2+1482)*z2-1920)*z2 - 945) * z / 92160
	return z + g1/df + g2/(df*df) + g3/(df*df*df) + g4/(df*df*df*df)
}

// oldweightedQuantile returns the smallest peak whose cumulative weight reaches
// q of the total; c must be sorted by peak.
func oldweightedQuantile(c []oldsample, q float64) float64 {
	total := 0.0
	for _, x := range c {
		total += x.weight
	}
	target := q * total
	acc := 0.0
	for _, x := range c {
		acc += x.weight
		if acc >= target {
			return x.peak
		}
	}
	return c[len(c)-1].peak
}

func oldclamp(n int64, p oldParams, reasons *[]string) int64 {
	if p.Min > 0 && n < p.Min {
		*reasons = append(*reasons, fmt.Sprintf("raised to --memory-min %s", limits.FormatSize(p.Min)))
		n = p.Min
	}
	if p.Max > 0 && n > p.Max {
		*reasons = append(*reasons, fmt.Sprintf("capped at --memory-max %s", limits.FormatSize(p.Max)))
		n = p.Max
	}
	return n
}

// oldNextRetryLimit is the limit for retry number attempt (1 = first retry)
// after an attempt limited to lastLimit was OOM-killed at lastPeak. Retries
// before the last multiply the killed limit by RetryFactor (cheap for the
// common near miss); the last retry jumps to RetryReach times the first
// attempt's limit (2x then 10x with the defaults), so a rare run needing
// several times its usual memory still completes. Never below the VPA bump,
// capped at Max; a result not above lastLimit means escalation is exhausted
// and the caller should stop retrying.
func oldNextRetryLimit(attempt int, lastLimit, lastPeak int64, p oldParams) int64 {
	if attempt < 1 {
		attempt = 1
	}
	factor := max(p.RetryFactor, 1)
	mult := factor
	if attempt >= p.Retries && p.RetryReach > 0 {
		// lastLimit is the first limit times factor^(attempt-1).
		mult = max(factor, p.RetryReach/math.Pow(factor, float64(attempt-1)))
	}
	next := limits.OOMBump(max(lastLimit, lastPeak))
	if f := float64(lastLimit) * mult; f > float64(next) && f < math.MaxInt64/4 {
		next = limits.RoundUpTidy(int64(f))
	}
	if p.Max > 0 && next > p.Max {
		next = p.Max
	}
	if p.Min > 0 && next < p.Min {
		next = p.Min
	}
	return next
}
