package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"syncbox/limits"
	"syncbox/limits/history"
)

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "show past runs (limit, peak, slack, outcome) from the history store",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "only this connector"},
			&cli.StringFlag{Name: "tenant", Usage: "only this tenant"},
			&cli.IntFlag{Name: "last", Value: 50, Usage: "at most `N` runs, newest last"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON lines instead of a table"},
			storeFlag(""),
		},
		Action: func(c *cli.Context) error {
			sh, err := openShared(c)
			if err != nil {
				return err
			}
			if sh == nil {
				// A fresh home has no store yet: that is an empty history,
				// not an error (and a read-only look must not create one).
				path := filepath.Join(homeDir(), history.FileName)
				if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
					if !c.Bool("json") {
						fmt.Fprintln(c.App.Writer, "no runs recorded in", path)
					}
					return nil
				}
			}
			defer sh.close()
			filter := history.Filter{Name: c.String("name"), Tenant: c.String("tenant"), Limit: c.Int("last")}
			var entries []history.Entry
			where := ""
			if sh != nil {
				where = sh.st.URL()
				entries, err = sh.history("").List(filter)
			} else {
				var s *history.Store
				if s, err = history.OpenWith(homeDir(), history.Options{ReadOnly: true}); err != nil {
					return exitCode1(err)
				}
				defer s.Close()
				where = s.Path()
				entries, err = s.List(filter)
			}
			if err != nil {
				return exitCode1(err)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				for _, e := range entries {
					if err := enc.Encode(e); err != nil {
						return err
					}
				}
				return nil
			}
			if len(entries) == 0 {
				fmt.Fprintln(c.App.Writer, "no runs recorded in", where)
				return nil
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', tabwriter.AlignRight)
			machineCol := ""
			if sh != nil { // a fleet's history: say where each run ran
				machineCol = "machine\t"
			}
			fmt.Fprintln(tw, "time\tname\ttenant\t"+machineCol+"try\tlimit\tpeak\tslack\toutcome\trecords\tduration\t")
			for _, e := range entries {
				slack := "-"
				if e.LimitBytes > 0 && !e.OOM {
					slack = fmt.Sprintf("%.0f%%", 100*float64(e.LimitBytes-e.PeakBytes)/float64(e.LimitBytes))
				}
				machine := ""
				if sh != nil {
					machine = e.Machine + "\t"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", e.At.Local().Format("2006-01-02 15:04"), e.Name, e.Tenant,
					machine, e.Attempt, limits.FormatSize(e.LimitBytes), limits.FormatSize(e.PeakBytes), slack, e.Outcome,
					humanize.Comma(e.Records), e.Duration.Round(100*time.Millisecond))
			}
			return tw.Flush()
		},
	}
}
