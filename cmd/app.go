// Package cmd is syncbox's command-line surface: one file per command, each
// turning flags into the plain option structs of packages run and limits.
package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"syncbox/run/report"
)

// Version is set at build time with -ldflags "-X syncbox/cmd.Version=...".
var Version = "dev"

// exitError carries an exit code out of an action without printing twice.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usageError is a bad flag or value: exit code 2, message names the flag.
func usageError(format string, a ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, a...)}
}

func exitCode(code int) error { return &exitError{code: code} }

// App builds the CLI. Output streams are parameters so tests can run it.
func App(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:      "syncbox",
		Usage:     "run one data-pipeline connector in its own container, with a memory diagnosis",
		Version:   Version,
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed by Main with the exit code they map to.
		ExitErrHandler: func(*cli.Context, error) {},
		// Usage errors go to stderr with a suggestion, never help on stdout.
		Suggest: true,
		Action:  unknownCommand,
		Commands: []*cli.Command{
			runCommand(),
			psCommand(),
			historyCommand(),
			recommendCommand(),
			profilesCommand(),
			doctorCommand(),
			cleanupCommand(),
			versionCommand(),
		},
	}
	installUsageErrors(app, nil)
	for _, c := range app.Commands {
		if c.Name == "cleanup" {
			// Without root it can see none of what it removes, and would
			// say "nothing to clean up" about a host full of leftovers.
			c.Before = requireRoot
		}
	}
	return app
}

// requireRoot says "run as root" before a command that needs it fails
// deep inside with a permission error, or succeeds at seeing nothing.
func requireRoot(c *cli.Context) error {
	if os.Geteuid() != 0 {
		return &exitError{code: report.ExitSetupFailed,
			msg: fmt.Sprintf("run as root: syncbox %s works on containers, cgroups and mounts (e.g. sudo syncbox %s)", c.Command.Name, c.Command.Name)}
	}
	return nil
}

// Main runs the CLI and returns the process exit code.
func Main(args []string) int {
	app := App(os.Stdout, os.Stderr)
	installUsageErrors(app, args)
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "syncbox:", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "syncbox:", err)
	// urfave/cli reports unknown commands and flags as plain errors.
	return 2
}
