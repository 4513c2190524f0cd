package forecast

import (
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
		{name: "new tenant starts from other tenants' runs", prior: tenDays, want: 608 * mib, fromPrior: true},
		{name: "prior fills in until a tenant has MinSamples runs", own: daily(2, 500), prior: daily(10, 4096), want: 4928 * mib, fromPrior: true},
		{name: "own runs win once there are enough", own: daily(3, 500), prior: daily(10, 4096), want: 608 * mib},
		{name: "quantile times margin, rounded tidy", own: spread, mod: func(p *Params) { p.Quantile = 0.85 }, want: 1088 * mib},
		{name: "old runs decay away", own: append(append([]Run(nil), stale...), tenDays...), want: 608 * mib},
		{name: "without decay old runs count fully", own: append(append([]Run(nil), stale...), tenDays...), mod: func(p *Params) { p.HalfLife = 0 }, want: 1472 * mib},
		{name: "recent OOM holds the VPA bump", own: withRun(tenDays, oom), want: 736 * mib, bump: 736 * mib},
		{name: "OOM bump expires after OOMMemory", own: withRun(beforeOldOOM, oldOOM), want: 608 * mib},
		{name: "OOM bump ends when a later run fits the killed limit", own: withRun(withRun(tenDays, oom), Run{At: now.Add(-10 * time.Minute), PeakBytes: 500 * mib}), want: 608 * mib},
		{name: "min clamp", own: daily(5, 10), want: 64 * mib},
		{name: "max clamp", own: daily(5, 10240), mod: func(p *Params) { p.Max = 8 * gib }, want: 8 * gib},
		{name: "old spike followed by normal runs is absorbed", own: spikeYesterday, want: 608 * mib, spikes: 1},
		{name: "with decay only the spike holds the limit up", own: spikeYesterday, mod: func(p *Params) { p.SpikeRatio = 0 }, want: 6 * gib},
		{name: "a fresh spike holds until a normal run follows", own: spikeNow, want: 6 * gib},
		{name: "a step change is not a spike", own: stepChange, want: 6 * gib},
		{name: "runs after now are ignored", own: withRun(tenDays, Run{At: now.Add(time.Hour), PeakBytes: 9 * gib}), want: 608 * mib},
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
	for _, want := range []string{"p90", "half-life", "margin", "OOM at", "bump"} {
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
		"quantile 0":     func(p *Params) { p.Quantile = 0 },
		"quantile 1.5":   func(p *Params) { p.Quantile = 1.5 },
		"margin 0.9":     func(p *Params) { p.Margin = 0.9 },
		"min above max":  func(p *Params) { p.Min, p.Max = 2*gib, gib },
		"no cold start":  func(p *Params) { p.ColdStart = 0 },
		"negative retry": func(p *Params) { p.Retries = -1 },
	}
	for name, mod := range bad {
		p := DefaultParams()
		mod(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
