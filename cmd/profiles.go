package cmd

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"syncbox/limits"
	"syncbox/limits/profiles"
)

func profilesCommand() *cli.Command {
	return &cli.Command{
		Name:  "profiles",
		Usage: "list the destination size profiles for --destination, with their sources",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			all := profiles.All()
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(all)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PROFILE\tMAX FIELD\tMAX RECORD\tNOTE")
			for _, p := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, sizeOrNone(p.MaxFieldSize), sizeOrNone(p.MaxRecordSize), p.Note)
			}
			tw.Flush()
			fmt.Fprintln(c.App.Writer, "\nSources:")
			for _, p := range all {
				fmt.Fprintf(c.App.Writer, "  %s: field: %s; record: %s\n", p.Name, orDash(p.FieldSource), orDash(p.RecordSource))
			}
			return nil
		},
	}
}

func sizeOrNone(n int64) string {
	if n <= 0 {
		return "none"
	}
	return fmt.Sprintf("%s (%d B)", limits.FormatSize(n), n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
