package cmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"syncbox/limits"
	"syncbox/limits/profiles"
	"syncbox/run"
	"syncbox/run/cgroup"
	"syncbox/run/container"
	"syncbox/run/hostfs"
	"syncbox/run/report"
	"syncbox/run/stream"
)

const runDescription = `Runs CMD inside its own container: new pid, mount, uts, ipc, net and
cgroup namespaces; an empty read-only root with /usr, a minimal /etc, a fresh
/proc, a minimal /dev, a private /tmp and a writable per-run /run/syncbox/work;
no capabilities, no_new_privs, a seccomp allowlist; the tenant's own
unprivileged uid. The environment is not inherited. The connector's stdin is
/dev/null unless --stdin forwards syncbox's own; stdout is the record stream
(scanned, see --protocol); stderr is copied with terminal control sequences
removed, up to --stderr-cap, then only counted in the report. The connector
never gets syncbox's own descriptors or terminal. {state}
and {config} in ARGS are replaced by the paths of the state and config files
inside the container.`

func runCommand() *cli.Command {
	return &cli.Command{
		Name:        "run",
		Usage:       "run one connector invocation in its own container",
		UsageText:   "syncbox run [flags] [--target 'TARGET ARGS...'] -- CMD [ARGS...]",
		Description: runDescription + "\n\n" + exitCodeHelp(),
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "connector `NAME`: its memory history and forecast (default: from the program run, see README)"},
			&cli.StringFlag{Name: "tenant", Value: "default", Usage: "tenant `ID` the run belongs to"},
			&cli.StringFlag{Name: "run-id", Usage: "use `ID` for this run (letters, digits, '-'; default: time + random) to correlate with a scheduler's job id"},
			&cli.StringSliceFlag{Name: "bind", Usage: "expose `SRC[:DST[:ro|rw]]` inside (repeatable; read-only by default)"},
			&cli.StringSliceFlag{Name: "env", Usage: "set `K=V` inside, or pass K through from here (repeatable)"},
			&cli.StringSliceFlag{Name: "env-file", Usage: "read K=V lines from `FILE` (repeatable)"},
			&cli.StringFlag{Name: "network", Value: "none", Usage: "`none` (loopback only) or host"},
			&cli.Int64Flag{Name: "pids", Value: container.DefaultPids, Usage: "maximum number of processes"},
			&cli.Float64Flag{Name: "cpus", Usage: "CPU quota in cores (e.g. 1.5); 0 = none"},
			&cli.StringFlag{Name: "tmp-size", Value: "64MiB", Usage: "size of the private /tmp (counts against --memory)"},
			&cli.BoolFlag{Name: "stdin", Usage: "forward syncbox's stdin to the connector (default: it reads /dev/null)"},
			&cli.StringFlag{Name: "stderr-cap", Value: "16MiB", Usage: "connector stderr copied per attempt, `SIZE`; the rest is counted in the report"},
			&cli.DurationFlag{Name: "timeout", Usage: "wall-clock limit; then SIGTERM, --stop-timeout, SIGKILL"},
			&cli.DurationFlag{Name: "stop-timeout", Value: 10 * time.Second, Usage: "grace period after a forwarded SIGINT/SIGTERM before SIGKILL"},

			&cli.StringFlag{Name: "protocol", Value: "auto", Usage: "stdout protocol: auto, singer, airbyte or raw (no inspection)", Category: "Record stream"},
			&cli.StringFlag{Name: "destination", Usage: "size limits of destination `PROFILE` (see syncbox profiles)", Category: "Record stream"},
			&cli.StringFlag{Name: "max-field-size", Usage: "largest top-level field or nested string or number, `SIZE` (a string: its decoded UTF-8 bytes, as destinations count; others: serialized)", Category: "Record stream"},
			&cli.StringFlag{Name: "max-record-size", Usage: "largest serialized record, `SIZE`", Category: "Record stream"},
			&cli.StringFlag{Name: "oversize", Value: "null", Usage: "what to do with an oversized value: null, truncate, drop, fail or pass", Category: "Record stream"},
			&cli.StringFlag{Name: "flags-file", Usage: "append one JSON line per flagged value or bad line to `FILE`", Category: "Record stream"},
			&cli.StringFlag{Name: "rejects-dir", Usage: "keep the original of every changed or dropped value in `DIR`", Category: "Record stream"},
			&cli.BoolFlag{Name: "strict", Usage: "stop at the first line that is not a valid message (exit 5)", Category: "Record stream"},
			&cli.GenericFlag{Name: "keys", Value: &keysFlag{}, Usage: "key properties `STREAM=FIELD[,FIELD...]` for streams without a Singer SCHEMA (Airbyte; STREAM is NAMESPACE.NAME for a stream with a namespace, or NAME for any): never nulled or truncated (repeatable)", Category: "Record stream"},
			&cli.StringFlag{Name: "max-line-size", Usage: "longest line the runner accepts (spooled to disk beyond 8 MiB), `SIZE`; a longer line is rejected with lineage (default 2GiB)", Category: "Record stream"},

			&cli.StringFlag{Name: "state-file", Usage: "input state for {state}; each STATE is persisted here atomically", Category: "Checkpoints and reports"},
			&cli.StringFlag{Name: "config", Usage: "config `FILE` the connector reads at {config}", Category: "Checkpoints and reports"},
			&cli.StringFlag{Name: "report", Usage: "write the JSON run report to `FILE` (whatever the outcome)", Category: "Checkpoints and reports"},
			&cli.StringFlag{Name: "metrics-file", Usage: "write Prometheus textfile metrics to `FILE`", Category: "Checkpoints and reports"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no summary on stderr", Category: "Checkpoints and reports"},
		}, append(append(append(memoryFlags(), tenantFlags()...), targetFlags()...), append(runLockFlags(), storeFlag("Checkpoints and reports"))...)...),
		Action: runAction,
	}
}

