package cmd

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"syncbox/limits/forecast"
	"syncbox/limits/history"
	"syncbox/limits/tenant"
	"syncbox/run"
	"syncbox/run/container"
	"syncbox/run/report"
)

const targetCategory = "Pipeline: tap -> syncbox -> target"

func targetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "target", Category: targetCategory,
			Usage: "run `'CMD ARGS...'` (split like a shell would, no shell runs) as the target: a Singer target or Airbyte destination in its own container, fed the scanned records; the checkpoint then advances only on the STATEs it confirms"},
		&cli.StringFlag{Name: "target-name", Category: targetCategory, Usage: "the target's `NAME` for its memory history (default: its command's base name)"},
		&cli.StringFlag{Name: "target-memory", Value: "auto", Category: targetCategory, Usage: "the target's memory limit `SIZE`, or auto from its own history"},
		&cli.StringSliceFlag{Name: "target-bind", Category: targetCategory, Usage: "expose `SRC[:DST[:ro|rw]]` to the target (repeatable)"},
		&cli.StringSliceFlag{Name: "target-env", Category: targetCategory, Usage: "set `K=V` in the target, or pass K through (repeatable)"},
		&cli.StringSliceFlag{Name: "target-env-file", Category: targetCategory, Usage: "read the target's K=V lines from `FILE` (repeatable)"},
		&cli.StringFlag{Name: "target-config", Category: targetCategory, Usage: "config `FILE` the target reads at {target-config}"},
		&cli.StringSliceFlag{Name: "target-secret", Category: targetCategory,
			Usage: "expose `NAME=FILE` read-only at " + SecretsDir + "/NAME to the target only (the tap's --secret files are never shown to the target)"},
		&cli.StringFlag{Name: "target-network", Value: "none", Category: targetCategory, Usage: "the target's network: `none` or host"},
		&cli.StringFlag{Name: "catalog", Category: "Checkpoints and reports", Usage: "catalog `FILE` (Airbyte configured catalog) both sides read at {catalog}"},
	}
}

// targetOptions builds the pipeline's target from its flags; nil without
// --target.
func targetOptions(c *cli.Context, o *run.Options) (*run.Target, error) {
	line := c.String("target")
	if line == "" {
		for _, f := range []string{"target-name", "target-bind", "target-env", "target-env-file", "target-config", "target-network", "target-secret"} {
			if c.IsSet(f) {
				return nil, usageError("--%s needs --target", f)
			}
		}
		if c.IsSet("target-memory") {
			return nil, usageError("--target-memory needs --target")
		}
		return nil, nil
	}
	args, err := splitWords(line)
	if err != nil {
		return nil, usageError("--target %q: %v", line, err)
	}
	if len(args) == 0 {
		return nil, usageError("--target is empty: give the target's command, e.g. --target 'target-postgres --host /run/postgresql'")
	}
	t := &run.Target{Name: c.String("target-name"), Command: args}
	if t.Network, err = container.ParseNetwork(c.String("target-network")); err != nil {
		return nil, usageError("--target-network: %v", err)
	}
	for _, b := range c.StringSlice("target-bind") {
		bind, err := parseBind("--target-bind", b)
		if err != nil {
			return nil, usageError("%v", err)
		}
		t.Binds = append(t.Binds, bind)
	}
	if t.Name == "" {
		t.Name = defaultName(args, t.Binds)
	}
	if err := checkIdentity("--target-name", t.Name); err != nil {
		return nil, err
	}
	if t.Name == o.Name {
		return nil, usageError("--target-name %s is the tap's --name too: they keep separate memory histories, give them different names", t.Name)
	}
	if t.Env, err = buildEnv(c.StringSlice("target-env"), c.StringSlice("target-env-file"), os.LookupEnv); err != nil {
		return nil, usageError("--target-env: %v", err)
	}
	if t.Files, err = readSecrets(c.StringSlice("target-secret")); err != nil {
		return nil, err
	}
	for _, ph := range []string{"{state}", "{config}"} {
		if usesArg(args, ph) {
			return nil, usageError("--target uses %s, which only the tap has: the target gets {target-config} and {catalog}", ph)
		}
	}
	t.ConfigFile = absPath(c.String("target-config"))
	if t.ConfigFile == "" && usesArg(args, "{target-config}") {
		return nil, usageError("--target uses {target-config} but no --target-config FILE was given")
	}
	return t, nil
}

