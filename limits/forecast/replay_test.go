package forecast

import (
	"cmp"
	"fmt"
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
	traceDays = 60
	giantOdds = 200 // one run in giantOdds is a giant
	giantMin  = 5.0 // giants are 5-10x the run they replace
	giantMax  = 10.0
)

// genTrace makes the trace: tenants differ in size (log-normal, sigma 0.5),
// join at day 0, 12, 24... so later ones start from the prior, and every run
// may be a giant.
func genTrace(seed uint64) []simRun {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(traceDays * 24 * time.Hour)
	var out []simRun
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
				out = append(out, simRun{conn: c.name, tenant: fmt.Sprintf("t%d", t), at: at, peak: int64(peak * float64(mib)), giant: giant, dur: 30 * time.Minute,
					p99: int64(median * math.Exp(2.326*c.sigma) * float64(mib))})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// staticPolicy is an operator's fixed limit: k times the key's median peak
// over the whole trace (an oracle median, which favours it).
type staticPolicy struct {
	k      float64
	median map[string]int64
}

func (s staticPolicy) name() string { return fmt.Sprintf("static %gx median", s.k) }
func (s staticPolicy) first(r simRun, _ *hist) int64 {
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
func (v vpaPolicy) first(r simRun, h *hist) int64 {
	runs := h.byKey[r.key()]
	if len(runs) == 0 {
		return v.coldStart
	}
	var s []oldsample
	for _, x := range runs {
		peak := x.PeakBytes
		if x.OOM {
			peak = limits.OOMBump(max(x.PeakBytes, x.LimitBytes))
		}
		w := math.Exp2(-float64(r.at.Sub(x.At)) / float64(24*time.Hour))
		s = append(s, oldsample{peak: float64(peak), weight: w})
	}
	slices.SortFunc(s, func(a, b oldsample) int { return cmp.Compare(a.peak, b.peak) })
	return int64(oldweightedQuantile(s, 0.90) * 1.15)
}
func (vpaPolicy) retry(attempt int, last int64) (int64, bool) {
	if attempt > 2 {
		return 0, false
	}
	return limits.OOMBump(last), true
}

func medians(trace []simRun) map[string]int64 {
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

const replayMax = 64 * gib

var replaySeeds = []uint64{1, 2, 3, 4, 5}

func replayParams() Params {
	p := DefaultParams()
	p.Max = replayMax
	return p
}

// replayAll runs every seed through the policies that mk returns and sums
// the results per policy (and per connector type).
func replayAll(mk func(trace []simRun) []policy) (names []string, all []summary, byConn []map[string]summary) {
	for si, seed := range replaySeeds {
		trace := genTrace(seed)
		for pi, pol := range mk(trace) {
			if si == 0 {
				names = append(names, pol.name())
				all = append(all, summary{})
				byConn = append(byConn, map[string]summary{})
			}
			rs := simulate(trace, pol)
			all[pi] = all[pi].add(summarise(rs))
			per := map[string][]runResult{}
			for _, r := range rs {
				per[r.conn] = append(per[r.conn], r)
			}
			for c, v := range per {
				byConn[pi][c] = byConn[pi][c].add(summarise(v))
			}
		}
	}
	return names, all, byConn
}

func replayPolicies(trace []simRun) []policy {
	p := replayParams()
	med := medians(trace)
	return []policy{staticPolicy{2, med}, staticPolicy{4, med}, vpaPolicy{coldStart: p.ColdStart},
		oldPolicy{"today", todaysParams(replayMax)}, &newPolicy{label: "new", p: p}, oraclePolicy{p}}
}

func BenchmarkReplay(b *testing.B) {
	for range b.N {
		w := os.Stdout
		fmt.Fprintf(w, "\nreplay: seeds %v, each ~6,300 runs over %d days, %d connector types, 1 run in %d a giant at %g-%gx\n",
			replaySeeds, traceDays, len(traceTypes), giantOdds, giantMin, giantMax)
		names, all, byConn := replayAll(replayPolicies)
		printRowHeader(w)
		for i, n := range names {
			printRow(w, "fleet mix", n, all[i])
		}
		fmt.Fprintf(w, "per connector type: slack%% (kills per 100 runs)   today          new            oracle\n")
		for _, c := range traceTypes {
			fmt.Fprintf(w, "  %-16s (sigma %.2f, every %3s)", c.name, c.sigma, shortDur(c.every))
			for _, i := range []int{3, 4, 5} {
				s := byConn[i][c.name]
				fmt.Fprintf(w, "   %5.1f (%4.2f)", s.slack(), s.killsPer100())
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "\nkill price (the new rule's trade-off between slack and kills)\n")
		printRowHeader(w)
		for _, k := range []float64{2, 4, 8, 16, 32} {
			names, all, _ := replayAll(func([]simRun) []policy {
				p := replayParams()
				p.KillPrice = k
				return []policy{&newPolicy{label: fmt.Sprintf("price %g", k), p: p}}
			})
			printRow(w, "fleet mix", names[0], all[0])
		}
	}
}

func shortDur(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// The fleet replay with the defaults, over five seeds: no run lost and at
// most 2 kills per 100 runs (issue 15). The issue's <= 28% slack is not met
// (30.2%, today's rule's too; the oracle p99 with today's retries has 28.3%):
// logged, not asserted; see README.md.
func TestReplayKeepsTheGoals(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("replay takes seconds")
	}
	_, all, _ := replayAll(func(trace []simRun) []policy {
		return []policy{&newPolicy{label: "new", p: replayParams()}}
	})
	sb := all[0]
	t.Logf("new rule: %.1f%% slack, %.2f kills per 100 runs, %d lost, %.0f GiB-h wasted (target <= 28%% slack not met)",
		sb.slack(), sb.killsPer100(), sb.lost, sb.wasted)
	if sb.lost != 0 {
		t.Errorf("%d runs lost", sb.lost)
	}
	if sb.killsPer100() > 2 {
		t.Errorf("%.2f kills per 100 runs; want <= 2", sb.killsPer100())
	}
	if sb.slack() > 30.7 {
		t.Errorf("%.1f%% slack; it was 30.2%% when this rule was chosen", sb.slack())
	}
}
