package cmd

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"syncbox/limits"
	"syncbox/limits/history"
	"syncbox/limits/profiles"
	"syncbox/run"
	"syncbox/run/container"
	"syncbox/run/stream"
)

const runDescription = `Runs CMD inside its own container: new pid, mount, uts, ipc, net and
cgroup namespaces; an empty read-only root with /usr, a minimal /etc, a fresh
/proc, a minimal /dev, a private /tmp and a writable per-run /run/syncbox/work;
no capabilities, no_new_privs, a seccomp allowlist; the tenant's own
unprivileged uid. The environment is not inherited. stdin is forwarded, stdout
is the record stream (scanned, see --protocol), stderr passes through. {state}
and {config} in ARGS are replaced by the paths of the state and config files
inside the container.

Exit codes:
   0    the connector exited 0 and the stream was complete
   1    the connector failed (its exit code or signal is in the report)
   2    usage error (bad flag or value)
   3    the connector was killed for exceeding its memory limit (OOM)
   4    --timeout reached
   5    stopped by a data policy (--oversize fail, --strict on a bad line)
   6    the host could not run the container (missing feature, permission, setup)
   7    the machine-wide memory budget could not be had in time
   130  interrupted by SIGINT (forwarded, cleaned up); 143 for SIGTERM`

func runCommand() *cli.Command {
	return &cli.Command{
		Name:        "run",
		Usage:       "run one connector invocation in its own container",
		UsageText:   "syncbox run [flags] -- CMD [ARGS...]",
		Description: runDescription,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "connector `NAME` (default: the command's base name)"},
			&cli.StringFlag{Name: "tenant", Value: "default", Usage: "tenant `ID` the run belongs to"},
			&cli.StringFlag{Name: "run-id", Usage: "use `ID` for this run (letters, digits, '-'; default: time + random) to correlate with a scheduler's job id"},
			&cli.StringSliceFlag{Name: "bind", Usage: "expose `SRC[:DST[:ro|rw]]` inside (repeatable; read-only by default)"},
			&cli.StringSliceFlag{Name: "env", Usage: "set `K=V` inside, or pass K through from here (repeatable)"},
			&cli.StringSliceFlag{Name: "env-file", Usage: "read K=V lines from `FILE` (repeatable)"},
			&cli.StringFlag{Name: "network", Value: "none", Usage: "`none` (loopback only) or host"},
			&cli.Int64Flag{Name: "pids", Value: container.DefaultPids, Usage: "maximum number of processes"},
			&cli.Float64Flag{Name: "cpus", Usage: "CPU quota in cores (e.g. 1.5); 0 = none"},
			&cli.StringFlag{Name: "tmp-size", Value: "64MiB", Usage: "size of the private /tmp (counts against --memory)"},
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
		}, append(memoryFlags(), tenantFlags()...)...),
		Action: runAction,
	}
}

