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

// every returns n successful runs `step` apart ending an hour before now,
// newest last, with peaks median x exp(sigma z) for z at evenly spaced
// normal quantiles in a fixed shuffled order: an exact spread, no randomness.
func every(step time.Duration, n int, medianMiB, sigma float64) []Run {
	runs := make([]Run, n)
	for i := range runs {
		k := (i*37 + 11) % n // a fixed permutation (37 is coprime with the n used)
		z := math.Sqrt2 * math.Erfinv(2*(float64(k)+0.5)/float64(n)-1)
		runs[i] = Run{At: now.Add(-time.Hour - time.Duration(n-1-i)*step), LimitBytes: 8 * gib,
			PeakBytes: int64(medianMiB * math.Exp(sigma*z) * float64(mib))}
	}
	return runs
}

func daily(n int, medianMiB, sigma float64) []Run { return every(24*time.Hour, n, medianMiB, sigma) }

func params() Params {
	p := DefaultParams()
	p.Max = 64 * gib
	return p
}

func mibOf(n int64) int64 { return n / mib }

func TestColdStartWithoutAnyHistory(t *testing.T) {
	rec := Recommend(now, Incremental, nil, nil, params())
	if !rec.ColdStart || rec.LimitBytes != 2*gib {
		t.Errorf("got %d MiB cold=%v; want the 2 GiB cold start", mibOf(rec.LimitBytes), rec.ColdStart)
	}
	p := params()
	p.Max = gib
	if rec := Recommend(now, Incremental, nil, nil, p); rec.LimitBytes != gib {
		t.Errorf("cold start above the maximum: %d MiB; want 1024", mibOf(rec.LimitBytes))
	}
}

// Other tenants' levels are a prior on location, never mixed into the fit:
// two own runs at 500 MiB among other tenants' at 4 GiB forecast 500 MiB
// with a modest spread (today's rule mixed them and gave 13.5 GiB).
func TestOtherTenantsArePriorOnLocationNotPartOfTheFit(t *testing.T) {
	var others []Run
	for i, lvl := range []float64{4096, 3000, 5000} {
		for _, r := range daily(20, lvl, 0.1) {
			r.Tenant = string(rune('a' + i))
			others = append(others, r)
		}
	}
	own := daily(2, 500, 0.05)
	rec := Recommend(now, Incremental, own, others, params())
	if rec.FromPrior || rec.PriorTenants != 3 || rec.LimitBytes > 800*mib || rec.LimitBytes < 520*mib {
		t.Errorf("two own runs at 500 MiB: %d MiB (from prior %v, %d tenants); want 520-800 MiB (%v)",
			mibOf(rec.LimitBytes), rec.FromPrior, rec.PriorTenants, rec.Reasons)
	}
	// With no runs of its own, a tenant gets the other tenants' mean level
	// widened by how much tenants differ.
	rec = Recommend(now, Incremental, nil, others, params())
	if !rec.FromPrior || rec.LevelBytes < 3500*mib || rec.LevelBytes > 4500*mib || rec.LimitBytes < 5*gib {
		t.Errorf("new tenant: level %d MiB, limit %d MiB; want a level near 4 GiB and a wide limit (%v)",
			mibOf(rec.LevelBytes), mibOf(rec.LimitBytes), rec.Reasons)
	}
}

// A spike is judged against the spread: it does not enter the fit, so the
// limit after it (once an ordinary run followed) is what it was before.
func TestASpikeFollowedByAnOrdinaryRunLeavesTheLimitAlone(t *testing.T) {
	base := daily(30, 1000, 0.03)
	before := Recommend(now, Incremental, base, nil, params())
	spiked := append([]Run(nil), base...)
	spiked[25].PeakBytes = int64(2.5 * float64(spiked[25].PeakBytes))
	after := Recommend(now, Incremental, spiked, nil, params())
	if after.Spikes != 1 || after.Segments != 1 {
		t.Errorf("spikes %d, segments %d; want 1 and 1 (%v)", after.Spikes, after.Segments, after.Reasons)
	}
	if d := math.Abs(after.Spread-before.Spread) / before.Spread; d > 0.05 {
		t.Errorf("spread %.4f after the spike, %.4f before: the spike widened the fit", after.Spread, before.Spread)
	}
	if r := float64(after.LimitBytes) / float64(before.LimitBytes); r > 1.03 {
		t.Errorf("limit %d MiB after the spike, %d MiB before", mibOf(after.LimitBytes), mibOf(before.LimitBytes))
	}
}

