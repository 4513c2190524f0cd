package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"syncbox/limits"
	"syncbox/limits/budget"
	"syncbox/limits/forecast"
	"syncbox/limits/history"
	"syncbox/run"
	"syncbox/run/hostfs"
	"syncbox/run/report"
	"syncbox/run/runlock"
)

const memoryCategory = "Memory: limits, right-sizing, machine budget"

func memoryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "memory", Value: "auto", Category: memoryCategory,
			Usage: "hard memory limit `SIZE` (512MiB, 2GiB, 1.5GB, bytes; no swap beyond it), or auto: forecast from this connector's history"},
		&cli.StringFlag{Name: "memory-min", Category: memoryCategory, Usage: "lowest limit auto may choose (default 64MiB)"},
		&cli.StringFlag{Name: "memory-max", Category: memoryCategory, Usage: "highest limit auto or a retry may choose (default: the machine budget)"},
		&cli.IntFlag{Name: "retry-oom", Value: -1, Category: memoryCategory, DefaultText: "2 with auto, 0 with a size",
			Usage: "after an OOM kill, rerun from the last checkpoint with a higher limit up to `N` times"},
		&cli.StringFlag{Name: "host-memory-budget", EnvVars: []string{"SYNCBOX_HOST_MEMORY_BUDGET"}, Category: memoryCategory,
			Usage: "memory all runs on this machine may reserve together (default: MemTotal minus max(1GiB, 10%))"},
		&cli.StringFlag{Name: "tenant-memory-budget", EnvVars: []string{"SYNCBOX_TENANT_MEMORY_BUDGET"}, Category: memoryCategory,
			Usage: "memory one tenant's runs on this machine may reserve together (default: no per-tenant share); also caps --memory-max"},
		&cli.IntFlag{Name: "max-concurrent", EnvVars: []string{"SYNCBOX_MAX_CONCURRENT"}, Category: memoryCategory, Usage: "runs at once on this machine, 0 = no slot limit"},
		&cli.DurationFlag{Name: "queue-timeout", Value: budget.DefaultQueueTimeout, Category: memoryCategory, Usage: "how long to wait for the budget before exit 7"},
		&cli.BoolFlag{Name: "no-wait", Category: memoryCategory, Usage: "exit 7 at once when the budget is short"},
		runKindFlag(),
	}
}

func runKindFlag() cli.Flag {
	return &cli.StringFlag{Name: "run-kind", Category: memoryCategory, DefaultText: "full without incoming state, else incremental",
		Usage: "`full` or `incremental`: what the history records and auto forecasts for (a full refresh has its own forecast)"}
}

