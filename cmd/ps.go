package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"syncbox/limits"
	"syncbox/limits/budget"
	"syncbox/run/container"
)

func psCommand() *cli.Command {
	return &cli.Command{
		Name:  "ps",
		Usage: "list the runs on this machine (running and queued) and the memory budget in force",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.StringFlag{Name: "host-memory-budget", EnvVars: []string{"SYNCBOX_HOST_MEMORY_BUDGET"}, Usage: "budget `SIZE` (as given to run)"},
		},
		Action: psAction,
	}
}

// psRun is one ledger entry as ps shows it; JSON names are snake_case like
// the report's.
type psRun struct {
	Ticket      uint64       `json:"ticket"`
	RunID       string       `json:"run_id"`
	Name        string       `json:"name"`
	Tenant      string       `json:"tenant"`
	State       budget.State `json:"state"`
	LimitBytes  int64        `json:"limit_bytes"`
	MemoryBytes int64        `json:"memory_bytes"` // current usage; 0 while queued
	PID         int          `json:"pid"`
	Since       time.Time    `json:"since"`
	Arrived     time.Time    `json:"arrived"`
	AgeSeconds  float64      `json:"age_seconds"`
	BudgetBytes int64        `json:"budget_bytes"` // the budget its runner was started with
}

// psBudget is the budget in force and where it comes from.
type psBudget struct {
	TotalBytes    int64  `json:"total_bytes"`
	ReservedBytes int64  `json:"reserved_bytes"`
	FreeBytes     int64  `json:"free_bytes"`
	Source        string `json:"source"` // "runs", "--host-memory-budget", "SYNCBOX_HOST_MEMORY_BUDGET" or "default"
	Running       int    `json:"running"`
	Queued        int    `json:"queued"`
	// ThisShellBytes is what a run started with ps's own settings would use,
	// when that differs from the budget the live runs hold.
	ThisShellBytes int64 `json:"this_shell_bytes,omitempty"`
}

func psAction(c *cli.Context) error {
	total, err := budgetTotal(c)
	if err != nil {
		return err
	}
	l, err := budget.Open(homeDir(), total, 0)
	if err != nil {
		return exitCode1(err)
	}
	st, err := l.Status()
	if err != nil {
		return exitCode1(err)
	}
	b := psBudget{TotalBytes: total, ReservedBytes: st.Reserved, Source: budgetSource(c), Running: st.Running, Queued: st.Queued}
	// The live runs were admitted against their own runners' budget, which
	// is the one in force; this shell's flags or environment may differ.
	for _, e := range st.Entries {
		if e.Budget > 0 {
			b.TotalBytes, b.Source = e.Budget, "runs"
		}
	}
	if b.TotalBytes != total {
		b.ThisShellBytes = total
	}
	b.FreeBytes = max(b.TotalBytes-b.ReservedBytes, 0)

	rows := make([]psRun, 0, len(st.Entries))
	for _, e := range st.Entries {
		r := psRun{Ticket: e.Ticket, RunID: e.RunID, Name: e.Name, Tenant: e.Tenant, State: e.State, LimitBytes: e.Bytes,
			PID: e.PID, Since: e.Since, Arrived: e.Arrived, AgeSeconds: time.Since(e.Arrived).Seconds(), BudgetBytes: e.Budget}
		if e.State == budget.StateRunning {
			r.MemoryBytes = currentMemory(e.RunID, e.PID)
		}
		rows = append(rows, r)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"runs": rows, "budget": b})
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tNAME\tTENANT\tSTATE\tLIMIT\tMEMORY\tAGE\tPID")
	for _, r := range rows {
		mem := "-"
		if r.MemoryBytes > 0 {
			mem = limits.FormatSize(r.MemoryBytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.RunID, r.Name, r.Tenant, r.State,
			limits.FormatSize(r.LimitBytes), mem, time.Duration(r.AgeSeconds*float64(time.Second)).Round(time.Second), r.PID)
	}
	tw.Flush()
	src := b.Source
	switch src {
	case "default":
		src = "default: MemTotal minus max(1GiB, 10%)"
	case "runs":
		src = "as the live runs were started with"
	}
	fmt.Fprintf(c.App.Writer, "budget: %s total (%s), %s reserved, %s free (%d running, %d queued)\n",
		limits.FormatExact(b.TotalBytes), src, limits.FormatSize(b.ReservedBytes), limits.FormatSize(b.FreeBytes), b.Running, b.Queued)
	if b.ThisShellBytes > 0 {
		fmt.Fprintf(c.App.Writer, "note: a run started from here would use %s (%s), not the %s the live runs hold\n",
			limits.FormatExact(b.ThisShellBytes), budgetSource(c), limits.FormatExact(b.TotalBytes))
	}
	return nil
}

// budgetSource names where budgetTotal found the budget.
func budgetSource(c *cli.Context) string {
	switch {
	case c.String("host-memory-budget") == "":
		return "default"
	case os.Getenv("SYNCBOX_HOST_MEMORY_BUDGET") != "" && !flagOnCommandLine(c, "host-memory-budget"):
		return "SYNCBOX_HOST_MEMORY_BUDGET"
	}
	return "--host-memory-budget"
}

// flagOnCommandLine tells a flag given as an argument from one set by its
// environment variable, which urfave/cli's IsSet does not.
func flagOnCommandLine(c *cli.Context, name string) bool {
	for _, a := range os.Args[1:] {
		if a == "--" {
			break
		}
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") || a == "-"+name || strings.HasPrefix(a, "-"+name+"=") {
			return true
		}
	}
	return false
}

// currentMemory reads a running run's cgroup memory usage, through the
// same cgroup.Cgroup reading as the run's own sampler, below its runner's
// own cgroup (on a systemd host not ps's). Ledger ids are
// <run id>-a<attempt>; the first attempt's container is named <run id>.
func currentMemory(ledgerID string, runner int) int64 {
	id := ledgerID
	if i := strings.LastIndex(id, "-a"); i > 0 {
		if n, err := strconv.Atoi(id[i+2:]); err == nil {
			id = id[:i]
			if n > 1 {
				id = fmt.Sprintf("%s-a%d", id, n)
			}
		}
	}
	cg, err := container.FindCgroup(id, runner)
	if err != nil {
		return 0
	}
	n, _ := cg.ReadUsage() // 0 once the run has just ended
	return n
}
