package forecast

import (
	"fmt"
	"io"
	"math"
	"time"
)

// The simulator drives a policy run by run through a history, as syncbox
// does (no containers), the same way for every policy:
//   - a run's peak is fixed by the scenario; an attempt whose limit is below
//     it is OOM-killed and recorded with peak = limit (a lower bound);
//   - a killed attempt is retried up to the policy's retries; a run whose
//     last retry is killed is lost;
//   - slack = sum(limit-peak)/sum(limit) over successful attempts; a kill
//     wastes its limit for half the run's duration (GiB-h wasted).

// simRun is one run of a scenario.
type simRun struct {
	conn, tenant string
	at           time.Time
	peak         int64
	kind         Kind
	dur          time.Duration
	giant        bool
	// p99 is the 99th percentile of the distribution this run was drawn
	// from (a spike's is the ordinary one's): the oracle's limit.
	p99 int64
}

func (r simRun) key() string { return r.conn + "/" + r.tenant }

// policy chooses limits; the simulator records history.
type policy interface {
	name() string
	// first is the limit of a run's first attempt.
	first(r simRun, h *hist) int64
	// retry is the limit of retry number attempt after a kill at last, or
	// false when the policy stops.
	retry(attempt int, last int64) (int64, bool)
}

// hist is the history: every attempt per key, capped like the store.
type hist struct {
	byKey  map[string][]Run
	byConn map[string][]string // keys per connector, in order of first run
}

const historyCap = 1000 // the history store keeps this many runs per key

func newHist() *hist { return &hist{byKey: map[string][]Run{}, byConn: map[string][]string{}} }

func (h *hist) add(r simRun, run Run) {
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

func (h *hist) prior(r simRun) []Run {
	var out []Run
	for _, k := range h.byConn[r.conn] {
		if k != r.key() {
			out = append(out, h.byKey[k]...)
		}
	}
	return out
}

// newPolicy is the forecaster of this package.
type newPolicy struct {
	label string
	p     Params
	last  Recommendation
}

func (s *newPolicy) name() string { return s.label }
func (s *newPolicy) first(r simRun, h *hist) int64 {
	s.last = Recommend(r.at, r.kind, h.byKey[r.key()], h.prior(r), s.p)
	return s.last.LimitBytes
}
func (s *newPolicy) retry(attempt int, last int64) (int64, bool) {
	if attempt > s.p.Retries {
		return 0, false
	}
	next := s.last.RetryLimit(attempt, last, s.p)
	return next, next > last
}

// oldPolicy is today's rule (baseline_test.go).
type oldPolicy struct {
	label string
	p     oldParams
}

func (s oldPolicy) name() string { return s.label }
func (s oldPolicy) first(r simRun, h *hist) int64 {
	return oldRecommend(r.at, h.byKey[r.key()], h.prior(r), s.p).LimitBytes
}
func (s oldPolicy) retry(attempt int, last int64) (int64, bool) {
	if attempt > s.p.Retries {
		return 0, false
	}
	next := oldNextRetryLimit(attempt, last, last, s.p)
	return next, next > last
}

func todaysParams(max int64) oldParams {
	p := oldDefaultParams()
	p.Max = max
	return p
}

// oraclePolicy knows each run's true distribution and sets its p99 (finely
// rounded): the slack floor at about 1 ordinary kill per 100 runs. It does
// not know a spike is coming; it retries as today's rule does (x2, then 10x
// the first limit).
type oraclePolicy struct{ p Params }

func (oraclePolicy) name() string { return "oracle p99" }
func (o oraclePolicy) first(r simRun, _ *hist) int64 {
	return min(roundLimit(r.p99), max(o.p.Max, r.p99))
}
func (o oraclePolicy) retry(attempt int, last int64) (int64, bool) {
	if attempt > o.p.Retries {
		return 0, false
	}
	next := oldNextRetryLimit(attempt, last, last, todaysParams(o.p.Max))
	return next, next > last
}

// runResult is one run's fate under a policy.
type runResult struct {
	limit, peak   int64 // of the successful attempt (0 if lost)
	kills         int
	killedGiBh    float64
	lost, giant   bool
	firstLimit    int64
	conn, tenant  string
	reservedGiBh  float64
	succeededGiBh float64
}

// simulate runs the scenario through a policy.
func simulate(runs []simRun, pol policy) []runResult {
	h := newHist()
	out := make([]runResult, 0, len(runs))
	for _, r := range runs {
		res := runResult{giant: r.giant, conn: r.conn, tenant: r.tenant}
		limit := pol.first(r, h)
		res.firstLimit = limit
		hours := r.dur.Hours()
		for attempt := 0; ; attempt++ {
			at := r.at.Add(time.Duration(attempt) * time.Minute)
			if r.peak <= limit {
				res.limit, res.peak = limit, r.peak
				h.add(r, Run{At: at, LimitBytes: limit, PeakBytes: r.peak, Kind: r.kind, Tenant: r.tenant})
				break
			}
			res.kills++
			res.killedGiBh += float64(limit) / float64(gib) * hours / 2
			h.add(r, Run{At: at, LimitBytes: limit, PeakBytes: limit, OOM: true, Kind: r.kind, Tenant: r.tenant})
			next, ok := pol.retry(attempt+1, limit)
			if !ok {
				res.lost = true
				break
			}
			limit = next
		}
		out = append(out, res)
	}
	return out
}

// summary aggregates results.
type summary struct {
	runs, kills, lost int
	limit, peak       float64
	wasted            float64 // GiB-h
}

func (s summary) slack() float64 {
	if s.limit == 0 {
		return math.NaN()
	}
	return 100 * (s.limit - s.peak) / s.limit
}
func (s summary) killsPer100() float64 { return 100 * float64(s.kills) / float64(max(s.runs, 1)) }

func summarise(rs []runResult) summary {
	var s summary
	for _, r := range rs {
		s.runs++
		s.kills += r.kills
		s.wasted += r.killedGiBh
		if r.lost {
			s.lost++
			continue
		}
		s.limit += float64(r.limit)
		s.peak += float64(r.peak)
	}
	return s
}

// add merges summaries (over seeds).
func (s summary) add(o summary) summary {
	return summary{runs: s.runs + o.runs, kills: s.kills + o.kills, lost: s.lost + o.lost,
		limit: s.limit + o.limit, peak: s.peak + o.peak, wasted: s.wasted + o.wasted}
}

func printRowHeader(w io.Writer) {
	fmt.Fprintf(w, "  %-34s %-12s %7s %9s %6s %9s\n", "", "policy", "slack%", "kills/100", "lost", "GiB-h")
}

func printRow(w io.Writer, label, pol string, s summary) {
	fmt.Fprintf(w, "  %-34s %-12s %7.1f %9.2f %6d %9.1f\n", label, pol, s.slack(), s.killsPer100(), s.lost, s.wasted)
}

// p99Of is the 99th percentile of a log-normal with this median and spread.
func p99Of(median, sigma float64) int64 { return int64(median * math.Exp(2.326*sigma)) }