func runAction(c *cli.Context) error {
	cgroup.Prewarm()
	o := &run.Options{ReportPath: reportPath(c, "report"), MetricsPath: reportPath(c, "metrics-file")}
	plan, cleanup, err := prepareRun(c, o)
	defer cleanup()
	if err != nil {
		// A report was asked for: it must say what happened to this run,
		// not stand as an older run's "succeeded". Not when another run
		// holds the lock: the report path is that run's.
		var held *exitError
		if !errors.As(err, &held) || held.code != report.ExitAlreadyRunning {
			// The identity as typed, where the error came before it was read.
			o.RunID = cmp.Or(o.RunID, c.String("run-id"))
			o.Name = cmp.Or(o.Name, c.String("name"))
			o.Tenant = cmp.Or(o.Tenant, c.String("tenant"))
			writeFailureReport(o, c.Args().Slice(), err)
		}
		return err
	}

	// Downstream closing our stdout (| head) must not kill the runner
	// mid-run: it would leave the container behind. EPIPE is handled.
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	o.Signals = sigs

	res := run.Run(context.Background(), *o)
	notRecorded(o, res.Report, plan.lock, plan.record(o, res.Report))
	plan.recordTarget(o, res.Report)
	if res.Err != nil && o.Quiet {
		fmt.Fprintln(os.Stderr, res.Report.QuietLine())
	}
	if res.ExitCode != 0 {
		return exitCode(res.ExitCode)
	}
	return nil
}

