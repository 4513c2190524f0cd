package forecast

import (
	"errors"
	"fmt"
	"time"

	"syncbox/limits"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// Params tunes the forecaster. DefaultParams documents each default.
type Params struct {
	// HalfLife is the age at which a run counts half as much as a new one.
	// Zero or negative means no decay.
	HalfLife time.Duration `json:"half_life"`

	// OutlierZ: a run whose log peak is more than OutlierZ predictive
	// spreads from its segment's level is an outlier, not an ordinary run.
	// StepHighRuns consecutive high outliers (StepLowRuns low ones) that
	// agree within OutlierZ spreads are a change point: a new segment.
	OutlierZ     float64 `json:"outlier_z"`
	StepHighRuns int     `json:"step_high_runs"`
	StepLowRuns  int     `json:"step_low_runs"`

	// SpreadPrior and SpreadPriorRuns are the prior belief about the
	// run-to-run spread (standard deviation of log peak) and how many runs
	// it is worth; other tenants' pooled spread is blended into the prior.
	SpreadPrior     float64 `json:"spread_prior"`
	SpreadPriorRuns float64 `json:"spread_prior_runs"`
	// LocationPrior is the prior between-tenant spread of levels (log), used
	// while fewer than three other tenants say what it is.
	LocationPrior float64 `json:"location_prior"`

	// Trend fits a line in a segment when its slope is positive and at
	// least twice its standard error, with TrendMinRuns effective runs
	// spread over a day or more.
	Trend        bool    `json:"trend"`
	TrendMinRuns float64 `json:"trend_min_runs"`

	// SpikeRate (worth SpikeRateRuns runs) is the prior chance that a run is
	// a spike: an outlier high above its segment that an ordinary run
	// follows. SpikeSize and SpikeSpread are the prior size of a spike (a
	// ratio to the level) and the spread of its log.
	SpikeRate     float64 `json:"spike_rate"`
	SpikeRateRuns float64 `json:"spike_rate_runs"`
	SpikeSize     float64 `json:"spike_size"`
	SpikeSpread   float64 `json:"spike_spread"`
	// StepRate is the prior chance per run that a level change starts: it
	// weighs "the last run was the first of a new level" against "the last
	// run was a spike" while only one high outlier has been seen.
	StepRate float64 `json:"step_rate"`

	// KillPrice is what an OOM kill costs beyond the memory it held (half
	// the attempt), in units of one run's median memory x its duration: the
	// rerun from the checkpoint, the delay, a person looking. RetryCost is
	// the retry's limit as a multiple of the killed one, for the cost of
	// the first attempt. The limit minimises the expected cost.
	KillPrice float64 `json:"kill_price"`
	RetryCost float64 `json:"retry_cost"`
	// LastRetryRisk: the last retry covers all but this chance of the
	// peaks the model allows above the killed limit, up to Max.
	LastRetryRisk float64 `json:"last_retry_risk"`

	// Min and Max bound every limit; Max 0 = no cap. A last retry may reach Max.
	Min int64 `json:"min_bytes"`
	Max int64 `json:"max_bytes"`
	// ColdStart is the limit when neither this tenant nor any other has run
	// the connector; ColdSpread the spread of log peak then assumed, which
	// sets how far retries reach.
	ColdStart  int64   `json:"cold_start_bytes"`
	ColdSpread float64 `json:"cold_spread"`
	// Retries is how many times an OOM-killed run is rerun.
	Retries int `json:"retries"`
}

// DefaultParams returns the defaults, chosen with the scenario suite and the
// replay (scenarios_test.go, replay_test.go; figures in README.md):
//
//   - HalfLife 7 days: growth is slow (under 1%/day) and daily connectors
//     need a few weeks of runs; change points, not the decay, follow steps.
//   - OutlierZ 4, StepHighRuns 2, StepLowRuns 3: at 4 predictive spreads an
//     ordinary log-normal run is an outlier once in 16,000, so outliers are
//     spikes or changes. Two high runs in a row start a new level (a third
//     kill costs more than a wrong new segment, which the next ordinary
//     runs correct); a step down waits for three, as it only costs slack.
//   - SpreadPrior 0.10 worth 4 runs: with two runs, the third gets about
//     1.3x their level instead of a Student-t with 1 degree of freedom;
//     worth 10 runs it held a tight connector (spread 0.03) at 17% slack
//     for months (scenario a: 14.6% now).
//   - LocationPrior 0.5: tenants of one connector differ by about 1.6x.
//   - Trend from 10 effective runs: significant growth is extrapolated.
//   - SpikeRate 0.5% worth 50 runs, SpikeSize 4x, SpikeSpread 0.5: a spike
//     a week at hourly runs, mostly 1.5x-11x; sizes do not decay and other
//     tenants' spikes count half. Replay (5 seeds): 30.2% slack with a 4x
//     prior and LastRetryRisk 0.5%, 30.7% with 3x and 0.3%.
//   - StepRate 0.05%: after 100 quiet runs one high outlier is a new level
//     with a chance of about 1 in 5 (covered: cheaper than a second kill);
//     after a spike or two among few runs about 1 in 10 (left to a retry).
//   - KillPrice 8, RetryCost 1.5: a kill costs about eight runs' worth of
//     median memory. Lower prices trade kills for slack (the replay's sweep
//     in README.md).
//   - LastRetryRisk 0.5%: the last retry covers the model given the kill but
//     for 1 in 200 (at cold start that is --memory-max). 1% lost a giant in
//     the replay; a smaller risk widens every giant's last retry.
//   - ColdStart 2GiB, ColdSpread 1.5: with no history 2GiB fits most taps;
//     a larger one is taken up to --memory-max by its last retry.
//   - Min 64MiB; Max 0 (the caller passes the machine budget); Retries 2.
func DefaultParams() Params {
	return Params{
		HalfLife:        7 * 24 * time.Hour,
		OutlierZ:        4,
		StepHighRuns:    2,
		StepLowRuns:     3,
		SpreadPrior:     0.10,
		SpreadPriorRuns: 4,
		LocationPrior:   0.5,
		Trend:           true,
		TrendMinRuns:    10,
		SpikeRate:       0.005,
		SpikeRateRuns:   50,
		SpikeSize:       4,
		SpikeSpread:     0.5,
		StepRate:        0.0005,
		KillPrice:       8,
		RetryCost:       1.5,
		LastRetryRisk:   5e-3,
		Min:             64 * mib,
		ColdStart:       2 * gib,
		ColdSpread:      1.5,
		Retries:         2,
	}
}

// Validate reports parameters that would make the forecast meaningless, so
// a bad setting fails before a run rather than becoming a silly limit. The
// errors name the parameter, not a flag: the caller knows its flags.
func (p Params) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if p.OutlierZ <= 0 {
		bad("outlier threshold %g must be above zero", p.OutlierZ)
	}
	if p.StepHighRuns < 1 || p.StepLowRuns < 1 {
		bad("runs to a change point (%d high, %d low) must be at least 1", p.StepHighRuns, p.StepLowRuns)
	}
	if p.SpreadPrior <= 0 || p.SpreadPriorRuns < 0 || p.LocationPrior <= 0 || p.ColdSpread <= 0 {
		bad("spread prior %g (worth %g runs), location prior %g and cold spread %g must be above zero",
			p.SpreadPrior, p.SpreadPriorRuns, p.LocationPrior, p.ColdSpread)
	}
	if p.SpikeRate < 0 || p.SpikeRate >= 1 || p.StepRate < 0 || p.StepRate >= 1 || p.SpikeRateRuns < 0 {
		bad("spike rate %g (worth %g runs) and step rate %g must be in [0, 1)", p.SpikeRate, p.SpikeRateRuns, p.StepRate)
	}
	if p.SpikeSize < 1 || p.SpikeSpread <= 0 {
		bad("spike size %g must be at least 1 and its spread %g above zero", p.SpikeSize, p.SpikeSpread)
	}
	if p.KillPrice < 0 || p.RetryCost < 1 {
		bad("kill price %g must not be negative and retry cost %g at least 1", p.KillPrice, p.RetryCost)
	}
	if p.LastRetryRisk <= 0 || p.LastRetryRisk >= 1 {
		bad("last retry risk %g must be in (0, 1)", p.LastRetryRisk)
	}
	if p.Min < 0 || p.Max < 0 || p.ColdStart <= 0 {
		bad("memory minimum %d and maximum %d must not be negative, cold start %d above zero", p.Min, p.Max, p.ColdStart)
	}
	if p.Max > 0 && p.Min > p.Max {
		bad("memory minimum %s is above the maximum %s", limits.FormatSize(p.Min), limits.FormatSize(p.Max))
	}
	if p.Retries < 0 {
		bad("retries %d must not be negative", p.Retries)
	}
	return errors.Join(errs...)
}
