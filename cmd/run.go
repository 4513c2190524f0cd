package cmd

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"syncbox/limits"
	"syncbox/run"
	"syncbox/run/container"
)

const runDescription = `Runs CMD inside its own container: new pid, mount, uts, ipc, net and cgroup
namespaces; an empty read-only root with /usr, a minimal /etc, a fresh /proc,
a minimal /dev and a private /tmp; no capabilities; uid 65534. The environment
is not inherited. stdin is forwarded, stdout is the record stream, stderr
passes through.

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
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "connector `NAME` (default: the command's base name)"},
			&cli.StringFlag{Name: "tenant", Value: "default", Usage: "tenant `ID` the run belongs to"},
			&cli.StringFlag{Name: "run-id", Usage: "use `ID` for this run (letters, digits, '-'; default: time + random) to correlate with a scheduler's job id"},
			&cli.StringSliceFlag{Name: "bind", Usage: "expose `SRC[:DST[:ro|rw]]` inside (repeatable; read-only by default)"},
			&cli.StringSliceFlag{Name: "env", Usage: "set `K=V` inside, or pass K through from here (repeatable)"},
			&cli.StringSliceFlag{Name: "env-file", Usage: "read K=V lines from `FILE` (repeatable)"},
			&cli.StringFlag{Name: "network", Value: "none", Usage: "`none` (loopback only) or host"},
			&cli.StringFlag{Name: "memory", Usage: "hard memory limit `SIZE` (512MiB, 2GiB, 1.5GB, bytes); no swap beyond it"},
			&cli.Int64Flag{Name: "pids", Value: container.DefaultPids, Usage: "maximum number of processes"},
			&cli.Float64Flag{Name: "cpus", Usage: "CPU quota in cores (e.g. 1.5); 0 = none"},
			&cli.StringFlag{Name: "tmp-size", Value: "64MiB", Usage: "size of the private /tmp (counts against --memory)"},
			&cli.DurationFlag{Name: "timeout", Usage: "wall-clock limit; then SIGTERM, --stop-timeout, SIGKILL"},
			&cli.DurationFlag{Name: "stop-timeout", Value: 10 * time.Second, Usage: "grace period after a forwarded SIGINT/SIGTERM before SIGKILL"},
		},
		Action: runAction,
	}
}

func runAction(c *cli.Context) error {
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
	if o.MemoryBytes, err = sizeFlag(c, "memory"); err != nil {
		return err
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

	// Downstream closing our stdout (| head) must not kill the runner
	// mid-run: it would leave the container behind. EPIPE is handled.
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	o.Signals = sigs

	res := run.Run(context.Background(), o)
	if res.Err != nil {
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