// Two high runs in a row that agree are a change point: the new segment's
// level is theirs, its spread the pooled one, so the limit is tight again.
func TestTwoHighRunsInARowStartANewSegment(t *testing.T) {
	runs := every(time.Hour, 100, 1000, 0.1)
	for _, k := range []int{98, 99} {
		runs[k].PeakBytes *= 2
	}
	rec := Recommend(now, Incremental, runs, nil, params())
	if rec.Segments != 2 || rec.SegmentRuns != 2 {
		t.Fatalf("segments %d, runs in the last %d; want 2 and 2 (%v)", rec.Segments, rec.SegmentRuns, rec.Reasons)
	}
	if rec.LimitBytes < 2300*mib || rec.LimitBytes > 3300*mib {
		t.Errorf("limit %d MiB; want the new level's (2 GiB) with the pooled spread: 2.3-3.3 GiB (%v)", mibOf(rec.LimitBytes), rec.Reasons)
	}
}

// A step down waits for three low runs (it only costs slack), then the limit
// follows the new level.
func TestThreeLowRunsStartANewSegmentTwoDoNot(t *testing.T) {
	runs := every(time.Hour, 100, 1000, 0.1)
	for k := 97; k < 100; k++ {
		runs[k].PeakBytes /= 2
	}
	two := Recommend(now.Add(-time.Hour), Incremental, runs[:99], nil, params())
	three := Recommend(now, Incremental, runs, nil, params())
	if two.Segments != 1 || two.LimitBytes < gib {
		t.Errorf("after two low runs: %d segments, %d MiB; want the old level kept", two.Segments, mibOf(two.LimitBytes))
	}
	if three.Segments != 2 || three.LimitBytes > 800*mib {
		t.Errorf("after three low runs: %d segments, %d MiB; want the new level (500 MiB) (%v)", three.Segments, mibOf(three.LimitBytes), three.Reasons)
	}
}

// One high outlier with nothing after it may be a spike or a new level.
// After 100 quiet runs a new level is likely enough to cover; among few runs
// just after another spike it is not (a retry absorbs it).
func TestAFreshOutlierIsCoveredWhenANewLevelIsLikely(t *testing.T) {
	quiet := every(time.Hour, 100, 1000, 0.1)
	quiet[99].PeakBytes *= 2
	if rec := Recommend(now, Incremental, quiet, nil, params()); rec.PendingOutliers != 1 || rec.LimitBytes < quiet[99].PeakBytes {
		t.Errorf("after 100 quiet runs: %d MiB, pending %d; want the outlier (%d MiB) covered (%v)",
			mibOf(rec.LimitBytes), rec.PendingOutliers, mibOf(quiet[99].PeakBytes), rec.Reasons)
	}
	spiky := daily(8, 1000, 0.03)
	spiky[3].PeakBytes = int64(2.5 * float64(spiky[3].PeakBytes))
	spiky[7].PeakBytes = int64(2.5 * float64(spiky[7].PeakBytes))
	if rec := Recommend(now, Incremental, spiky, nil, params()); rec.PendingOutliers != 1 || rec.LimitBytes > 1300*mib {
		t.Errorf("a second spike among 8 runs: %d MiB; want it left to a retry (%v)", mibOf(rec.LimitBytes), rec.Reasons)
	}
}

// A full refresh has its own forecast: weekly full refreshes at 5x neither
// raise the incremental limit nor go uncovered.
func TestFullRefreshesAreForecastApart(t *testing.T) {
	runs := daily(42, 300, 0.1)
	for i := range runs {
		runs[i].Kind = Incremental
		if i%7 == 0 {
			runs[i].Kind = Full
			runs[i].PeakBytes *= 5
		}
	}
	inc := Recommend(now, Incremental, runs, nil, params())
	full := Recommend(now, Full, runs, nil, params())
	if inc.Basis != "incremental runs" || inc.LimitBytes > 450*mib {
		t.Errorf("incremental: %d MiB from %s; want < 450 MiB from incremental runs", mibOf(inc.LimitBytes), inc.Basis)
	}
	if full.Basis != "full refreshes" || full.LimitBytes < 1700*mib || full.LimitBytes > 2600*mib {
		t.Errorf("full: %d MiB from %s; want 1.7-2.6 GiB from full refreshes (%v)", mibOf(full.LimitBytes), full.Basis, full.Reasons)
	}
	// Unknown kinds (older history): every run counts.
	if all := Recommend(now, "", runs, nil, params()); all.Basis != "all runs" {
		t.Errorf("unknown kind forecast from %s", all.Basis)
	}
}

