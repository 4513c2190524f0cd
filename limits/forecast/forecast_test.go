package forecast

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// daily returns n successful runs, one a day ending an hour before now,
// newest last, each peaking at peakMiB.
func daily(n int, peakMiB int64) []Run {
	runs := make([]Run, 0, n)
	for k := n - 1; k >= 0; k-- {
		runs = append(runs, Run{At: now.Add(-time.Hour - time.Duration(k)*24*time.Hour), LimitBytes: 2 * gib, PeakBytes: peakMiB * mib})
	}
	return runs
}

func withRun(runs []Run, r Run) []Run { return append(append([]Run(nil), runs...), r) }

// lognormalRuns returns n hourly runs ending an hour before now whose peaks
// are medianMiB x exp(sigma z) for z at evenly spaced normal quantiles in a
// fixed shuffled order: an exact spread without randomness.
func lognormalRuns(n int, medianMiB, sigma float64) []Run {
	runs := make([]Run, n)
	for i := range runs {
		k := (i*37 + 11) % n // a fixed permutation (37 is coprime with the n used)
		z := math.Sqrt2 * math.Erfinv(2*(float64(k)+0.5)/float64(n)-1)
		runs[i] = Run{At: now.Add(-time.Duration(n-i) * time.Hour), LimitBytes: 8 * gib,
			PeakBytes: int64(medianMiB * math.Exp(sigma*z) * float64(mib))}
	}
	return runs
}

