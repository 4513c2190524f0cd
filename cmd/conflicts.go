package cmd

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"syncbox/limits"
	"syncbox/run/report"
)

// rawIgnores are the flags that act on inspected records: with --protocol
// raw the stream is passed through unread, so each would silently do nothing
// (a --destination redshift run would deliver its 200 kB value untouched).
var rawIgnores = []string{"destination", "strict", "flags-file", "max-field-size", "max-record-size",
	"oversize", "rejects-dir", "keys", "target", "max-line-size"}

// checkRunFlags refuses, before anything is set up, the flag combinations
// that cannot mean what they say and the limits no run could ever have:
// exit 2 naming both flags, rather than a silent no-op, an exit 6 with runc
// internals, or an exit 7 after --queue-timeout. Last it says "run as root"
// before any setup can fail with a permission error deep inside.
func checkRunFlags(c *cli.Context) error {
	if strings.EqualFold(strings.TrimSpace(c.String("protocol")), "raw") {
		for _, f := range rawIgnores {
			if c.IsSet(f) {
				return usageError("--protocol raw passes the stream through unread, so --%s would do nothing; drop one of the two", f)
			}
		}
	}
	if c.IsSet("no-wait") && c.Bool("no-wait") && c.IsSet("queue-timeout") {
		return usageError("--no-wait and --queue-timeout contradict each other: --no-wait gives up at once; drop one of the two")
	}
	if cpus := c.Float64("cpus"); cpus > float64(runtime.NumCPU()) {
		return usageError("--cpus %v is more than this machine's %d cores", cpus, runtime.NumCPU())
	}
	if err := checkMemoryFlags(c); err != nil {
		return err
	}
	if err := checkPlaceholders(c); err != nil {
		return err
	}
	return requireRoot(c)
}

// checkMemoryFlags relates the size flags to each other, to the smallest
// limit a container starts with and to the machine's budget.
func checkMemoryFlags(c *cli.Context) error {
	sizes := map[string]int64{}
	for _, f := range []string{"memory", "memory-min", "memory-max", "tmp-size", "target-memory"} {
		if (f == "memory" || f == "target-memory") && strings.TrimSpace(c.String(f)) == "auto" {
			continue
		}
		if !c.IsSet(f) {
			continue
		}
		n, err := sizeFlag(c, f)
		if err != nil {
			return err
		}
		sizes[f] = n
	}
	for _, f := range []string{"memory", "memory-min", "memory-max", "target-memory"} {
		if n, ok := sizes[f]; ok && n < limits.MinMemoryLimit {
			return usageError("--%s %s: below the smallest limit a container can start with, %s (its init alone uses about 4 MiB)",
				f, shown(c, f, n), report.FlagSize(limits.MinMemoryLimit))
		}
	}
	// Each pair: the first must not be above the second.
	for _, p := range [][2]string{{"memory-min", "memory-max"}, {"memory", "memory-max"}, {"memory-min", "memory"}} {
		lo, okLo := sizes[p[0]]
		hi, okHi := sizes[p[1]]
		if okLo && okHi && lo > hi {
			return usageError("--%s %s is above --%s %s", p[0], shown(c, p[0], lo), p[1], shown(c, p[1], hi))
		}
	}
	// /tmp is a tmpfs charged to the container: a /tmp as large as the limit
	// lets the connector's own files OOM-kill it.
	if tmp, ok := sizes["tmp-size"]; ok {
		for _, f := range []string{"memory", "memory-max"} {
			if m, ok := sizes[f]; ok && tmp >= m {
				return usageError("--tmp-size %s is not below --%s %s: /tmp counts against the memory limit",
					shown(c, "tmp-size", tmp), f, shown(c, f, m))
			}
		}
	}
	total, err := budgetTotal(c)
	if err != nil {
		return err
	}
	for _, f := range []string{"memory", "memory-min", "target-memory"} {
		if n, ok := sizes[f]; ok && n > total {
			return usageError("--%s %s can never fit in this machine's memory budget of %s (--host-memory-budget)",
				f, shown(c, f, n), limits.FormatExact(total))
		}
	}
	return nil
}

// checkPlaceholders: {config} in the command needs --config, or the
// connector reads an empty file. ({state} works without --state-file: a
// first run starts from empty state.)
func checkPlaceholders(c *cli.Context) error {
	if c.String("config") != "" {
		return nil
	}
	for _, a := range c.Args().Slice() {
		if strings.Contains(a, "{config}") {
			return usageError("the command reads {config} but no --config FILE was given")
		}
	}
	return nil
}

// shown echoes a size flag as typed and, when that is not a whole IEC
// figure, what it was read as: "1GB (954 MiB, 1000000000 bytes)".
func shown(c *cli.Context, flag string, n int64) string {
	typed := strings.TrimSpace(c.String(flag))
	exact := limits.FormatExact(n)
	if !strings.HasSuffix(exact, " bytes)") || strings.Trim(typed, "0123456789") == "" {
		return typed
	}
	return fmt.Sprintf("%s (%s)", typed, strings.Replace(strings.TrimSuffix(exact, ")"), " (", ", ", 1))
}