// prepareRun turns the flags into o. Every error is the run's outcome: a
// usage error (exit 2) or the host's (exit 6). cleanup is always callable.
func prepareRun(c *cli.Context, o *run.Options) (plan *memoryPlan, cleanup func(), err error) {
	var cleanups []func()
	cleanup = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	if err := swallowedDashDash(c); err != nil {
		return nil, cleanup, err
	}
	if err := checkStdout(); err != nil {
		return nil, cleanup, err
	}
	args := c.Args().Slice()
	if len(args) == 0 {
		return nil, cleanup, usageError("run: no command given; usage: syncbox run [flags] -- CMD [ARGS...]")
	}
	if err := checkRunFlags(c); err != nil {
		return nil, cleanup, err
	}
	o.Command = args
	o.RunID, o.Name, o.Tenant = c.String("run-id"), c.String("name"), c.String("tenant")
	o.Pids, o.CPUs = c.Int64("pids"), c.Float64("cpus")
	o.Timeout, o.StopTimeout = c.Duration("timeout"), c.Duration("stop-timeout")
	o.Stdout, o.Stderr = os.Stdout, os.Stderr
	o.Paths = runPaths()
	if c.Bool("stdin") {
		if c.String("target") != "" {
			return nil, cleanup, usageError("--stdin with --target: a pipeline's tap reads no stdin (the target's comes from the tap)")
		}
		o.Stdin = os.Stdin
	}
	if o.StderrCap, err = sizeFlag(c, "stderr-cap"); err != nil {
		return nil, cleanup, err
	}
	if o.StderrCap < 1 {
		return nil, cleanup, usageError("--stderr-cap %q: must be at least 1 byte", c.String("stderr-cap"))
	}
	if o.RunID != "" && !container.ValidID(o.RunID) {
		return nil, cleanup, usageError("--run-id %q: use up to 64 letters, digits and '-'", o.RunID)
	}
	if o.Network, err = container.ParseNetwork(c.String("network")); err != nil {
		return nil, cleanup, usageError("--network: %v", err)
	}
	if o.TmpBytes, err = sizeFlag(c, "tmp-size"); err != nil {
		return nil, cleanup, err
	}
	if o.Pids < 1 {
		return nil, cleanup, usageError("--pids %d: must be at least 1", o.Pids)
	}
	if o.CPUs < 0 {
		return nil, cleanup, usageError("--cpus %v: must not be negative", o.CPUs)
	}
	for _, b := range c.StringSlice("bind") {
		bind, err := parseBind("--bind", b)
		if err != nil {
			return nil, cleanup, usageError("%v", err)
		}
		o.Binds = append(o.Binds, bind)
	}
	if o.Env, err = buildEnv(c.StringSlice("env"), c.StringSlice("env-file"), os.LookupEnv); err != nil {
		return nil, cleanup, usageError("%v", err)
	}
	if o.Name == "" {
		o.Name = defaultName(args, o.Binds)
	}
	if note := pathNote(args, o.Binds); note != "" && !c.Bool("quiet") {
		fmt.Fprintln(os.Stderr, "syncbox: "+note)
	}
	if err := checkIdentity("--name", o.Name); err != nil {
		return nil, cleanup, err
	}
	if err := checkIdentity("--tenant", o.Tenant); err != nil {
		return nil, cleanup, err
	}
	if o.Stream, err = streamConfig(c); err != nil {
		return nil, cleanup, err
	}
	if o.Target, err = targetOptions(c, o); err != nil {
		return nil, cleanup, err
	}
	// A command the container could not run is refused now, with the flag
	// that fixes it (exit 127 or 126, as a shell says).
	if err := checkCommand("--bind", o.Command, o.Binds); err != nil {
		return nil, cleanup, err
	}
	if o.Target != nil {
		if err := checkCommand("--target-bind", o.Target.Command, o.Target.Binds); err != nil {
			return nil, cleanup, err
		}
	}
	o.StateFile, o.ConfigFile = absPath(c.String("state-file")), absPath(c.String("config"))
	o.CatalogFile = absPath(c.String("catalog"))
	for flag, path := range map[string]string{"--config": o.ConfigFile, "--catalog": o.CatalogFile} {
		if path != "" {
			if _, err := os.Stat(path); err != nil {
				return nil, cleanup, usageError("%s: %v", flag, err)
			}
		}
	}
	if o.Target != nil && o.Target.ConfigFile != "" {
		if _, err := os.Stat(o.Target.ConfigFile); err != nil {
			return nil, cleanup, usageError("--target-config: %v", err)
		}
	}
	// A typo here must fail now, not after a two-hour sync has nowhere to
	// write its report or checkpoint.
	for flag, path := range map[string]string{"--report": o.ReportPath, "--metrics-file": o.MetricsPath, "--state-file": o.StateFile} {
		if path == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
			return nil, cleanup, usageError("%s %s: directory %s does not exist", flag, path, filepath.Dir(path))
		}
	}
	o.Quiet = c.Bool("quiet")
	o.Progress = isTerminal(os.Stderr) && !o.Quiet

	if err := refuseSymlink("--state-file", o.StateFile); err != nil {
		return nil, cleanup, err
	}
	if err := refuseSymlink("--config", o.ConfigFile); err != nil {
		return nil, cleanup, err
	}
	if fp := c.String("flags-file"); fp != "" {
		// By the path rule: a link planted at (or above) the flags file
		// must not make root append to another file.
		f, err := hostfs.OpenFile(fp, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, cleanup, usageError("--flags-file: %v", err)
		}
		cleanups = append(cleanups, func() { f.Close() })
		o.Stream.Flags = f
	}
	if o.RunID == "" {
		o.RunID = run.NewRunID()
	}
	// --store: history, checkpoint and run lock shared by a fleet.
	sh, err := openShared(c)
	if err != nil {
		return nil, cleanup, err
	}
	cleanups = append(cleanups, sh.close)
	// One run per connector and tenant: taken before anything touches
	// state, released after the last write (report, history).
	lock, err := acquireRunLock(c, o, homeDir(), sh.lockBackend())
	if err != nil {
		return nil, cleanup, err
	}
	cleanups = append(cleanups, func() { lock.Release() })
	if err := sh.useCheckpoint(o); err != nil {
		return nil, cleanup, err
	}
	tc, err := applyTenant(c, o, homeDir())
	cleanups = append(cleanups, tc)
	if err != nil {
		return nil, cleanup, err
	}
	if o.Target != nil {
		wc, err := targetWorkdir(homeDir(), o, c.Bool("keep-workdir"))
		cleanups = append(cleanups, wc)
		if err != nil {
			return nil, cleanup, err
		}
	}

	if plan, err = planMemory(c, o, sh.history(homeDir())); err != nil {
		return nil, cleanup, err
	}
	plan.lock = lock
	if o.Target != nil {
		if err := planTarget(c, plan, o); err != nil {
			return nil, cleanup, err
		}
	}
	if plan.auto && isTerminal(os.Stderr) && !o.Quiet {
		fmt.Fprintln(os.Stderr, plan.describe())
	}
	return plan, cleanup, nil
}