func TestRecommendTable(t *testing.T) {
	tenDays := daily(10, 500)
	spikeYesterday := daily(10, 500)
	spikeYesterday[8].PeakBytes = 5 * gib // a normal run followed it
	spikeNow := daily(10, 500)
	spikeNow[9].PeakBytes = 5 * gib // nothing normal after it yet
	stepChange := daily(10, 500)
	for i := 7; i < 10; i++ {
		stepChange[i].PeakBytes = 5 * gib
	}
	oom := Run{At: now.Add(-30 * time.Minute), LimitBytes: 608 * mib, PeakBytes: 608 * mib, OOM: true}
	oldOOM := oom
	oldOOM.At = now.Add(-25*time.Hour + time.Minute)
	spread := make([]Run, 10)
	for i := range spread {
		spread[i] = Run{At: now, PeakBytes: int64(i+1) * 100 * mib}
	}
	stale := daily(10, 1200)
	for i := range stale {
		stale[i].At = stale[i].At.Add(-30 * 24 * time.Hour)
	}
	hourlySpikeNow := lognormalRuns(200, 500, 0.05) // hourly
	hourlySpikeNow[len(hourlySpikeNow)-1].PeakBytes = 5 * gib
	growing := lognormalRuns(14, 1000, 0.05)
	for i := range growing { // daily, 3%/day
		growing[i].At = now.Add(-time.Duration(len(growing)-i) * 24 * time.Hour)
		growing[i].PeakBytes = int64(float64(growing[i].PeakBytes) * math.Pow(1.03, float64(i-len(growing)+1)))
	}
	// the runs before an OOM 25h ago, none after it
	beforeOldOOM := daily(10, 500)
	for i := range beforeOldOOM {
		beforeOldOOM[i].At = beforeOldOOM[i].At.Add(-25 * time.Hour)
	}

	cases := []struct {
		name      string
		own       []Run
		prior     []Run
		mod       func(*Params)
		want      int64
		fromPrior bool
		cold      bool
		bump      int64
		spikes    int
	}{
		{name: "cold start without any history", want: 2 * gib, cold: true},
		{name: "cold start is capped by max", mod: func(p *Params) { p.Max = gib }, want: gib, cold: true},
		// Ten equal runs: the spread is the prior's (0.10 over 10 runs,
		// shrunk by the zero spread seen): p99 610 MiB x1.02 = 622 -> 624.
		{name: "new tenant starts from other tenants' runs", prior: tenDays, want: 624 * mib, fromPrior: true},
		// Two own runs at 500 MiB among other tenants' at 4 GiB: the mix
		// is wide (spread 0.72), so is the limit until own runs take over.
		{name: "prior fills in until a tenant has MinSamples runs", own: daily(2, 500), prior: daily(10, 4096), want: 13568 * mib, fromPrior: true},
		// Three runs: Student-t with 12 df and the mean's own uncertainty.
		{name: "own runs win once there are enough", own: daily(3, 500), prior: daily(10, 4096), want: 688 * mib},
		{name: "the empirical rule before: quantile times margin, rounded tidy", own: spread, mod: func(p *Params) { p.Empirical, p.Quantile, p.Margin = true, 0.85, 1.2 }, want: 1088 * mib},
		// Runs of 1200 MiB a month ago still weigh 6% (half-life 7 days),
		// enough to widen the fit at p99, but far below no decay.
		{name: "old runs decay away", own: append(append([]Run(nil), stale...), tenDays...), want: 816 * mib},
		// Without decay the 1200 MiB runs count fully: median 775 MiB,
		// spread 0.37. (The trend is off: a step down is no line.)
		{name: "without decay old runs count fully", own: append(append([]Run(nil), stale...), tenDays...), mod: func(p *Params) { p.HalfLife, p.Trend = 0, false }, want: 2048 * mib},
		{name: "a falling connector is not extrapolated below its recent runs", own: append(append([]Run(nil), stale...), tenDays...), mod: func(p *Params) { p.HalfLife = 0 }, want: 2048 * mib},
		{name: "recent OOM holds the VPA bump", own: withRun(tenDays, oom), want: 736 * mib, bump: 736 * mib},
		{name: "OOM bump expires after OOMMemory", own: withRun(beforeOldOOM, oldOOM), want: 624 * mib},
		{name: "OOM bump ends when a later run fits the killed limit", own: withRun(withRun(tenDays, oom), Run{At: now.Add(-10 * time.Minute), PeakBytes: 500 * mib}), want: 624 * mib},
		{name: "min clamp", own: daily(5, 10), want: 64 * mib},
		{name: "max clamp", own: daily(5, 10240), mod: func(p *Params) { p.Max = 8 * gib }, want: 8 * gib},
		{name: "old spike followed by normal runs is absorbed", own: spikeYesterday, want: 640 * mib, spikes: 1},
		// SpikeRatio 0: the giant is an ordinary sample and widens the fit.
		{name: "with decay only the spike holds the limit up", own: spikeYesterday, mod: func(p *Params) { p.SpikeRatio = 0 }, want: 3264 * mib},
		// One giant among ten daily runs weighs 15% (> SpikeCover 10%).
		{name: "a fresh spike holds until a normal run follows", own: spikeNow, want: 5248 * mib},
		{name: "a fresh giant among many runs is left to a retry", own: hourlySpikeNow, want: 592 * mib},
		{name: "a step change is not a spike", own: stepChange, want: 5248 * mib},
		{name: "runs after now are ignored", own: withRun(tenDays, Run{At: now.Add(time.Hour), PeakBytes: 9 * gib}), want: 624 * mib},
		// Same median (1000 MiB), 60 runs: the limit follows the spread.
		{name: "a tight connector gets a tight limit", own: lognormalRuns(60, 1000, 0.05), want: 1216 * mib},
		{name: "a wide connector gets a wide limit", own: lognormalRuns(60, 1000, 0.40), want: 2496 * mib},
		{name: "before: p90 x1.2 gives the tight connector more", own: lognormalRuns(60, 1000, 0.05), mod: func(p *Params) { p.Empirical, p.Quantile, p.Margin = true, 0.9, 1.2 }, want: 1344 * mib},
		{name: "before: p90 x1.2 gives the wide connector too little", own: lognormalRuns(60, 1000, 0.40), mod: func(p *Params) { p.Empirical, p.Quantile, p.Margin = true, 0.9, 1.2 }, want: 2048 * mib},
		// 3%/day growth over 14 days, last run ~1000 MiB: the fit predicts
		// now (median 1.0 GiB), not the decayed mean days behind (864 MiB).
		{name: "a growing connector is predicted at now", own: growing, want: 1344 * mib},
		{name: "without the trend it lags", own: growing, mod: func(p *Params) { p.Trend = false }, want: 1216 * mib},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultParams()
			if c.mod != nil {
				c.mod(&p)
			}
			got := Recommend(now, c.own, c.prior, p)
			if got.LimitBytes != c.want {
				t.Errorf("limit %d MiB; want %d MiB (reasons: %v)", got.LimitBytes/mib, c.want/mib, got.Reasons)
			}
			if got.FromPrior != c.fromPrior || got.ColdStart != c.cold || got.OOMBumpBytes != c.bump || got.SpikesIgnored != c.spikes {
				t.Errorf("fromPrior=%v cold=%v bump=%d spikes=%d; want %v %v %d %d (reasons: %v)",
					got.FromPrior, got.ColdStart, got.OOMBumpBytes, got.SpikesIgnored, c.fromPrior, c.cold, c.bump, c.spikes, got.Reasons)
			}
			if len(got.Reasons) == 0 {
				t.Errorf("no reasons given")
			}
		})
	}
}