// runKind is --run-kind, or by default full when the run has no incoming
// state (no --state-file, or one that is missing, empty or {}), else
// incremental. The state file may be tenant-written: only a regular file is
// read, and only its first bytes.
func runKind(c *cli.Context, stateFile string) (forecast.Kind, error) {
	if v := c.String("run-kind"); v != "" {
		k, err := forecast.ParseKind(v)
		if err != nil || k == "" {
			return "", usageError("--run-kind %q: want full or incremental", v)
		}
		return k, nil
	}
	if stateFile == "" {
		return forecast.Full, nil
	}
	fi, err := os.Lstat(stateFile)
	if errors.Is(err, os.ErrNotExist) {
		return forecast.Full, nil
	}
	if err != nil {
		return "", usageError("--state-file: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return "", usageError("--state-file %s is not a regular file", stateFile)
	}
	f, err := hostfs.Open(stateFile) // by the path rule: the file may be tenant-written
	if err != nil {
		return "", usageError("--state-file: %v", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", usageError("--state-file %s is not a regular file", stateFile)
	}
	head, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return "", usageError("--state-file: %v", err)
	}
	var v any
	if len(bytes.TrimSpace(head)) == 0 || (len(head) < 64 && json.Unmarshal(head, &v) == nil && isEmptyState(v)) {
		return forecast.Full, nil
	}
	return forecast.Incremental, nil
}

func isEmptyState(v any) bool {
	m, ok := v.(map[string]any)
	return v == nil || ok && len(m) == 0
}

// memoryPlan is what the memory flags decided for one run.
type memoryPlan struct {
	home string
	auto bool
	// targetAuto: a pipeline's target got its limit from its history.
	targetAuto bool
	params     forecast.Params
	rec        *forecast.Recommendation
	ledger     *budget.Ledger
	hist       history.Backend // the home's file, or a fleet's store
	lock       *runlock.Lock   // held for the whole run
	kind       forecast.Kind
}

// planMemory resolves --memory (auto or a size), the retry policy and the
// machine budget, and installs them in o. hist is the run history auto
// learns from and runs are recorded in.
func planMemory(c *cli.Context, o *run.Options, hist history.Backend) (*memoryPlan, error) {
	p := &memoryPlan{home: homeDir(), params: forecast.DefaultParams(), hist: hist}
	var err error
	if v := c.String("memory-min"); v != "" {
		if p.params.Min, err = sizeFlag(c, "memory-min"); err != nil {
			return nil, err
		}
	}
	total, err := budgetTotal(c)
	if err != nil {
		return nil, err
	}
	p.params.Max = total
	if v := c.String("memory-max"); v != "" {
		if p.params.Max, err = sizeFlag(c, "memory-max"); err != nil {
			return nil, err
		}
	}
	var tenantShare int64
	if c.String("tenant-memory-budget") != "" {
		if tenantShare, err = sizeFlag(c, "tenant-memory-budget"); err != nil {
			return nil, err
		}
		if tenantShare <= 0 || tenantShare > total {
			return nil, usageError("--tenant-memory-budget %s must be positive and at most the host memory budget %s",
				limits.FormatSize(tenantShare), limits.FormatSize(total))
		}
		// Neither auto nor a retry may ask for more than the tenant may hold.
		p.params.Max = min(p.params.Max, tenantShare)
	}
	if p.params.Max > 0 && p.params.Min > p.params.Max {
		return nil, usageError("--memory-min %s is above --memory-max %s", limits.FormatSize(p.params.Min), limits.FormatSize(p.params.Max))
	}

	mem := strings.TrimSpace(c.String("memory"))
	p.auto = mem == "auto"
	retries := c.Int("retry-oom")
	if retries < 0 {
		retries = 0
		if p.auto {
			retries = p.params.Retries
		}
	}
	p.params.Retries = retries
	if err := p.params.Validate(); err != nil {
		return nil, usageError("memory settings: %v", err)
	}
	if p.kind, err = runKind(c, o.StateFile); err != nil {
		return nil, err
	}
	if p.auto {
		own, others, err := p.hist.ForConnector(o.Name, o.Tenant)
		if err != nil {
			return nil, &exitError{code: report.ExitSetupFailed,
				msg: fmt.Sprintf("--memory auto needs this connector's history: %v (give an explicit --memory SIZE to run without it)", err)}
		}
		rec := forecast.Recommend(time.Now(), p.kind, history.Runs(own), history.Runs(others), p.params)
		p.rec = &rec
		o.MemoryBytes = rec.LimitBytes
	} else if o.MemoryBytes, err = sizeFlag(c, "memory"); err != nil {
		return nil, err
	}
	if retries > 0 {
		o.NextLimit = retryRule(p.params, p.rec)
	}

	if p.ledger, err = budget.Open(p.home, total, c.Int("max-concurrent")); err != nil {
		return nil, &exitError{code: report.ExitSetupFailed, msg: fmt.Sprintf("machine memory budget: %v", err)}
	}
	if err := p.ledger.SetTenantBudget(tenantShare); err != nil {
		return nil, usageError("--tenant-memory-budget: %v", err)
	}
	o.Admit = p.admitter(c, o)
	return p, nil
}

func budgetTotal(c *cli.Context) (int64, error) {
	if c.String("host-memory-budget") != "" {
		return sizeFlag(c, "host-memory-budget")
	}
	total, err := budget.DefaultBudget()
	if err != nil {
		return 0, &exitError{code: report.ExitSetupFailed, msg: fmt.Sprintf("machine memory budget: %v (set --host-memory-budget)", err)}
	}
	return total, nil
}

// admitter reserves each attempt's limit in the machine-wide ledger. On a
// TTY it shows what the run waits for; cron and CI get no progress lines.
func (p *memoryPlan) admitter(c *cli.Context, o *run.Options) func(ctx context.Context, limit int64) (func(), time.Duration, error) {
	noWait, timeout := c.Bool("no-wait"), c.Duration("queue-timeout")
	tty := isTerminal(os.Stderr)
	attempt := 0
	return func(ctx context.Context, limit int64) (func(), time.Duration, error) {
		attempt++
		req := budget.Request{RunID: fmt.Sprintf("%s-a%d", o.RunID, attempt), Name: o.Name, Tenant: o.Tenant, Bytes: limit}
		if limit == 0 {
			req.Bytes = p.params.Max // no limit of its own: it may use the whole budget
		}
		opt := budget.AcquireOptions{NoWait: noWait, Timeout: timeout}
		waited := false
		if tty {
			opt.OnWait = func(w budget.Waiting) {
				waited = true
				fmt.Fprintf(os.Stderr, "\r\033[Ksyncbox: waiting for %s of memory (%s free, %d run(s) ahead, %d running)",
					limits.FormatSize(w.NeedBytes), limits.FormatSize(w.FreeBytes), w.Ahead, w.Running)
			}
		}
		t0 := time.Now()
		r, sig, err := acquireInterruptibly(ctx, p.ledger, req, opt, o.Signals)
		if waited {
			fmt.Fprint(os.Stderr, "\r\033[K")
		}
		if sig != nil {
			if r != nil {
				_ = r.Release()
			}
			s, _ := sig.(syscall.Signal)
			return nil, time.Since(t0), &run.Interrupted{Signal: s}
		}
		if err != nil {
			if !errors.Is(err, budget.ErrTooLarge) && !errors.Is(err, budget.ErrBusy) && !errors.Is(err, budget.ErrTimeout) &&
				!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				// Not a shortage: the ledger itself failed (I/O in SYNCBOX_HOME).
				return nil, time.Since(t0), &run.SetupError{Err: fmt.Errorf("machine memory budget in %s: %w", p.home, err)}
			}
			if errors.Is(err, budget.ErrTooLarge) || errors.Is(err, budget.ErrTimeout) || errors.Is(err, budget.ErrBusy) {
				err = fmt.Errorf("%w (the budget is --host-memory-budget; waiting is --queue-timeout or --no-wait)", err)
			}
			return nil, time.Since(t0), err
		}
		return func() { _ = r.Release() }, r.Queued(), nil
	}
}

