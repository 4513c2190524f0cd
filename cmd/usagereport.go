package cmd

import (
	"strings"

	"github.com/urfave/cli/v2"

	"syncbox/run"
)

// A run refused because its flags did not parse is still a run: its
// --report and --metrics-file must say so, or a cron job reads the last
// run's success as this one's. The flag parser gave up, so the few flags
// the report needs are read from the command line as typed.

// reportUsageError writes the usage_error report and metrics of a run
// whose flags did not parse, to the paths its command line names. A
// --report with no value is only the message the caller prints.
func (u usageErrors) reportUsageError(cmd *cli.Command, err error) {
	typed, command, ok := typedFlags(cmd, u.args)
	if !ok {
		return
	}
	tenant := typed["tenant"]
	if f, isString := flagByName(cmd, "tenant").(*cli.StringFlag); isString && tenant == "" {
		tenant = f.Value
	}
	o := &run.Options{ReportPath: typed["report"], MetricsPath: typed["metrics-file"],
		RunID: typed["run-id"], Name: typed["name"], Tenant: tenant}
	writeFailureReport(o, command, err)
}

// typedFlags finds the values of cmd's flags in args (the whole command
// line, program name first), by each flag's first name, and the command
// after them. Best effort, as Go's flag package reads them: a value is
// "--flag=V" or the next word for a flag that takes one; "--" or, when no
// "--" follows, the first word that is no flag ends them. Only flags
// spelled exactly count: a value after a typo (--reprot x) is never a path
// written to, and a word after an unknown flag is skipped as its value.
func typedFlags(cmd *cli.Command, args []string) (typed map[string]string, command []string, ok bool) {
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		i++ // the app's own switches (--help, --version) take no value
	}
	if i >= len(args) || !isName(cmd, args[i]) {
		return nil, nil, false
	}
	rest := args[i+1:]
	dashDash := false
	for _, a := range rest {
		dashDash = dashDash || a == "--"
	}
	typed = map[string]string{}
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			return typed, rest[j+1:], true
		}
		if a == "-" || !strings.HasPrefix(a, "-") {
			if dashDash {
				continue
			}
			return typed, rest[j:], true
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		f := flagByName(cmd, name)
		arity := f
		if arity == nil {
			arity = flagByName(cmd, suggest(name, flagNames(cmd)))
		}
		if _, isBool := arity.(*cli.BoolFlag); arity != nil && !isBool && !hasValue && j+1 < len(rest) && rest[j+1] != "--" {
			j++
			value, hasValue = rest[j], true
		}
		if f != nil && hasValue {
			typed[f.Names()[0]] = value
		}
	}
	return typed, nil, true
}

func isName(cmd *cli.Command, word string) bool {
	for _, n := range cmd.Names() {
		if n == word {
			return true
		}
	}
	return false
}

// swallowedDashDash refuses a flag whose value is the "--" that ends the
// flags: Go's flag package hands a flag typed without its value the next
// word, whatever it is, and "--report --" would write the report to a file
// named "--" and run the connector.
func swallowedDashDash(c *cli.Context) error {
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		var values []string
		switch f.(type) {
		case *cli.StringFlag:
			values = []string{c.String(name)}
		case *cli.StringSliceFlag:
			values = c.StringSlice(name)
		}
		for _, v := range values {
			if v == "--" && c.IsSet(name) {
				return usageError("%s needs a value: it took the -- that ends the flags (see %s --help)", dashed(name), commandPath(c))
			}
		}
	}
	return nil
}

// reportPath is the value of a report flag, or "" when it swallowed the
// "--" (swallowedDashDash refuses the run; there is no path to write to).
func reportPath(c *cli.Context, name string) string {
	if v := c.String(name); v != "--" {
		return v
	}
	return ""
}