// Spikes that recur on a schedule get their own forecast when the next one
// is due, and only then.
func TestAPeriodicSpikeIsCoveredWhenDue(t *testing.T) {
	runs := daily(29, 300, 0.1) // the last run is an hour before now
	for i := len(runs) - 1 - 6; i >= 0; i -= 7 {
		runs[i].PeakBytes *= 5
	}
	due := now.Add(-time.Hour + 24*time.Hour) // 7 days after the last spike
	onTime := Recommend(due, "", runs, nil, params())
	dayBefore := Recommend(due.Add(-24*time.Hour), "", runs, nil, params())
	if !onTime.PeriodicDue || onTime.LimitBytes < 1500*mib {
		t.Errorf("when due: %d MiB, due %v; want the 5x spike covered (%v)", mibOf(onTime.LimitBytes), onTime.PeriodicDue, onTime.Reasons)
	}
	if dayBefore.PeriodicDue || dayBefore.LimitBytes > 450*mib {
		t.Errorf("a day early: %d MiB, due %v; want the ordinary limit", mibOf(dayBefore.LimitBytes), dayBefore.PeriodicDue)
	}
}

// The OOM bump holds only for a kill that no later success explains.
func TestTheOOMBumpHoldsOnlyForUnexplainedKills(t *testing.T) {
	runs := daily(20, 500, 0.1)
	kill := Run{At: now.Add(-30 * time.Minute), LimitBytes: 700 * mib, PeakBytes: 700 * mib, OOM: true}
	lost := append(append([]Run(nil), runs...), kill)
	if rec := Recommend(now, Incremental, lost, nil, params()); rec.OOMBumpBytes != 848*mib || rec.LimitBytes < 848*mib {
		t.Errorf("after an unexplained kill: bump %d MiB, limit %d MiB; want the VPA bump 848 MiB", mibOf(rec.OOMBumpBytes), mibOf(rec.LimitBytes))
	}
	retried := append(append([]Run(nil), lost...), Run{At: now.Add(-29 * time.Minute), LimitBytes: 1400 * mib, PeakBytes: 720 * mib})
	if rec := Recommend(now, Incremental, retried, nil, params()); rec.OOMBumpBytes != 0 {
		t.Errorf("a kill its retry explained still holds a bump of %d MiB", mibOf(rec.OOMBumpBytes))
	}
}

// Rounding is fine-grained: at 170 MiB it adds at most 1 MiB.
func TestRoundingDoesNotDominateSmallConnectors(t *testing.T) {
	for _, c := range []struct{ n, want int64 }{{170*mib + 1, 171 * mib}, {1000 * mib, 1000 * mib}, {1000*mib + 1, 1004 * mib}, {25*gib + 1, 25*gib + 128*mib}} {
		if got := roundLimit(c.n); got != c.want {
			t.Errorf("roundLimit(%d) = %d; want %d", c.n, got, c.want)
		}
	}
}

// Retries come from the model given the kill: a tight connector's near miss
// gets a little more, the last retry after a cold start reaches the maximum,
// and a connector whose spikes are known gets them covered by its last retry.
func TestRetriesAreConditionedOnTheKill(t *testing.T) {
	p := params()
	cold := Recommend(now, Incremental, nil, nil, p)
	if got := cold.RetryLimit(p.Retries, 8*gib, p); got != p.Max {
		t.Errorf("last retry after a cold start: %d MiB; want the maximum %d MiB", mibOf(got), mibOf(p.Max))
	}
	runs := every(time.Hour, 300, 1000, 0.05)
	for k := 20; k < 300; k += 60 { // spikes of 6x, each followed by ordinary runs
		runs[k].PeakBytes *= 6
	}
	rec := Recommend(now, Incremental, runs, nil, p)
	if rec.Spikes != 5 {
		t.Fatalf("%d spikes seen; want 5 (%v)", rec.Spikes, rec.Reasons)
	}
	last := rec.RetryLimit(p.Retries, rec.LimitBytes, p)
	if last < 6*gib || last > 20*gib {
		t.Errorf("last retry %d MiB; want the known 6x spikes covered without reaching for the machine", mibOf(last))
	}
	if first := rec.RetryLimit(1, rec.LimitBytes, p); first <= rec.LimitBytes {
		t.Errorf("first retry %d MiB is not above the killed %d MiB", mibOf(first), mibOf(rec.LimitBytes))
	}
	// Escalation is exhausted at the maximum.
	if got := rec.RetryLimit(1, p.Max, p); got > p.Max {
		t.Errorf("retry above the maximum: %d MiB", mibOf(got))
	}
}