func TestRecommendIsPureAndLeavesItsInputAlone(t *testing.T) {
	own := daily(20, 500)
	own[5].PeakBytes = 3 * gib
	before := append([]Run(nil), own...)
	a := Recommend(now, own, nil, DefaultParams())
	b := Recommend(now, own, nil, DefaultParams())
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two calls differ: %+v vs %+v", a, b)
	}
	if !reflect.DeepEqual(own, before) {
		t.Errorf("Recommend changed its input")
	}
}

func TestNextRetryLimitEscalatesSteeplyWithinMax(t *testing.T) {
	p := DefaultParams()
	cases := []struct {
		name          string
		attempt       int
		limit         int64
		mod           func(*Params)
		want          int64
		wantExhausted bool
	}{
		{name: "first retry doubles", attempt: 1, limit: gib, want: 2 * gib},
		{name: "last retry reaches 10x the first limit", attempt: 2, limit: 2 * gib, want: 10 * gib},
		{name: "never below the VPA bump", attempt: 1, limit: 64 * mib, mod: func(p *Params) { p.RetryFactor = 1 }, want: 176 * mib},
		{name: "three retries: 2x, 2x, then up to 10x", attempt: 3, limit: 4 * gib, mod: func(p *Params) { p.Retries = 3 }, want: 10 * gib},
		{name: "capped at max", attempt: 2, limit: 2 * gib, mod: func(p *Params) { p.Max = 8 * gib }, want: 8 * gib},
		{name: "exhausted at max", attempt: 1, limit: 8 * gib, mod: func(p *Params) { p.Max = 8 * gib }, want: 8 * gib, wantExhausted: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := p
			if c.mod != nil {
				c.mod(&q)
			}
			got := NextRetryLimit(c.attempt, c.limit, c.limit, q)
			if got != c.want {
				t.Errorf("NextRetryLimit = %d MiB; want %d MiB", got/mib, c.want/mib)
			}
			if (got <= c.limit) != c.wantExhausted {
				t.Errorf("exhausted = %v; want %v", got <= c.limit, c.wantExhausted)
			}
		})
	}
}

// A run needing several times its usual memory completes within the
// default retries, starting from the limit the recommender gives.
func TestGiantRunCompletesWithinDefaultRetries(t *testing.T) {
	p := DefaultParams()
	usual := daily(30, 500)
	for _, times := range []int64{2, 5, 8, 10} {
		need := times * 500 * mib
		limit := Recommend(now, usual, nil, p).LimitBytes
		attempt := 0
		for need > limit && attempt < p.Retries {
			attempt++
			limit = NextRetryLimit(attempt, limit, limit, p)
		}
		if need > limit {
			t.Errorf("a run needing %dx its usual memory still OOMs after %d retries (limit %d MiB)", times, p.Retries, limit/mib)
		}
	}
}

func TestReasonsExplainTheFigure(t *testing.T) {
	got := Recommend(now, withRun(daily(10, 500), Run{At: now.Add(-time.Minute), LimitBytes: 608 * mib, PeakBytes: 608 * mib, OOM: true}), nil, DefaultParams())
	all := strings.Join(got.Reasons, "; ")
	for _, want := range []string{"p99", "half-life", "effective runs", "spread", "Student-t", "margin", "OOM at", "bump"} {
		if !strings.Contains(all, want) {
			t.Errorf("reasons %q do not mention %q", all, want)
		}
	}
}