// record appends every attempt of a finished run to the history store.
// A store that cannot be written costs a warning (and a line in the
// report), never the run's result.
func (p *memoryPlan) record(o *run.Options, rep *report.Report) error {
	machine, _ := os.Hostname()
	for i, a := range rep.Attempts {
		if a.Outcome == report.SetupFailed || a.Outcome == report.BudgetUnavailable {
			continue
		}
		e := history.Entry{At: a.StartedAt, RunID: rep.RunID, Name: o.Name, Tenant: o.Tenant, Kind: string(p.kind), Attempt: a.Attempt,
			LimitBytes: a.LimitBytes, PeakBytes: a.PeakBytes, Outcome: string(a.Outcome), OOM: a.Outcome == report.OOMKilled,
			Duration: time.Duration(a.DurationSeconds * float64(time.Second)), Machine: machine}
		if i == len(rep.Attempts)-1 {
			e.Records, e.Bytes = rep.Records.Total, rep.Records.Bytes
			if l := rep.Records.Flagged.Largest; l != nil {
				e.LargestValueBytes = l.Size
			}
		}
		if err := p.hist.Append(e); err != nil {
			fmt.Fprintf(os.Stderr, "syncbox: history not recorded: %v\n", err)
			return err
		}
	}
	return nil
}

// retryRule is the OOM retry policy under params: up to params.Retries
// retries while the limit still grows. With auto (rec set), the forecast's
// own model given "peak above the killed limit"; with a fixed size, a
// vague one around it.
func retryRule(params forecast.Params, rec *forecast.Recommendation) func(attempt int, limit, peak int64) (int64, bool) {
	return func(attempt int, limit, peak int64) (int64, bool) {
		if attempt > params.Retries {
			return 0, false
		}
		next := forecast.NextRetryLimit(attempt, limit, peak, params)
		if rec != nil {
			next = rec.RetryLimit(attempt, max(limit, peak), params)
		}
		if params.Max > 0 {
			next = min(next, params.Max) // a retry never reserves beyond --memory-max
		}
		return next, next > limit
	}
}

// describe says on a TTY how auto chose the limit.
func (p *memoryPlan) describe() string {
	if p.rec == nil {
		return ""
	}
	why := "cold start"
	switch {
	case p.rec.OOMBumpBytes > 0 && p.rec.OOMBumpBytes >= p.rec.LimitBytes:
		why = "held up by an OOM kill no success followed"
	case p.rec.FromPrior:
		why = fmt.Sprintf("from %d other tenants' runs of this connector", p.rec.PriorTenants)
	case !p.rec.ColdStart:
		why = fmt.Sprintf("%s run from %d %s, level %s, %.2g%% kill chance", p.kind, p.rec.Runs, p.rec.Basis,
			humanize.IBytes(uint64(p.rec.LevelBytes)), 100*p.rec.KillChance)
	}
	return fmt.Sprintf("syncbox: --memory auto: %s (%s)", humanize.IBytes(uint64(p.rec.LimitBytes)), why)
}

// acquireInterruptibly waits for the budget but gives up on SIGINT/SIGTERM:
// a queued run must stop when asked, not after --queue-timeout. No
// container runs yet, so the signal is consumed here, not forwarded.
func acquireInterruptibly(ctx context.Context, l *budget.Ledger, req budget.Request, opt budget.AcquireOptions,
	signals <-chan os.Signal) (*budget.Reservation, os.Signal, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var caught os.Signal
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case caught = <-signals:
			cancel()
		case <-stop:
		}
	}()
	r, err := l.Acquire(ctx, req, opt)
	close(stop)
	<-watched // caught is settled once the watcher has returned
	return r, caught, err
}
