package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version of syncbox and of the libraries it runs containers with",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "syncbox %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/opencontainers/runc" || d.Path == "github.com/opencontainers/cgroups" {
						fmt.Fprintf(c.App.Writer, "%s %s\n", d.Path, d.Version)
					}
				}
			}
			return nil
		},
	}
}
