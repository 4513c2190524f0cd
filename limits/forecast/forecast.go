// Package forecast chooses a connector's memory limit from its run history.
//
// Recommend is a pure function of the history it is given (a test drives it
// with a table of runs). For the runs of the kind asked for (a full refresh
// and an incremental run are forecast apart) it walks the successful peaks
// in time order (segments.go): each run is judged against its segment's
// level in predictive spreads; outliers followed by an ordinary run are
// spikes, a low-rate process of their own; outliers in a row that agree are
// a change point that starts a new segment, up or down. The spread is pooled
// over segments from ordinary runs only (fit.go), shrunk to a prior that
// other tenants' spread informs; other tenants' levels are a prior on this
// tenant's location, never mixed into its fit. The next run's peak is then a
// mixture (ordinary runs, a spike, a level change that may have begun, a
// periodic spike due now), and the limit minimises the expected cost of
// reserved memory plus the price of a kill (cost.go). Retries use the same
// model given "peak above the killed limit" (retry.go), the last reaching
// Max. An OOM kill that no later success explains holds the VPA bump.
//
// Batch syncs resume from a checkpoint, so an OOM kill costs a retry, not a
// failed job: rare giants are left to a retry instead of being carried in
// every limit.
//
// The package decides; it reads no files, starts no processes and names no
// flags. The history comes from package history, the limits are applied by
// package run.
package forecast

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"syncbox/limits"
)

// Kind is what a run does: a full refresh reads everything (no incoming
// state), an incremental run continues from a checkpoint. Empty is unknown
// (history written before kinds were recorded).
type Kind string

const (
	Full        Kind = "full"
	Incremental Kind = "incremental"
)

// ParseKind reads a run kind; empty is unknown.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.TrimSpace(s)); k {
	case Full, Incremental, "":
		return k, nil
	}
	return "", fmt.Errorf("run kind %q: want %q or %q", s, Full, Incremental)
}

// Run is one attempt of a connector run as the forecaster sees it.
type Run struct {
	At         time.Time `json:"at"`
	LimitBytes int64     `json:"limit_bytes"`
	PeakBytes  int64     `json:"peak_bytes"`
	// OOM marks an attempt killed at its limit: PeakBytes is then only a
	// lower bound of what it needed.
	OOM    bool   `json:"oom"`
	Kind   Kind   `json:"kind,omitempty"`
	Tenant string `json:"tenant,omitempty"`
}

// Recommendation is a limit and how it was reached.
type Recommendation struct {
	LimitBytes int64    `json:"recommended_limit_bytes"`
	Reasons    []string `json:"reasons"`
	// Kind is the kind of run forecast; Basis the runs it was forecast from.
	Kind  Kind   `json:"kind,omitempty"`
	Basis string `json:"basis"`
	// Runs is the number of own successful runs walked.
	Runs int `json:"runs"`
	// The current segment: when it began, its ordinary runs and level now
	// (with TrendPerDay, the growth of log peak per day), and how many
	// segments the history has.
	Segments     int       `json:"segments"`
	SegmentStart time.Time `json:"segment_start,omitzero"`
	SegmentRuns  int       `json:"segment_runs"`
	LevelBytes   int64     `json:"level_bytes"`
	TrendPerDay  float64   `json:"trend_per_day,omitempty"`
	// Spread is the pooled standard deviation of log peak, EffectiveRuns the
	// current segment's decayed sample size.
	Spread        float64 `json:"spread"`
	EffectiveRuns float64 `json:"effective_runs"`
	// Spikes seen (high outliers an ordinary run followed), their posterior
	// rate per run, and high outliers not yet settled (a spike, or the start
	// of a new level).
	Spikes          int     `json:"spikes"`
	SpikeRate       float64 `json:"spike_rate"`
	PendingOutliers int     `json:"pending_outliers"`
	// PeriodicDue: a recurring spike is due now (its period in Period).
	PeriodicDue bool          `json:"periodic_due,omitempty"`
	Period      time.Duration `json:"period_ns,omitempty"`
	// FromPrior: the tenant has no runs of its own, the location is other
	// tenants'. PriorTenants is how many other tenants informed the prior.
	FromPrior    bool `json:"from_prior"`
	PriorTenants int  `json:"prior_tenants"`
	ColdStart    bool `json:"cold_start"`
	// OOMBumpBytes is the floor set by an OOM kill no later success explains.
	OOMBumpBytes int64 `json:"oom_bump_bytes"`
	// KillChance is the model's P(peak > limit); ExpectedCost the expected
	// cost of the run at the limit, in runs of median memory.
	KillChance   float64 `json:"kill_chance"`
	ExpectedCost float64 `json:"expected_cost"`
	// Model is the predictive distribution; RetryLimit conditions it.
	Model Model `json:"model"`
}

