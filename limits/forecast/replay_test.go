package forecast

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"syncbox/limits"
)

// The replay drives the real recommender through a generated, seeded trace
// of sync runs (no containers) and compares it with static limits and a
// VPA-style recommender on the same trace.
//
// Simulation rules, the same for every policy:
//   - a run's peak is fixed by the trace; an attempt whose limit is below it
//     is OOM-killed and recorded with peak = limit (a lower bound);
//   - syncbox retries with NextRetryLimit up to Params.Retries times; the
//     VPA-style policy retries with the VPA bump, also 2 times (fairness);
//     static limits cannot change, so their OOM is a failure for good;
//   - slack = sum(limit-peak)/sum(limit) over successful attempts only; the
//     memory of OOM-killed attempts is reported apart as "waste", assuming an
//     attempt is killed halfway through: 0.5*sum(killed limits)/sum(limits).

// connType is one connector type in the trace. The figures were set before
// any policy was run and are not tuned to it.
type connType struct {
	name      string
	medianMiB float64       // median peak of a typical tenant at day 0
	sigma     float64       // log-normal spread of one run's peak
	every     time.Duration // schedule
	growth    float64       // per day, compounding
	tenants   int
}

var traceTypes = []connType{
	{"tap-postgres-cdc", 400, 0.08, time.Hour, 0.002, 3},
	{"tap-mongodb", 2560, 0.12, 2 * time.Hour, 0.001, 2},
	{"tap-salesforce", 900, 0.15, 6 * time.Hour, 0.003, 3},
	{"tap-hubspot", 300, 0.25, 4 * time.Hour, 0.004, 3},
	{"tap-s3-csv", 1536, 0.40, 24 * time.Hour, 0.005, 2},
}

const (
	traceDays  = 60
	giantOdds  = 200 // one run in giantOdds is a giant
	giantMin   = 5.0 // giants are 5-10x the run they replace
	giantMax   = 10.0
	historyCap = 1000 // the history store keeps this many runs per key
)

type traceRun struct {
	conn, tenant string
	at           time.Time
	peak         int64
	giant        bool
	p99          int64 // of this run's distribution, for the oracle
}

func (r traceRun) key() string { return r.conn + "/" + r.tenant }

