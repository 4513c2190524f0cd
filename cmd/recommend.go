package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/urfave/cli/v2"

	"syncbox/limits"
	"syncbox/limits/forecast"
	"syncbox/limits/history"
	"syncbox/run/report"
)

func recommendCommand() *cli.Command {
	return &cli.Command{
		Name:  "recommend",
		Usage: "say which memory limit --memory auto would choose, and why",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "connector `NAME` (required)"},
			&cli.StringFlag{Name: "tenant", Value: "default", Usage: "tenant `ID`"},
			&cli.StringFlag{Name: "memory-min", Usage: "lowest limit to recommend"},
			&cli.StringFlag{Name: "memory-max", Usage: "highest limit to recommend"},
			runKindFlag(),
			&cli.StringFlag{Name: "state-file", Usage: "the run's input state: without --run-kind, none (or empty) means a full refresh"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON, with the memory request and limit a scheduler should give the pod or job"},
			storeFlag(""),
		},
		Action: func(c *cli.Context) error {
			// Checked here, not with Required: urfave/cli prints the help
			// text to stdout for a missing required flag.
			if c.String("name") == "" {
				return usageError("recommend: --name is required: the connector to recommend a limit for (see syncbox recommend --help)")
			}
			p := forecast.DefaultParams()
			var err error
			if c.String("memory-min") != "" {
				if p.Min, err = sizeFlag(c, "memory-min"); err != nil {
					return err
				}
			}
			if c.String("memory-max") != "" {
				if p.Max, err = sizeFlag(c, "memory-max"); err != nil {
					return err
				}
			}
			if err := p.Validate(); err != nil {
				return usageError("memory settings: %v", err)
			}
			kind, err := runKind(c, c.String("state-file"))
			if err != nil {
				return err
			}
			sh, err := openShared(c)
			if err != nil {
				return err
			}
			defer sh.close()
			own, others, err := sh.history(homeDir()).ForConnector(c.String("name"), c.String("tenant"))
			if err != nil {
				return exitCode1(err)
			}
			rec := forecast.Recommend(time.Now(), kind, history.Runs(own), history.Runs(others), p)
			if c.Bool("json") {
				out := struct {
					Name   string `json:"name"`
					Tenant string `json:"tenant"`
					forecast.Recommendation
					Scheduler schedulerResources `json:"scheduler"`
				}{c.String("name"), c.String("tenant"), rec, forScheduler(rec.LimitBytes)}
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "recommended --memory %s for %s (tenant %s)\n", report.FlagSize(rec.LimitBytes), c.String("name"), c.String("tenant"))
			explainRecommendation(w, rec)
			for _, r := range rec.Reasons {
				fmt.Fprintln(w, "  -", r)
			}
			return nil
		},
	}
}

// explainRecommendation says what the figure rests on: the run kind, the
// current segment, the spikes seen and the expected cost.
func explainRecommendation(w io.Writer, rec forecast.Recommendation) {
	fmt.Fprintf(w, "  run kind:  %s (forecast from %s)\n", rec.Kind, rec.Basis)
	switch {
	case rec.ColdStart:
		fmt.Fprintf(w, "  segment:   none (no history)\n")
	case rec.FromPrior:
		fmt.Fprintf(w, "  segment:   none of its own; %d other tenants give level %s, spread %.3g\n",
			rec.PriorTenants, limits.FormatSize(rec.LevelBytes), rec.Spread)
	default:
		trend := ""
		if rec.TrendPerDay > 0 {
			trend = fmt.Sprintf(", growing %.2g%%/day", 100*math.Expm1(rec.TrendPerDay))
		}
		fmt.Fprintf(w, "  segment:   %d of %d, since %s: %d ordinary runs, level %s%s, spread %.3g\n",
			rec.Segments, rec.Segments, rec.SegmentStart.Local().Format("2006-01-02 15:04"), rec.SegmentRuns,
			limits.FormatSize(rec.LevelBytes), trend, rec.Spread)
		fmt.Fprintf(w, "  spikes:    %d seen, %.2g%% of runs expected", rec.Spikes, 100*rec.SpikeRate)
		if rec.PendingOutliers > 0 {
			fmt.Fprintf(w, "; the last run is an outlier not yet settled (spike or new level)")
		}
		if rec.PeriodicDue {
			fmt.Fprintf(w, "; a spike recurring every %s is due", rec.Period)
		}
		fmt.Fprintln(w)
	}
	if !rec.ColdStart {
		fmt.Fprintf(w, "  cost:      %.3g runs of median memory expected, kill chance %.2g%%\n", rec.ExpectedCost, 100*rec.KillChance)
	}
	if rec.OOMBumpBytes > 0 {
		fmt.Fprintf(w, "  OOM:       a kill no success followed holds at least %s\n", limits.FormatSize(rec.OOMBumpBytes))
	}
}