// checkCommand turns a command the container cannot run into its exit
// code, saying which bind flag makes it visible.
func checkCommand(bindFlag string, args []string, binds []container.Bind) error {
	_, err := container.Inspect(args, binds)
	var ce *container.CommandError
	if !errors.As(err, &ce) {
		return nil // anything else is the container's to report
	}
	code := report.ExitCommandNotFound
	if !ce.NotFound {
		code = report.ExitNotExecutable
	}
	msg := ce.Msg
	if ce.Bind != "" {
		msg += "; add " + bindFlag + " " + ce.Bind
	}
	return &exitError{code: code, msg: msg}
}

// checkStdout refuses a closed stdout. Go's runtime reopens a closed fd 1
// on /dev/null read-write before main (a shell's >/dev/null is write-only),
// so a run started with >&- would deliver every record to nowhere and still
// persist its final state.
func checkStdout() error {
	var st unix.Stat_t
	if err := unix.Fstat(1, &st); err != nil {
		return usageError("stdout is not open (%v): the records need somewhere to go; redirect it to a file", err)
	}
	fl, err := unix.FcntlInt(1, unix.F_GETFL, 0)
	if err != nil {
		return usageError("stdout: %v", err)
	}
	var null unix.Stat_t
	if st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Stat(os.DevNull, &null) == nil && st.Rdev == null.Rdev && fl&unix.O_ACCMODE == unix.O_RDWR {
		return usageError("stdout was closed when syncbox started (>&-): every record would be lost; " +
			"redirect it to a file, or to /dev/null with >/dev/null if that is really meant")
	}
	return nil
}

// writeFailureReport writes a report, and metrics, for a run that ended
// before it started, when they were asked for: they must say what happened
// to this run, never stand as an older run's success. o carries the paths
// and whatever of the run's identity was known; the rest is made up here
// (a run id of its own; a name from the command, for the metrics' label).
func writeFailureReport(o *run.Options, command []string, err error) {
	if o.ReportPath == "" && o.MetricsPath == "" {
		return
	}
	code := report.ExitUsage
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	outcome := report.SetupFailed
	for _, e := range report.ExitCodes() {
		if e.Code == code && e.Outcome != "" {
			outcome = e.Outcome
		}
	}
	runID, name := o.RunID, o.Name
	if runID == "" {
		runID = run.NewRunID()
	}
	if name == "" {
		name = "connector"
		if len(command) > 0 {
			name = defaultName(command, o.Binds)
		}
	}
	r := report.New(runID, name, o.Tenant, command)
	r.StartedAt = time.Now().UTC()
	r.EndedAt = r.StartedAt
	r.Outcome, r.ExitCode, r.Error = outcome, code, err.Error()
	if o.MetricsPath != "" {
		if werr := r.WriteMetrics(o.MetricsPath); werr != nil {
			fmt.Fprintf(os.Stderr, "syncbox: %v\n", werr)
		}
	}
	if o.ReportPath != "" {
		if werr := r.WriteFile(o.ReportPath); werr != nil {
			fmt.Fprintf(os.Stderr, "syncbox: %v\n", werr)
		}
	}
}