func usesArg(args []string, ph string) bool {
	for _, a := range args {
		if strings.Contains(a, ph) {
			return true
		}
	}
	return false
}

// planTarget sets the target's memory limit (a size, or auto from its own
// history under the same rules as the tap's) and its OOM retry rule.
func planTarget(c *cli.Context, p *memoryPlan, o *run.Options) error {
	t := o.Target
	mem := strings.TrimSpace(c.String("target-memory"))
	params := p.params
	var trec *forecast.Recommendation
	if mem == "auto" {
		own, others, err := p.hist.ForConnector(t.Name, o.Tenant)
		if err != nil {
			return &exitError{code: report.ExitSetupFailed,
				msg: fmt.Sprintf("--target-memory auto needs the target's history: %v (give --target-memory SIZE to run without it)", err)}
		}
		rec := forecast.Recommend(time.Now(), p.kind, history.Runs(own), history.Runs(others), params)
		t.MemoryBytes = rec.LimitBytes
		p.targetAuto = true
		trec = &rec
	} else {
		n, err := sizeFlag(c, "target-memory")
		if err != nil {
			return err
		}
		t.MemoryBytes = n
	}
	retries := c.Int("retry-oom")
	if retries < 0 {
		retries = 0
		if mem == "auto" {
			retries = forecast.DefaultParams().Retries
		}
	}
	if retries > 0 {
		params.Retries = retries
		t.NextLimit = retryRule(params, trec)
	}
	return nil
}

// targetWorkdir gives the target, with --keep-workdir, a host working
// directory of its own that is kept after the run; otherwise it gets a
// private tmpfs like the tap's (nothing on the host).
func targetWorkdir(home string, o *run.Options, keep bool) (func(), error) {
	if !keep {
		return func() {}, nil
	}
	dir, _, err := tenant.NewWorkdir(home, o.Tenant, o.RunID+"-target")
	if err != nil {
		return func() {}, &exitError{code: report.ExitSetupFailed, msg: fmt.Sprintf("tenant %s: %v", o.Tenant, err)}
	}
	o.Target.Workdir = dir
	return func() { fmt.Fprintf(os.Stderr, "syncbox: kept the target's working directory %s\n", dir) }, nil
}

// recordTarget appends the target's side of every attempt to its history.
func (p *memoryPlan) recordTarget(o *run.Options, rep *report.Report) {
	if o.Target == nil {
		return
	}
	machine, _ := os.Hostname()
	for _, a := range rep.Attempts {
		if a.Outcome == report.SetupFailed || a.Outcome == report.BudgetUnavailable || a.TargetPeakBytes == 0 {
			continue
		}
		oom := a.Outcome == report.OOMKilled && a.FailedIn == "target"
		outcome := string(report.Succeeded)
		if oom {
			outcome = string(report.OOMKilled)
		} else if a.FailedIn == "target" {
			outcome = string(a.Outcome)
		}
		e := history.Entry{At: a.StartedAt, RunID: rep.RunID, Name: o.Target.Name, Tenant: o.Tenant, Kind: string(p.kind), Attempt: a.Attempt,
			LimitBytes: a.TargetLimitBytes, PeakBytes: a.TargetPeakBytes, Outcome: outcome, OOM: oom,
			Duration: time.Duration(a.DurationSeconds * float64(time.Second)), Machine: machine}
		if err := p.hist.Append(e); err != nil {
			fmt.Fprintf(os.Stderr, "syncbox: the target's history not recorded: %v\n", err)
			return
		}
	}
}