// Recommend returns the memory limit for a connector's next run of the
// given kind at now, from its own runs and other tenants' runs of the same
// connector (prior). Runs after now are ignored; the inputs are not changed.
func Recommend(now time.Time, kind Kind, own, prior []Run, p Params) Recommendation {
	rec := Recommendation{Kind: kind}
	runs := upTo(now, own)
	bump, bumpAt := unexplainedKill(runs)
	rec.OOMBumpBytes = bump

	var basis []Run
	basis, rec.Basis = ofKind(runs, kind)
	tp := tenantPrior(now, kind, upTo(now, prior), p)
	rec.PriorTenants = tp.tenants
	st := walkRuns(now, basis, p, tp.spread)
	rec.Runs = st.runs

	switch {
	case st.runs == 0 && tp.tenants == 0:
		rec.ColdStart = true
		rec.Model = coldModel(float64(p.ColdStart), p)
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("no history: cold-start limit %s", limits.FormatSize(p.ColdStart)))
		want := max(p.ColdStart, bump)
		if bump > p.ColdStart {
			rec.Reasons = append(rec.Reasons, fmt.Sprintf("an OOM kill at %s that no success followed: at least the bump %s", bumpAt.Format(time.RFC3339), limits.FormatSize(bump)))
		}
		rec.LimitBytes = clamp(want, p, &rec.Reasons)
		return rec
	case st.runs == 0:
		rec.FromPrior = true
		rec.Model = priorModel(tp, p)
		rec.LevelBytes = int64(math.Exp(tp.level))
		rec.Spread = math.Sqrt(tp.spread.s2)
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("no own %s: other tenants' levels (%d tenants, mean %s, between-tenant spread %.2g) and within-tenant spread %.3g",
			rec.Basis, tp.tenants, limits.FormatSize(rec.LevelBytes), math.Sqrt(tp.tau2), rec.Spread))
	default:
		rec.Model = ownModel(now, st, tp, medianSpacing(basis), p, &rec)
	}

	lo, hi := rec.Model.span()
	limit, cost, kill := choose(lo, hi, rec.Model.survival, rec.Model.Median, p)
	rec.ExpectedCost, rec.KillChance = cost, kill
	want := int64(math.Ceil(limit))
	rec.Reasons = append(rec.Reasons, fmt.Sprintf("expected cost minimised at %s: kill chance %.2g%%, cost %.3g runs of median memory (kill price %g)",
		limits.FormatSize(want), 100*kill, cost, p.KillPrice))
	if bump > want {
		want = bump
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("an OOM kill at %s that no success followed: at least the bump %s",
			bumpAt.Format(time.RFC3339), limits.FormatSize(bump)))
	}
	rec.LimitBytes = clamp(roundLimit(want), p, &rec.Reasons)
	return rec
}

