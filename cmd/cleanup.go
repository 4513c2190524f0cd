package cmd

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"syncbox/run/container"
)

func cleanupCommand() *cli.Command {
	return &cli.Command{
		Name:  "cleanup",
		Usage: "remove what runs whose runner died left behind (containers, cgroups, state)",
		Description: "Live runs are never touched: each holds a lock on its run directory.\n" +
			"Every `syncbox run` does the same at start, so this is for hosts that stopped running syncbox.",
		Action: func(c *cli.Context) error {
			gone, err := container.Cleanup(runPaths())
			for _, l := range gone {
				fmt.Fprintf(c.App.Writer, "removed %s of run %s\n", l.What, l.RunID)
			}
			if err != nil {
				return exitCode1(err)
			}
			if len(gone) == 0 {
				fmt.Fprintln(c.App.Writer, "nothing to clean up")
			}
			return nil
		},
	}
}

func exitCode1(err error) error { return &exitError{code: 1, msg: err.Error()} }