// sizeFlag reads a size flag; unset means 0. A bad value is a usage error
// that names the flag and the accepted forms.
func sizeFlag(c *cli.Context, name string) (int64, error) {
	v := c.String(name)
	if v == "" {
		return 0, nil
	}
	n, err := limits.ParseSize(v)
	if err != nil {
		return 0, usageError("--%s %q: %v", name, v, err)
	}
	return n, nil
}

// streamConfig turns the record-stream flags into the scanner's config:
// a --destination profile first, explicit sizes over it.
func streamConfig(c *cli.Context) (stream.Config, error) {
	var cfg stream.Config
	var err error
	if cfg.Protocol, err = stream.ParseProtocol(c.String("protocol")); err != nil {
		return cfg, usageError("--protocol: %v", err)
	}
	if cfg.Protocol == stream.Auto && c.String("catalog") != "" {
		cfg.Protocol = stream.Airbyte // a configured catalog is Airbyte's: {state} starts as []
	}
	if cfg.Oversize, err = stream.ParseAction(c.String("oversize")); err != nil {
		return cfg, usageError("--oversize: %v", err)
	}
	if d := c.String("destination"); d != "" {
		p, err := profiles.Lookup(d)
		if err != nil {
			return cfg, usageError("--destination: %v", err)
		}
		cfg.MaxFieldSize, cfg.MaxRecordSize = p.MaxFieldSize, p.MaxRecordSize
	}
	if c.IsSet("max-field-size") {
		if cfg.MaxFieldSize, err = sizeFlag(c, "max-field-size"); err != nil {
			return cfg, err
		}
	}
	if c.IsSet("max-record-size") {
		if cfg.MaxRecordSize, err = sizeFlag(c, "max-record-size"); err != nil {
			return cfg, err
		}
	}
	cfg.Strict = c.Bool("strict")
	if c.IsSet("max-line-size") {
		if cfg.MaxLineSize, err = sizeFlag(c, "max-line-size"); err != nil {
			return cfg, err
		}
		if cfg.MaxLineSize <= 0 {
			return cfg, usageError("--max-line-size must be larger than 0")
		}
	}
	for _, kv := range c.Generic("keys").(*keysFlag).list {
		stream, fields, ok := strings.Cut(kv, "=")
		if !ok || stream == "" || fields == "" {
			return cfg, usageError("--keys %q: expected STREAM=FIELD[,FIELD...]", kv)
		}
		if cfg.Keys == nil {
			cfg.Keys = map[string][]string{}
		}
		cfg.Keys[stream] = append(cfg.Keys[stream], strings.Split(fields, ",")...)
	}
	if d := c.String("rejects-dir"); d != "" {
		dir, err := hostfs.MkdirAll(d, 0o700)
		if err != nil {
			return cfg, usageError("--rejects-dir: %v", err)
		}
		dir.Close()
		cfg.RejectsDir = d
	}
	return cfg, nil
}

// keysFlag collects --keys values whole: a StringSliceFlag would split
// STREAM=F1,F2 at the comma before it is parsed.
type keysFlag struct{ list []string }

func (k *keysFlag) Set(v string) error { k.list = append(k.list, v); return nil }
func (k *keysFlag) String() string     { return strings.Join(k.list, " ") }

func identRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// checkIdentity validates a name or tenant: they become directory names
// and history keys, so no separators, no "..", nothing empty.
func checkIdentity(flag, v string) error {
	if v == "" || v == "." || v == ".." || len(v) > 128 {
		return usageError("%s %q: must be 1-128 letters, digits, '.', '_' or '-'", flag, v)
	}
	for _, r := range v {
		if !identRune(r) {
			return usageError("%s %q: must be 1-128 letters, digits, '.', '_' or '-'", flag, v)
		}
	}
	return nil
}

func absPath(p string) string {
	if p == "" {
		return ""
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