// genTrace makes the trace: tenants differ in size (log-normal, sigma 0.5),
// join at day 0, 12, 24... so later ones start from the prior, and every run
// may be a giant.
func genTrace(seed uint64) []traceRun {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(traceDays * 24 * time.Hour)
	var out []traceRun
	for _, c := range traceTypes {
		for t := 0; t < c.tenants; t++ {
			scale := math.Exp(0.5 * rng.NormFloat64())
			offset := time.Duration(rng.Int64N(int64(c.every)))
			for at := start.Add(time.Duration(t)*12*24*time.Hour + offset); at.Before(end); at = at.Add(c.every) {
				days := at.Sub(start).Hours() / 24
				median := c.medianMiB * scale * math.Pow(1+c.growth, days)
				peak := median * math.Exp(c.sigma*rng.NormFloat64())
				giant := rng.IntN(giantOdds) == 0
				if giant {
					peak *= giantMin + (giantMax-giantMin)*rng.Float64()
				}
				out = append(out, traceRun{conn: c.name, tenant: fmt.Sprintf("t%d", t), at: at, peak: int64(peak * float64(mib)), giant: giant,
					p99: int64(median * math.Exp(2.326*c.sigma) * float64(mib))})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// policy chooses limits; history is recorded by the replay loop.
type policy interface {
	name() string
	// first is the limit of a run's first attempt.
	first(r traceRun, h *hist) int64
	// retry returns the limit of retry number attempt, or false if the
	// policy cannot retry.
	retry(attempt int, lastLimit int64) (int64, bool)
}

// hist is the replay's history: every attempt per key, capped like the store.
type hist struct {
	byKey  map[string][]Run
	byConn map[string][]string // keys per connector, in order of first run
}

func (h *hist) add(r traceRun, run Run) {
	k := r.key()
	if _, ok := h.byKey[k]; !ok {
		h.byConn[r.conn] = append(h.byConn[r.conn], k)
	}
	runs := append(h.byKey[k], run)
	if len(runs) > historyCap {
		runs = runs[len(runs)-historyCap:]
	}
	h.byKey[k] = runs
}

func (h *hist) prior(r traceRun) []Run {
	out := make([]Run, 0, 2*historyCap)
	for _, k := range h.byConn[r.conn] {
		if k != r.key() {
			out = append(out, h.byKey[k]...)
		}
	}
	return out
}

type syncboxPolicy struct {
	label string
	p     Params
}

func (s syncboxPolicy) name() string { return s.label }
func (s syncboxPolicy) first(r traceRun, h *hist) int64 {
	return Recommend(r.at, h.byKey[r.key()], h.prior(r), s.p).LimitBytes
}
func (s syncboxPolicy) retry(attempt int, last int64) (int64, bool) {
	if attempt > s.p.Retries {
		return 0, false
	}
	next := NextRetryLimit(attempt, last, last, s.p)
	return next, next > last
}

// staticPolicy is an operator's fixed limit: k times the key's median peak
// over the whole trace (an oracle median, which favours it).
type staticPolicy struct {
	k      float64
	median map[string]int64
}

func (s staticPolicy) name() string { return fmt.Sprintf("static %gx median", s.k) }
func (s staticPolicy) first(r traceRun, _ *hist) int64 {
	return limits.RoundUpTidy(int64(s.k * float64(s.median[r.key()])))
}
func (s staticPolicy) retry(int, int64) (int64, bool) { return 0, false }

// vpaPolicy follows the Kubernetes VPA recommender: decaying histogram of
// peaks (half-life 24h), 90th percentile target plus 15% margin, and an OOM
// adds a sample at the bump max(peak+100MiB, 1.2x peak). Histogram buckets
// and the 250MiB minimum are left out (both would only add slack); with no
// history it uses the same cold start as syncbox, and it retries with its
// bump twice.
type vpaPolicy struct{ coldStart int64 }

func (vpaPolicy) name() string { return "VPA-style p90+15%" }
func (v vpaPolicy) first(r traceRun, h *hist) int64 {
	runs := h.byKey[r.key()]
	if len(runs) == 0 {
		return v.coldStart
	}
	var s []sample
	for _, x := range runs {
		peak := x.PeakBytes
		if x.OOM {
			peak = limits.OOMBump(max(x.PeakBytes, x.LimitBytes))
		}
		w := math.Exp2(-float64(r.at.Sub(x.At)) / float64(24*time.Hour))
		s = append(s, sample{peak: float64(peak), weight: w})
	}
	slices.SortFunc(s, func(a, b sample) int { return cmp.Compare(a.peak, b.peak) })
	return int64(weightedQuantile(s, 0.90) * 1.15)
}
func (vpaPolicy) retry(attempt int, last int64) (int64, bool) {
	if attempt > 2 {
		return 0, false
	}
	return limits.OOMBump(last), true
}

// oraclePolicy knows each run's true distribution (median at that time and
// spread) and sets the limit at its 99th percentile: the floor of slack any
// policy reaches at about 1 ordinary OOM per 100 runs. It retries like syncbox.
type oraclePolicy struct{ p Params }

func (oraclePolicy) name() string { return "oracle p99 (knows the distribution)" }
func (o oraclePolicy) first(r traceRun, _ *hist) int64 {
	return limits.RoundUpTidy(r.p99)
}
func (o oraclePolicy) retry(attempt int, last int64) (int64, bool) {
	return syncboxPolicy{p: o.p}.retry(attempt, last)
}

type outcome struct {
	policy                        string
	runs, attempts, ooms, failed  int
	limitOK, peakOK, limitKilled  float64
	giantRuns, giantFailed        int
	spikeRetries, ordinaryRetries int
	// first-attempt successes alone, and successes per connector type
	limitFirst, peakFirst   float64
	limitByConn, peakByConn map[string]float64
	runsByConn, oomsByConn  map[string]int
}

func (o outcome) slack() float64     { return 100 * (o.limitOK - o.peakOK) / o.limitOK }
func (o outcome) oomPer100() float64 { return 100 * float64(o.ooms) / float64(o.runs) }
func (o outcome) waste() float64     { return 100 * 0.5 * o.limitKilled / o.limitOK }
func (o outcome) connOOM(c string) float64 {
	return 100 * float64(o.oomsByConn[c]) / float64(o.runsByConn[c])
}
func (o outcome) connSlack(c string) float64 {
	return 100 * (o.limitByConn[c] - o.peakByConn[c]) / o.limitByConn[c]
}

// replay runs the trace through one policy.
func replay(trace []traceRun, pol policy) outcome {
	h := &hist{byKey: map[string][]Run{}, byConn: map[string][]string{}}
	o := outcome{policy: pol.name(), limitByConn: map[string]float64{}, peakByConn: map[string]float64{},
		runsByConn: map[string]int{}, oomsByConn: map[string]int{}}
	for _, r := range trace {
		o.runs++
		o.runsByConn[r.conn]++
		if r.giant {
			o.giantRuns++
		}
		limit := pol.first(r, h)
		for attempt := 0; ; attempt++ {
			at := r.at.Add(time.Duration(attempt) * time.Minute)
			o.attempts++
			if r.peak <= limit {
				o.limitOK += float64(limit)
				o.peakOK += float64(r.peak)
				o.limitByConn[r.conn] += float64(limit)
				o.peakByConn[r.conn] += float64(r.peak)
				if attempt == 0 {
					o.limitFirst += float64(limit)
					o.peakFirst += float64(r.peak)
				}
				h.add(r, Run{At: at, LimitBytes: limit, PeakBytes: r.peak})
				break
			}
			o.ooms++
			o.oomsByConn[r.conn]++
			if r.giant {
				o.spikeRetries++
			} else {
				o.ordinaryRetries++
			}
			o.limitKilled += float64(limit)
			h.add(r, Run{At: at, LimitBytes: limit, PeakBytes: limit, OOM: true})
			next, ok := pol.retry(attempt+1, limit)
			if !ok {
				o.failed++
				if r.giant {
					o.giantFailed++
				}
				break
			}
			limit = next
		}
	}
	return o
}

func medians(trace []traceRun) map[string]int64 {
	by := map[string][]int64{}
	for _, r := range trace {
		by[r.key()] = append(by[r.key()], r.peak)
	}
	out := map[string]int64{}
	for k, v := range by {
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		out[k] = v[len(v)/2]
	}
	return out
}

// replayParams is DefaultParams with the machine size the replay assumes.
func replayParams() Params {
	p := DefaultParams()
	p.Max = 64 * gib
	return p
}

// empiricalParams is the rule before the log-normal fit: p90 of the decayed
// peaks times 1.2.
func empiricalParams() Params {
	p := replayParams()
	p.Empirical, p.Quantile, p.Margin = true, 0.90, 1.20
	return p
}

func shortDur(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

func printOutcomes(w io.Writer, title string, rows []outcome) {
	fmt.Fprintf(w, "\n%s\n", title)
	fmt.Fprintf(w, "%-38s %7s %10s %7s %7s %9s %13s\n", "policy", "slack%", "OOM/100run", "failed", "waste%", "attempts", "daily slack%")
	for _, o := range rows {
		daily := traceTypes[len(traceTypes)-1].name
		fmt.Fprintf(w, "%-38s %7.1f %10.2f %7d %7.1f %9d %13.1f\n", o.policy, o.slack(), o.oomPer100(), o.failed, o.waste(), o.attempts,
			100*(o.limitByConn[daily]-o.peakByConn[daily])/o.limitByConn[daily])
	}
}

func BenchmarkReplay(b *testing.B) {
	trace := genTrace(1)
	giants := 0
	for _, r := range trace {
		if r.giant {
			giants++
		}
	}
	def := replayParams()
	for i := 0; i < b.N; i++ {
		w := os.Stdout
		fmt.Fprintf(w, "\nreplay: seed 1, %d runs over %d days, %d connector types, %d giant runs (1 in %d at %g-%gx)\n",
			len(trace), traceDays, len(traceTypes), giants, giantOdds, giantMin, giantMax)
		med := medians(trace)
		main := []outcome{
			replay(trace, staticPolicy{2, med}),
			replay(trace, staticPolicy{4, med}),
			replay(trace, vpaPolicy{coldStart: def.ColdStart}),
			replay(trace, oraclePolicy{def}),
			replay(trace, syncboxPolicy{"syncbox before: p90 x1.2 of peaks", empiricalParams()}),
			replay(trace, syncboxPolicy{"syncbox (defaults)", def}),
		}
		printOutcomes(w, "policies on the same trace (slack over successful attempts; waste = killed attempts, half their limit)", main)
		for i, n := range []string{"static2x", "static4x", "vpa", "oracle", "before", "syncbox"} {
			o := main[i]
			b.ReportMetric(o.slack(), n+"_slack%")
			b.ReportMetric(o.oomPer100(), n+"_oom/100runs")
			b.ReportMetric(float64(o.failed), n+"_failed")
		}
		sb := main[len(main)-1]
		fmt.Fprintf(w, "syncbox retries: %d for giant runs, %d for ordinary runs; giants failed for good: %d; slack of first attempts alone %.1f%%\n",
			sb.spikeRetries, sb.ordinaryRetries, sb.giantFailed, 100*(sb.limitFirst-sb.peakFirst)/sb.limitFirst)
		fmt.Fprintf(w, "per connector type: slack%% (OOM kills per 100 runs)     syncbox          before          oracle\n")
		for _, c := range traceTypes {
			fmt.Fprintf(w, "  %-16s (sigma %.2f, every %3s)", c.name, c.sigma, shortDur(c.every))
			for _, o := range []outcome{sb, main[len(main)-2], main[3]} {
				fmt.Fprintf(w, "   %5.1f (%4.1f)", o.connSlack(c.name), o.connOOM(c.name))
			}
			fmt.Fprintln(w)
		}

		var rows []outcome
		for _, q := range []float64{0.98, 0.985, 0.99, 0.995} {
			for _, m := range []float64{1.0, 1.02, 1.05} {
				p := def
				p.Quantile, p.Margin = q, m
				rows = append(rows, replay(trace, syncboxPolicy{fmt.Sprintf("syncbox q=%.3f margin=%.2f", q, m), p}))
			}
		}
		printOutcomes(w, "trade-off: quantile of the fitted next-run peak x margin", rows)

		rows = nil
		for _, qm := range [][2]float64{{0.90, 1.1}, {0.90, 1.2}, {0.95, 1.1}, {0.98, 1.1}} {
			p := empiricalParams()
			p.Quantile, p.Margin = qm[0], qm[1]
			rows = append(rows, replay(trace, syncboxPolicy{fmt.Sprintf("before: p%.0f x%.2f of peaks", 100*qm[0], qm[1]), p}))
		}
		for _, v := range []struct {
			label string
			mod   func(*Params)
		}{
			{"fit without trend", func(p *Params) { p.Trend = false }},
			{"fit, spread prior 0.10 x 3 runs", func(p *Params) { p.SpreadPriorRuns = 3 }},
			{"fit, spread prior 0.10 x 30 runs", func(p *Params) { p.SpreadPriorRuns = 30 }},
			{"fit, spread prior 0.20 x 10 runs", func(p *Params) { p.SpreadPrior = 0.2 }},
			{"fit, giants covered above 25%", func(p *Params) { p.SpikeCover = 0.25 }},
			{"fit, giants covered above 1%", func(p *Params) { p.SpikeCover = 0.01 }},
		} {
			p := def
			v.mod(&p)
			rows = append(rows, replay(trace, syncboxPolicy{v.label, p}))
		}
		printOutcomes(w, "the rule before (empirical quantile x margin) and parts of the fit", rows)

		rows = nil
		for _, d := range []time.Duration{0, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour, 7 * 24 * time.Hour, -1} {
			p := def
			label := fmt.Sprintf("syncbox spike held %s", d)
			if d < 0 {
				p.SpikeRatio = 0
				label = "syncbox spike held (decay only)"
			}
			p.SpikeMemory = d
			rows = append(rows, replay(trace, syncboxPolicy{label, p}))
		}
		printOutcomes(w, "how long one giant run keeps the limit up (SpikeMemory)", rows)
		printSpikeHold(w, def)

		rows = nil
		for _, d := range []time.Duration{0, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour, 7 * 24 * time.Hour} {
			p := def
			p.OOMMemory = d
			rows = append(rows, replay(trace, syncboxPolicy{fmt.Sprintf("syncbox OOM bump held %s", d), p}))
		}
		printOutcomes(w, "how long an OOM bump holds (OOMMemory)", rows)

		rows = nil
		for _, hl := range []time.Duration{24 * time.Hour, 72 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour} {
			p := def
			p.HalfLife = hl
			rows = append(rows, replay(trace, syncboxPolicy{fmt.Sprintf("syncbox half-life %s", hl), p}))
		}
		printOutcomes(w, "half-life", rows)

		rows = nil
		for _, fr := range [][2]float64{{1.2, 0}, {2, 0}, {3, 0}, {2, 6}, {2, 10}, {3, 12}} {
			p := def
			p.RetryFactor, p.RetryReach = fr[0], fr[1]
			rows = append(rows, replay(trace, syncboxPolicy{fmt.Sprintf("syncbox retry x%g, last reaches %gx", fr[0], fr[1]), p}))
		}
		printOutcomes(w, "retry escalation (x factor per retry, the last reaching 'reach' times the first limit; 0 = no jump)", rows)

		rows = nil
		for seed := uint64(2); seed <= 5; seed++ {
			tr := genTrace(seed)
			rows = append(rows, replay(tr, oraclePolicy{def}))
			rows[len(rows)-1].policy = fmt.Sprintf("oracle p99, seed %d", seed)
			rows = append(rows, replay(tr, syncboxPolicy{fmt.Sprintf("before: p90 x1.2, seed %d", seed), empiricalParams()}))
			rows = append(rows, replay(tr, syncboxPolicy{fmt.Sprintf("syncbox defaults, seed %d", seed), def}))
		}
		printOutcomes(w, "other seeds", rows)
	}
}

// TestReplayKeepsTheGoals replays the seeded trace with the defaults: no run
// may fail for good, OOM retries stay within 2 per 100 runs, and the slack
// stays well below a static 2x-median limit and near the oracle's floor.
func TestReplayKeepsTheGoals(t *testing.T) {
	if testing.Short() {
		t.Skip("replay takes a second or two")
	}
	trace := genTrace(1)
	sb := replay(trace, syncboxPolicy{"syncbox", replayParams()})
	static := replay(trace, staticPolicy{2, medians(trace)})
	oracle := replay(trace, oraclePolicy{replayParams()})
	if sb.failed != 0 {
		t.Errorf("%d runs failed for good", sb.failed)
	}
	if sb.oomPer100() > 2 {
		t.Errorf("%.2f OOM retries per 100 runs; want <= 2", sb.oomPer100())
	}
	if sb.slack() >= static.slack() || sb.slack() > oracle.slack()+5 {
		t.Errorf("slack %.1f%%; static 2x median %.1f%%, oracle %.1f%%", sb.slack(), static.slack(), oracle.slack())
	}
	// The fit beats the rule before it (p90 x1.2 of peaks) on slack without
	// more OOM kills, and gives the tightest connector a tighter limit.
	before := replay(trace, syncboxPolicy{"before", empiricalParams()})
	if sb.slack() >= before.slack() || sb.oomPer100() > before.oomPer100() {
		t.Errorf("fit: %.1f%% slack, %.2f OOM/100; p90 x1.2 before: %.1f%%, %.2f", sb.slack(), sb.oomPer100(), before.slack(), before.oomPer100())
	}
	tight := traceTypes[0].name
	if s, b := sb.connSlack(tight), before.connSlack(tight); s >= b-2 {
		t.Errorf("%s slack %.1f%%, before %.1f%%: want at least 2 points less", tight, s, b)
	}
}

// spikeHold replays one connector with a steady peak on a schedule and one
// 5x giant run among them, recorded as the replay records it (two killed
// attempts, then the escalated success), and returns how long after the
// giant the recommended limit stays above the steady limit.
func spikeHold(every time.Duration, p Params) time.Duration {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steady := 500 * mib
	var runs []Run
	at := start
	for ; at.Before(start.Add(30 * 24 * time.Hour)); at = at.Add(every) {
		runs = append(runs, Run{At: at, LimitBytes: gib, PeakBytes: steady})
	}
	base := Recommend(at, runs, nil, p).LimitBytes
	giantAt, limit := at, base
	for attempt := 0; ; attempt++ {
		a := at.Add(time.Duration(attempt) * time.Minute)
		if 5*steady <= limit {
			runs = append(runs, Run{At: a, LimitBytes: limit, PeakBytes: 5 * steady})
			break
		}
		runs = append(runs, Run{At: a, LimitBytes: limit, PeakBytes: limit, OOM: true})
		limit = NextRetryLimit(attempt+1, limit, limit, p)
	}
	var lastRaised time.Time
	for at = at.Add(every); at.Before(giantAt.Add(30 * 24 * time.Hour)); at = at.Add(every) {
		if Recommend(at, runs, nil, p).LimitBytes > base {
			lastRaised = at
		}
		runs = append(runs, Run{At: at, LimitBytes: gib, PeakBytes: steady})
	}
	if lastRaised.IsZero() {
		return 0
	}
	return lastRaised.Sub(giantAt)
}

func printSpikeHold(w io.Writer, def Params) {
	fmt.Fprintf(w, "\nhow long one 5x giant run keeps the limit raised (steady connector with 30 days of history; time of the last raised run after the giant)\n")
	fmt.Fprintf(w, "%-28s %9s %9s %9s   %s\n", "SpikeMemory", "hourly", "every 6h", "daily", "(daily, before: p98 x1.1)")
	for _, d := range []time.Duration{0, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour, 7 * 24 * time.Hour, -1} {
		p := def
		label := d.String()
		if d < 0 {
			p.SpikeRatio = 0
			label = "decay only (no spike rule)"
		}
		p.SpikeMemory = d
		high := p
		high.Empirical, high.Quantile, high.Margin = true, 0.98, 1.1
		fmt.Fprintf(w, "%-28s %9s %9s %9s   %s\n", label, spikeHold(time.Hour, p), spikeHold(6*time.Hour, p), spikeHold(24*time.Hour, p), spikeHold(24*time.Hour, high))
	}
}