// A run needing several times its usual memory completes within the default
// retries, starting from the limit the forecaster gives.
func TestAGiantRunCompletesWithinTheRetries(t *testing.T) {
	p := params()
	usual := daily(30, 500, 0.1)
	for _, times := range []float64{2, 5, 8, 10} {
		need := int64(times * 500 * float64(mib))
		rec := Recommend(now, Incremental, usual, nil, p)
		limit := rec.LimitBytes
		for attempt := 1; need > limit && attempt <= p.Retries; attempt++ {
			limit = rec.RetryLimit(attempt, limit, p)
		}
		if need > limit {
			t.Errorf("a run needing %gx its usual memory is lost (last limit %d MiB)", times, mibOf(limit))
		}
	}
}

func TestRecommendIsPureAndLeavesItsInputAlone(t *testing.T) {
	own := daily(20, 500, 0.1)
	own[5].PeakBytes = 3 * gib
	own[3], own[4] = own[4], own[3] // out of order
	before := append([]Run(nil), own...)
	a := Recommend(now, Incremental, own, nil, params())
	b := Recommend(now, Incremental, own, nil, params())
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two calls differ: %+v vs %+v", a, b)
	}
	if !reflect.DeepEqual(own, before) {
		t.Errorf("Recommend changed its input")
	}
	if c := Recommend(now, Incremental, append(own, Run{At: now.Add(time.Hour), PeakBytes: 9 * gib}), nil, params()); c.LimitBytes != a.LimitBytes {
		t.Errorf("a run after now changed the limit: %d vs %d MiB", mibOf(c.LimitBytes), mibOf(a.LimitBytes))
	}
}

func TestReasonsExplainTheFigure(t *testing.T) {
	runs := every(time.Hour, 100, 1000, 0.1)
	runs[99].PeakBytes *= 2
	rec := Recommend(now, Incremental, runs, nil, params())
	all := strings.Join(rec.Reasons, "; ")
	for _, want := range []string{"segment", "spikes seen", "pooled spread", "expected cost", "kill price", "new level"} {
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
		"outlier threshold 0": func(p *Params) { p.OutlierZ = 0 },
		"no runs to a step":   func(p *Params) { p.StepHighRuns = 0 },
		"spread prior 0":      func(p *Params) { p.SpreadPrior = 0 },
		"spike rate 1":        func(p *Params) { p.SpikeRate = 1 },
		"spike size 0.5":      func(p *Params) { p.SpikeSize = 0.5 },
		"negative kill price": func(p *Params) { p.KillPrice = -1 },
		"last retry risk 0":   func(p *Params) { p.LastRetryRisk = 0 },
		"min above max":       func(p *Params) { p.Min, p.Max = 2*gib, gib },
		"no cold start":       func(p *Params) { p.ColdStart = 0 },
		"negative retries":    func(p *Params) { p.Retries = -1 },
	}
	for name, mod := range bad {
		p := DefaultParams()
		mod(&p)
		err := p.Validate()
		if err == nil {
			t.Errorf("%s accepted", name)
		} else if strings.Contains(err.Error(), "--") {
			t.Errorf("%s: %q names a flag; the caller names its flags", name, err)
		}
	}
}

// The model is calibrated: over many log-normal histories the share of next
// runs that exceed the limit is close to the kill chance the model reports.
func TestTheReportedKillChanceIsCalibrated(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	p := params()
	for _, sigma := range []float64{0.05, 0.15, 0.40} {
		const trials = 2000
		kills, predicted := 0, 0.0
		runs := make([]Run, 100)
		for range trials {
			for i := range runs {
				runs[i] = Run{At: now.Add(-time.Duration(100-i) * time.Hour), LimitBytes: 64 * gib,
					PeakBytes: int64(1000 * math.Exp(sigma*rng.NormFloat64()) * float64(mib))}
			}
			rec := Recommend(now, Incremental, runs, nil, p)
			predicted += rec.KillChance
			if next := int64(1000 * math.Exp(sigma*rng.NormFloat64()) * float64(mib)); next > rec.LimitBytes {
				kills++
			}
		}
		rate, want := float64(kills)/trials, predicted/trials
		t.Logf("sigma %.2f: %.2f%% of next runs killed, model said %.2f%%", sigma, 100*rate, 100*want)
		if rate > 2.5*want+0.003 || rate < want/2.5-0.003 {
			t.Errorf("sigma %.2f: %.2f%% killed; the model said %.2f%%", sigma, 100*rate, 100*want)
		}
	}
}

