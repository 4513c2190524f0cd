package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"syncbox/limits"
	"syncbox/limits/budget"
	"syncbox/limits/history"
	"syncbox/run/container"
)

func psCommand() *cli.Command {
	return &cli.Command{
		Name:  "ps",
		Usage: "list the runs on this machine (running and queued) and the memory budget",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.StringFlag{Name: "host-memory-budget", EnvVars: []string{"SYNCBOX_HOST_MEMORY_BUDGET"}, Usage: "budget `SIZE` (as given to run)"},
		},
		Action: func(c *cli.Context) error {
			total, err := budgetTotal(c)
			if err != nil {
				return err
			}
			l, err := budget.Open(history.Home(), total, 0)
			if err != nil {
				return exitCode1(err)
			}
			st, err := l.Status()
			if err != nil {
				return exitCode1(err)
			}
			type row struct {
				budget.Entry
				MemoryBytes int64   `json:"memory_bytes"`
				AgeSeconds  float64 `json:"age_seconds"`
			}
			rows := make([]row, 0, len(st.Entries))
			for _, e := range st.Entries {
				r := row{Entry: e, AgeSeconds: time.Since(e.Arrived).Seconds()}
				if e.State == budget.StateRunning {
					r.MemoryBytes = currentMemory(e.RunID)
				}
				rows = append(rows, r)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"runs": rows, "budget": map[string]int64{
					"total_bytes": st.Total, "reserved_bytes": st.Reserved, "free_bytes": st.Free}})
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tNAME\tTENANT\tSTATE\tLIMIT\tMEMORY\tAGE\tPID")
			for _, r := range rows {
				mem := "-"
				if r.MemoryBytes > 0 {
					mem = limits.FormatSize(r.MemoryBytes)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.RunID, r.Name, r.Tenant, r.State,
					limits.FormatSize(r.Bytes), mem, time.Duration(r.AgeSeconds*float64(time.Second)).Round(time.Second), r.PID)
			}
			tw.Flush()
			fmt.Fprintf(c.App.Writer, "budget: %s total, %s reserved, %s free (%d running, %d queued)\n",
				limits.FormatSize(st.Total), limits.FormatSize(st.Reserved), limits.FormatSize(st.Free), st.Running, st.Queued)
			return nil
		},
	}
}

// currentMemory reads a running run's cgroup memory usage. Ledger ids are
// <run id>-a<attempt>; the first attempt's container is named <run id>.
func currentMemory(ledgerID string) int64 {
	id := ledgerID
	if i := strings.LastIndex(id, "-a"); i > 0 {
		if n, err := strconv.Atoi(id[i+2:]); err == nil {
			id = id[:i]
			if n > 1 {
				id = fmt.Sprintf("%s-a%d", id, n)
			}
		}
	}
	for _, d := range container.CgroupDirs(id) {
		for _, f := range []string{"memory.usage_in_bytes", "memory.current"} {
			if b, err := os.ReadFile(filepath.Join(d, f)); err == nil {
				n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
				return n
			}
		}
	}
	return 0
}