// ownModel builds the mixture from the tenant's own walk.
func ownModel(now time.Time, st state, tp prior, spacing time.Duration, p Params, rec *Recommendation) Model {
	s := st.pl.sigma
	mu, vloc := st.mu, s*s*st.vfac
	if tp.tenants > 0 {
		// Other tenants' levels are a prior on this one's (precision
		// weights): worth little once the tenant has a few runs.
		prec := 1/vloc + 1/tp.tau2
		mu = (mu/vloc + tp.level/tp.tau2) / prec
		vloc = 1 / prec
	}
	scale := math.Sqrt(s*s + vloc)
	rho := st.spikeRate(p)
	smean, svar, sdf := st.spikeSize(p, tp.spikes)
	rec.Segments, rec.SegmentStart, rec.SegmentRuns = st.segments, st.segStart, st.curRuns
	rec.LevelBytes, rec.TrendPerDay = int64(math.Exp(mu)), st.slope
	rec.Spread, rec.EffectiveRuns = s, st.neff
	rec.Spikes, rec.SpikeRate = len(st.spikes), rho
	trend := ""
	if st.slope > 0 {
		trend = fmt.Sprintf(", growing %+.2g%%/day", 100*math.Expm1(st.slope))
	}
	rec.Reasons = append(rec.Reasons, fmt.Sprintf("%s: segment %d of %d since %s, %d ordinary runs (%.3g effective, half-life %s), level %s%s, pooled spread %.3g (%.3g df)",
		rec.Basis, st.segments, st.segments, st.segStart.Format(time.RFC3339), st.curRuns, st.neff, p.HalfLife,
		limits.FormatSize(rec.LevelBytes), trend, s, st.pl.df))
	rec.Reasons = append(rec.Reasons, fmt.Sprintf("%d spikes seen (posterior rate %.2g%% per run, typical size %.3gx): left to a retry unless due or likely",
		len(st.spikes), 100*rho, math.Exp(smean)))

	ordinary := Component{Name: "ordinary", Mu: mu, Scale: scale, DF: st.pl.df}
	spk := Component{Name: "spike", Mu: mu + smean, Scale: math.Sqrt(scale*scale + svar), DF: max(sdf, st.pl.df)}
	var extra []Component
	rest := 1.0
	if n := countHigh(st.pending); n > 0 {
		// One high outlier with nothing after it: a spike (the next run is
		// ordinary) or the first run of a new level.
		ym := 0.0
		for _, o := range st.pending {
			ym += o.y
		}
		ym /= float64(len(st.pending))
		pi := p.StepRate / (p.StepRate + rho)
		rec.PendingOutliers = n
		extra = append(extra, Component{Name: "new level", Weight: pi, Mu: ym, Scale: s * math.Sqrt(1+1/float64(n)), DF: st.pl.df})
		rest -= pi
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("the last run (%s) is an outlier not yet settled: a new level with chance %.2g%%",
			limits.FormatSize(int64(math.Exp(ym))), 100*pi))
	}
	if due, period, chain := st.periodic(); chain > 0 {
		tol := spacing/2 + period/50
		for due.Before(now.Add(-tol)) {
			due = due.Add(period)
		}
		if !due.After(now.Add(tol)) {
			w := float64(chain) / float64(chain+1)
			rec.PeriodicDue, rec.Period = true, period
			extra = append(extra, Component{Name: "periodic spike", Weight: rest * w, Mu: spk.Mu, Scale: spk.Scale, DF: spk.DF})
			rest *= 1 - w
			rec.Reasons = append(rec.Reasons, fmt.Sprintf("%d spikes recur every %s: one is due now (chance %.2g%%)", chain, period, 100*w))
		}
	}
	ordinary.Weight = rest * (1 - rho)
	spk.Weight = rest * rho
	return Model{Components: append([]Component{ordinary, spk}, extra...), Median: math.Exp(mu)}
}

func countHigh(pending []obs) int {
	n := 0
	for _, o := range pending {
		if o.high {
			n++
		}
	}
	if n != len(pending) {
		return 0
	}
	return n
}

// prior is what other tenants say: their pooled within-tenant spread (as
// the spread prior), the mean of their levels and the between-tenant
// variance of levels.
type prior struct {
	tenants     int
	spikes      []spike // other tenants' spikes (their sizes count half)
	spread      spreadPrior
	level, tau2 float64
}

// priorWalkRuns bounds the walk of each other tenant's history.
const priorWalkRuns = 500