func runAction(c *cli.Context) error {
	container.Prewarm()
	args := c.Args().Slice()
	if len(args) == 0 {
		return usageError("run: no command given; usage: syncbox run [flags] -- CMD [ARGS...]")
	}
	o := run.Options{
		Command:     args,
		RunID:       c.String("run-id"),
		Name:        c.String("name"),
		Tenant:      c.String("tenant"),
		Pids:        c.Int64("pids"),
		CPUs:        c.Float64("cpus"),
		Timeout:     c.Duration("timeout"),
		StopTimeout: c.Duration("stop-timeout"),
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
	}
	var err error
	if o.RunID != "" && !container.ValidID(o.RunID) {
		return usageError("--run-id %q: use up to 64 letters, digits and '-'", o.RunID)
	}
	if o.Network, err = container.ParseNetwork(c.String("network")); err != nil {
		return usageError("--network: %v", err)
	}
	if o.TmpBytes, err = sizeFlag(c, "tmp-size"); err != nil {
		return err
	}
	if o.Pids < 1 {
		return usageError("--pids %d: must be at least 1", o.Pids)
	}
	if o.CPUs < 0 {
		return usageError("--cpus %v: must not be negative", o.CPUs)
	}
	for _, b := range c.StringSlice("bind") {
		bind, err := parseBind(b)
		if err != nil {
			return usageError("%v", err)
		}
		o.Binds = append(o.Binds, bind)
	}
	if o.Env, err = buildEnv(c.StringSlice("env"), c.StringSlice("env-file"), os.LookupEnv); err != nil {
		return usageError("%v", err)
	}
	if o.Name == "" {
		o.Name = nameFromCommand(args[0])
	}
	if err := checkIdentity("--name", o.Name); err != nil {
		return err
	}
	if err := checkIdentity("--tenant", o.Tenant); err != nil {
		return err
	}
	if o.Stream, err = streamConfig(c); err != nil {
		return err
	}
	if fp := c.String("flags-file"); fp != "" {
		f, err := os.OpenFile(fp, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return usageError("--flags-file: %v", err)
		}
		defer f.Close()
		o.Stream.Flags = f
	}
	o.StateFile, o.ConfigFile = absPath(c.String("state-file")), absPath(c.String("config"))
	if o.ConfigFile != "" {
		if _, err := os.Stat(o.ConfigFile); err != nil {
			return usageError("--config: %v", err)
		}
	}
	o.ReportPath, o.MetricsPath = c.String("report"), c.String("metrics-file")
	// A typo here must fail now, not after a two-hour sync has nowhere to
	// write its report or checkpoint.
	for flag, path := range map[string]string{"--report": o.ReportPath, "--metrics-file": o.MetricsPath, "--state-file": o.StateFile} {
		if path == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
			return usageError("%s %s: directory %s does not exist", flag, path, filepath.Dir(path))
		}
	}
	o.Quiet = c.Bool("quiet")
	o.Progress = isTerminal(os.Stderr) && !o.Quiet

	if err := refuseSymlink("--state-file", o.StateFile); err != nil {
		return err
	}
	if err := refuseSymlink("--config", o.ConfigFile); err != nil {
		return err
	}
	if o.RunID == "" {
		o.RunID = run.NewRunID()
	}
	cleanup, err := applyTenant(c, &o, history.Home())
	if err != nil {
		return err
	}
	defer cleanup()

	plan, err := planMemory(c, &o)
	if err != nil {
		return err
	}
	if plan.auto && isTerminal(os.Stderr) && !o.Quiet {
		fmt.Fprintln(os.Stderr, plan.describe())
	}

	// Downstream closing our stdout (| head) must not kill the runner
	// mid-run: it would leave the container behind. EPIPE is handled.
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	o.Signals = sigs

	res := run.Run(context.Background(), o)
	plan.record(&o, res.Report)
	if res.Err != nil && o.Quiet {
		fmt.Fprintf(os.Stderr, "syncbox: %v\n", res.Err)
	}
	if res.ExitCode != 0 {
		return exitCode(res.ExitCode)
	}
	return nil
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
		if err := os.MkdirAll(d, 0o700); err != nil {
			return cfg, usageError("--rejects-dir: %v", err)
		}
		cfg.RejectsDir = d
	}
	return cfg, nil
}

// keysFlag collects --keys values whole: a StringSliceFlag would split
// STREAM=F1,F2 at the comma before it is parsed.
type keysFlag struct{ list []string }

func (k *keysFlag) Set(v string) error { k.list = append(k.list, v); return nil }
func (k *keysFlag) String() string     { return strings.Join(k.list, " ") }

// nameFromCommand derives a connector name from its executable's base
// name, replacing what names may not contain.
func nameFromCommand(cmd string) string {
	b := []rune(filepath.Base(cmd))
	for i, r := range b {
		if !identRune(r) {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "connector"
	}
	return string(b)
}

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