// The sequence of cmd/memory_test.go's TestAutoMemoryConvergesAndAbsorbsASpikeWithOneRetry
// (peaks measured by a cgroup, 2-6 MiB above the nominal): from the third run
// on each fits at the first attempt with at most 45% slack, and a 230 MiB
// spike is absorbed by exactly one retry.
func TestConvergesOnTheCLISequence(t *testing.T) {
	p := params()
	for overhead := int64(2); overhead <= 6; overhead++ {
		start := now.Add(-time.Hour)
		var runs []Run
		for i, nominal := range []int64{100, 116, 92, 108, 100, 112, 230} {
			at := start.Add(time.Duration(i) * 10 * time.Second)
			peak := (nominal + overhead) * mib
			rec := Recommend(at, Full, runs, nil, p)
			limit := rec.LimitBytes
			if i == 0 && !rec.ColdStart {
				t.Errorf("+%d MiB: first run %d MiB, want the cold start", overhead, mibOf(limit))
			}
			if nominal == 230 {
				next := rec.RetryLimit(1, limit, p)
				if limit >= peak || next < peak {
					t.Errorf("+%d MiB: spike: first limit %d MiB, retry %d MiB; want a kill, then a fit at %d MiB", overhead, mibOf(limit), mibOf(next), mibOf(peak))
				}
				break
			}
			if slack := 1 - float64(peak)/float64(limit); i >= 2 && (peak > limit || slack > 0.45) {
				t.Errorf("+%d MiB: run %d (%d MiB): limit %d MiB, slack %.0f%%", overhead, i+1, nominal, mibOf(limit), 100*slack)
			}
			runs = append(runs, Run{At: at, LimitBytes: limit, PeakBytes: peak, Kind: Full})
		}
	}
}

// Growth fitted as growth: 60 days of 3%/day are a line with a tight spread,
// not a wide spread around a lagging level; a flat connector gets no trend.
func TestTrendKeepsTheSpreadHonest(t *testing.T) {
	runs := daily(60, 1000, 0.05)
	for i := range runs {
		runs[i].PeakBytes = int64(float64(runs[i].PeakBytes) * math.Pow(1.03, float64(i-len(runs)+1)))
	}
	rec := Recommend(now, Incremental, runs, nil, params())
	if math.Abs(rec.TrendPerDay-math.Log(1.03)) > 0.005 || rec.Spread > 0.08 || rec.Segments != 1 {
		t.Errorf("trend %.4f/day, spread %.3f, %d segments; want %.4f/day, about 0.05, one segment (%v)",
			rec.TrendPerDay, rec.Spread, rec.Segments, math.Log(1.03), rec.Reasons)
	}
	if flat := Recommend(now, Incremental, every(time.Hour, 200, 1000, 0.1), nil, params()); flat.TrendPerDay != 0 {
		t.Errorf("flat connector: trend %.4f/day; want none", flat.TrendPerDay)
	}
}

// Whatever the history (zero or absurd peaks, kills only, runs out of
// order, other tenants, kinds), the limit stays within [Min, Max] and a
// retry escalates or says it cannot.
func TestAnyHistoryGivesABoundedLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	p := params()
	p.Min, p.Max = 64*mib, 32*gib
	kinds := []Kind{"", Full, Incremental}
	for trial := range 300 {
		n := rng.IntN(60)
		var own, prior []Run
		for i := range n {
			r := Run{At: now.Add(-time.Duration(rng.IntN(30*24)) * time.Hour), Kind: kinds[rng.IntN(3)],
				LimitBytes: rng.Int64N(64 * gib), OOM: rng.IntN(5) == 0}
			switch rng.IntN(6) {
			case 0:
				r.PeakBytes = 0
			case 1:
				r.PeakBytes = 1 << 50
			default:
				r.PeakBytes = int64(float64(gib) * math.Exp(rng.NormFloat64()))
			}
			if i%3 == 0 {
				r.Tenant = "other"
				prior = append(prior, r)
			} else {
				own = append(own, r)
			}
		}
		rec := Recommend(now, kinds[trial%3], own, prior, p)
		if rec.LimitBytes < p.Min || rec.LimitBytes > p.Max {
			t.Fatalf("trial %d: limit %d outside [%d, %d] (%v)", trial, rec.LimitBytes, p.Min, p.Max, rec.Reasons)
		}
		for attempt := 1; attempt <= p.Retries; attempt++ {
			next := rec.RetryLimit(attempt, rec.LimitBytes, p)
			if next > p.Max || (next <= rec.LimitBytes && rec.LimitBytes < p.Max) {
				t.Fatalf("trial %d: retry %d after %d gave %d (max %d)", trial, attempt, rec.LimitBytes, next, p.Max)
			}
		}
	}
}