func tenantPrior(now time.Time, kind Kind, runs []Run, p Params) prior {
	base := spreadPrior{s2: p.SpreadPrior * p.SpreadPrior, nu: p.SpreadPriorRuns}
	out := prior{spread: base}
	by := map[string][]Run{}
	var names []string
	for _, r := range runs {
		if _, ok := by[r.Tenant]; !ok {
			names = append(names, r.Tenant)
		}
		by[r.Tenant] = append(by[r.Tenant], r)
	}
	sort.Strings(names)
	var levels []float64
	rss, dof := 0.0, 0.0
	for _, t := range names {
		sel, _ := ofKind(by[t], kind)
		// A level and a spread need no long walk: the newest runs suffice.
		if len(sel) > priorWalkRuns {
			sel = sel[len(sel)-priorWalkRuns:]
		}
		st := walkRuns(now, sel, p, base)
		if st.runs == 0 {
			continue
		}
		levels = append(levels, st.mu)
		out.spikes = append(out.spikes, st.spikes...)
		rss += st.pl.rss
		dof += st.pl.dof
	}
	out.tenants = len(levels)
	if out.tenants == 0 {
		return out
	}
	if dof > 0 {
		// Other tenants' spread is worth at most as much as the prior.
		d := min(dof, base.nu)
		out.spread.s2 = (base.nu*base.s2 + d*rss/dof) / (base.nu + d)
	}
	for _, l := range levels {
		out.level += l
	}
	out.level /= float64(len(levels))
	ss := 0.0
	for _, l := range levels {
		ss += (l - out.level) * (l - out.level)
	}
	const nu0 = 2.0 // the location prior is worth two tenants
	out.tau2 = (nu0*p.LocationPrior*p.LocationPrior + ss) / (nu0 + float64(len(levels)-1))
	return out
}

// priorModel is a new tenant's model: other tenants' mean level, widened by
// the between-tenant spread and its own uncertainty.
func priorModel(tp prior, p Params) Model {
	scale := math.Sqrt(tp.spread.s2 + tp.tau2*(1+1/float64(tp.tenants)))
	return Model{Components: []Component{{Name: "other tenants", Weight: 1, Mu: tp.level, Scale: scale, DF: max(tp.spread.nu, 10)}}, Median: math.Exp(tp.level)}
}

// upTo returns the runs at or before now, sorted by time (a copy).
func upTo(now time.Time, runs []Run) []Run {
	out := make([]Run, 0, len(runs))
	for _, r := range runs {
		if !r.At.After(now) {
			out = append(out, r)
		}
	}
	if !slices.IsSortedFunc(out, func(a, b Run) int { return a.At.Compare(b.At) }) {
		slices.SortStableFunc(out, func(a, b Run) int { return a.At.Compare(b.At) })
	}
	return out
}

// ofKind selects the runs a kind is forecast from: a full refresh from the
// full refreshes once there is one, an incremental run from every run that
// is not a full refresh; otherwise all runs. runs is sorted.
func ofKind(runs []Run, kind Kind) ([]Run, string) {
	pick := func(keep func(Kind) bool) []Run {
		var out []Run
		for _, r := range runs {
			if keep(r.Kind) {
				out = append(out, r)
			}
		}
		return out
	}
	succeeded := func(rs []Run) bool {
		return slices.ContainsFunc(rs, func(r Run) bool { return !r.OOM && r.PeakBytes > 0 })
	}
	switch kind {
	case Full:
		if sel := pick(func(k Kind) bool { return k == Full }); succeeded(sel) {
			return sel, "full refreshes"
		}
	case Incremental:
		if sel := pick(func(k Kind) bool { return k != Full }); succeeded(sel) {
			return sel, "incremental runs"
		}
	}
	return runs, "all runs"
}

// unexplainedKill is the VPA bump of the largest OOM kill after the last
// successful run: a kill a later success followed was a spike or a retry
// that succeeded, and the model already knows its peak.
func unexplainedKill(runs []Run) (int64, time.Time) {
	var bump int64
	var at time.Time
	for i := len(runs) - 1; i >= 0 && runs[i].OOM; i-- {
		if b := limits.OOMBump(max(runs[i].PeakBytes, runs[i].LimitBytes)); b > bump {
			bump, at = b, runs[i].At
		}
	}
	return bump, at
}

// medianSpacing is the typical time between successful runs.
func medianSpacing(runs []Run) time.Duration {
	var gaps []time.Duration
	var last time.Time
	for _, r := range runs {
		if r.OOM {
			continue
		}
		if !last.IsZero() {
			gaps = append(gaps, r.At.Sub(last))
		}
		last = r.At
	}
	if len(gaps) == 0 {
		return 0
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2]
}

func clamp(n int64, p Params, reasons *[]string) int64 {
	if p.Min > 0 && n < p.Min {
		*reasons = append(*reasons, fmt.Sprintf("raised to the minimum %s", limits.FormatSize(p.Min)))
		n = p.Min
	}
	if p.Max > 0 && n > p.Max {
		*reasons = append(*reasons, fmt.Sprintf("capped at the maximum %s", limits.FormatSize(p.Max)))
		n = p.Max
	}
	return n
}