func TestValidateRejectsMeaninglessParams(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	bad := map[string]func(*Params){
		"quantile 0":            func(p *Params) { p.Quantile = 0 },
		"quantile 1.5":          func(p *Params) { p.Quantile = 1.5 },
		"quantile 1 of a fit":   func(p *Params) { p.Quantile = 1 },
		"negative spread prior": func(p *Params) { p.SpreadPrior = -0.1 },
		"margin 0.9":            func(p *Params) { p.Margin = 0.9 },
		"min above max":         func(p *Params) { p.Min, p.Max = 2*gib, gib },
		"no cold start":         func(p *Params) { p.ColdStart = 0 },
		"negative retry":        func(p *Params) { p.Retries = -1 },
	}
	for name, mod := range bad {
		p := DefaultParams()
		mod(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// For log-normal peaks the limit is a calibrated prediction: over many
// independent histories, the next run is OOM-killed about 1 - Quantile of the
// time whatever its spread (Margin 1 here; the default 1.02 is for
// measurement noise). The spread prior (0.10) pulls a tight connector's
// estimate up and a wide one's down a little, so the rates differ somewhat.
func TestTheLimitTargetsTheOOMRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	p := DefaultParams()
	p.Margin = 1
	for _, c := range []struct {
		runs      int
		sigma     float64
		low, high float64 // % of next runs OOM-killed
	}{
		{100, 0.05, 0.1, 1.0},
		{100, 0.15, 0.5, 1.6},
		{100, 0.40, 0.5, 2.0},
		{8, 0.10, 0.4, 2.0}, // few runs: Student-t and the mean's uncertainty
	} {
		const trials = 3000
		ooms := 0
		runs := make([]Run, c.runs)
		for range trials {
			for i := range runs {
				runs[i] = Run{At: now.Add(-time.Duration(c.runs-i) * time.Hour), LimitBytes: 64 * gib,
					PeakBytes: int64(1000 * math.Exp(c.sigma*rng.NormFloat64()) * float64(mib))}
			}
			limit := Recommend(now, runs, nil, p).LimitBytes
			if next := int64(1000 * math.Exp(c.sigma*rng.NormFloat64()) * float64(mib)); next > limit {
				ooms++
			}
		}
		rate := 100 * float64(ooms) / trials
		t.Logf("%d runs, sigma %.2f: %.2f%% of next runs OOM-killed", c.runs, c.sigma, rate)
		if rate < c.low || rate > c.high {
			t.Errorf("%d runs, sigma %.2f: %.2f%% of next runs OOM-killed; want %.1f%%-%.1f%% (target %.1f%%)",
				c.runs, c.sigma, rate, c.low, c.high, 100*(1-p.Quantile))
		}
	}
}

// The sequence of cmd/memory_test.go's TestAutoMemoryConvergesAndAbsorbsASpikeWithOneRetry
// (peaks measured by a cgroup, 2-4 MiB above the nominal; up to 6 here):
// from the third run on each fits at the first attempt with at most 45%
// slack, and a 230 MiB spike is absorbed by exactly one retry. The third run
// has two runs of history: the spread prior keeps its limit in bounds.
func TestConvergesOnTheCLISequence(t *testing.T) {
	p := DefaultParams()
	for overhead := int64(2); overhead <= 6; overhead++ {
		start := now.Add(-time.Hour)
		var runs []Run
		for i, nominal := range []int64{100, 116, 92, 108, 100, 112, 230} {
			at := start.Add(time.Duration(i) * 10 * time.Second)
			peak := (nominal + overhead) * mib
			limit := Recommend(at, runs, nil, p).LimitBytes
			if i == 0 && limit != p.ColdStart {
				t.Errorf("+%d MiB: first run %d MiB, want the cold start", overhead, limit/mib)
			}
			if nominal == 230 {
				next := NextRetryLimit(1, limit, limit, p)
				if limit >= peak || next < peak {
					t.Errorf("+%d MiB: spike: first limit %d MiB, retry %d MiB; want an OOM then a fit at %d MiB", overhead, limit/mib, next/mib, peak/mib)
				}
				break
			}
			if slack := 1 - float64(peak)/float64(limit); i >= 2 && (peak > limit || slack > 0.45) {
				t.Errorf("+%d MiB: run %d (%d MiB): limit %d MiB, slack %.0f%%", overhead, i+1, nominal, limit/mib, 100*slack)
			}
			runs = append(runs, Run{At: at, LimitBytes: limit, PeakBytes: peak})
		}
	}
}

// Growth fitted as growth: without the trend, 60 days of 3%/day growth look
// like a wide spread around a lagging median.
func TestTrendKeepsTheSpreadHonest(t *testing.T) {
	runs := lognormalRuns(60, 1000, 0.05)
	for i := range runs { // daily, the last at ~1000 MiB
		runs[i].At = now.Add(-time.Duration(len(runs)-i) * 24 * time.Hour)
		runs[i].PeakBytes = int64(float64(runs[i].PeakBytes) * math.Pow(1.03, float64(i-len(runs)+1)))
	}
	p := DefaultParams()
	with := Recommend(now, runs, nil, p)
	p.Trend = false
	without := Recommend(now, runs, nil, p)
	if math.Abs(with.TrendPerDay-math.Log(1.03)) > 0.005 || with.Spread > 0.08 {
		t.Errorf("with the trend: %.4f/day, spread %.3f; want %.4f/day, spread about 0.05-0.07", with.TrendPerDay, with.Spread, math.Log(1.03))
	}
	if without.Spread < 0.2 || without.TrendPerDay != 0 {
		t.Errorf("without the trend: spread %.3f, trend %.4f; want a spread above 0.2 and no trend", without.Spread, without.TrendPerDay)
	}
	// A flat connector gets no trend: its estimated slope is noise.
	if flat := Recommend(now, lognormalRuns(200, 1000, 0.1), nil, DefaultParams()); flat.TrendPerDay != 0 {
		t.Errorf("flat connector: trend %.4f/day; want none", flat.TrendPerDay)
	}
}
