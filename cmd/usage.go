package cmd

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// Usage errors are for a person at a shell or a CI log: they go to stderr
// only (stdout is the record stream a caller may be redirecting into a
// file), exit 2, name the flag as typed and suggest the nearest real one.
// urfave/cli's own handling prints the whole help text to stdout instead.

// Go's flag package words its errors with single-dash flag names.
var (
	reUndefined = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)
	reInvalid   = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-+([^:]+): (.*)$`)
	reNeedsArg  = regexp.MustCompile(`^flag needs an argument: -+(.+)$`)
)

// usageErrors formats flag-parsing errors. args are the command line as
// typed, to echo a flag the way the user wrote it.
type usageErrors struct{ args []string }

// onUsageError turns a flag-parsing error of command c into a usage error;
// for run, also its report.
func (u usageErrors) onUsageError(c *cli.Context, err error, _ bool) error {
	uerr := u.message(c, err)
	if c.Command != nil && c.Command.Name == "run" {
		u.reportUsageError(c.Command, uerr)
	}
	return uerr
}

func (u usageErrors) message(c *cli.Context, err error) error {
	where := commandPath(c)
	msg := err.Error()
	switch {
	case reUndefined.MatchString(msg):
		name := reUndefined.FindStringSubmatch(msg)[1]
		s := "unknown flag " + u.typedFlag(name)
		if alt := suggest(name, flagNames(c.Command)); alt != "" {
			s += fmt.Sprintf("; did you mean %s?", dashed(alt))
		}
		return usageError("%s (see %s --help)", s, where)
	case reInvalid.MatchString(msg):
		m := reInvalid.FindStringSubmatch(msg)
		value, name := m[1], m[2]
		return usageError("%s %q: %s (see %s --help)", dashed(name), value, expectedValue(c.Command, name, value), where)
	case reNeedsArg.MatchString(msg):
		name := reNeedsArg.FindStringSubmatch(msg)[1]
		return usageError("%s needs a value (see %s --help)", dashed(name), where)
	}
	return usageError("%v (see %s --help)", err, where)
}

// expectedValue says what to type for a flag whose value did not parse.
func expectedValue(cmd *cli.Command, name, value string) string {
	switch flagByName(cmd, name).(type) {
	case *cli.DurationFlag:
		if isNumber(value) {
			return fmt.Sprintf("a duration needs a unit: write %ss (or %sm, %sh)", value, value, value)
		}
		return "expected a duration such as 90s, 15m, 1h30m or 500ms"
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		return "expected a whole number"
	case *cli.Float64Flag:
		return "expected a number such as 1.5"
	case *cli.BoolFlag:
		return "a switch takes no value (write it alone, or =true/=false)"
	}
	return "invalid value"
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	dot := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
		case r == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return true
}

// unknownCommand is the app's action: with no command it shows the help
// (on stdout, asked for), with an unknown one it is a usage error.
func unknownCommand(c *cli.Context) error {
	if !c.Args().Present() {
		return cli.ShowAppHelp(c)
	}
	name := c.Args().First()
	var names []string
	for _, cmd := range c.App.Commands {
		if !cmd.Hidden {
			names = append(names, cmd.Names()...)
		}
	}
	s := fmt.Sprintf("unknown command %q", name)
	if alt := suggest(name, names); alt != "" {
		s += fmt.Sprintf("; did you mean %q?", alt)
	}
	return usageError("%s (see syncbox --help)", s)
}

// installUsageErrors gives the app and every command, at any depth, the
// same usage error handling: urfave/cli does not inherit OnUsageError into
// subcommands. args is the command line, for echoing flags as typed.
func installUsageErrors(app *cli.App, args []string) {
	u := usageErrors{args: args}
	app.OnUsageError = u.onUsageError
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			c.OnUsageError = u.onUsageError
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
}

// commandPath is "syncbox run" for run's context.
func commandPath(c *cli.Context) string {
	parts := []string{}
	for _, l := range c.Lineage() {
		if l.Command != nil && l.Command.Name != "" && l.Command.Name != c.App.Name {
			parts = append([]string{l.Command.Name}, parts...)
		}
	}
	return strings.Join(append([]string{c.App.Name}, parts...), " ")
}

// typedFlag echoes the flag as the user wrote it ("--memroy", "-memroy"):
// Go's flag package reports every flag with one dash whatever was typed.
func (u usageErrors) typedFlag(name string) string {
	for _, a := range u.args {
		if a == "--" {
			break
		}
		a, _, _ = strings.Cut(a, "=")
		if a == "-"+name || a == "--"+name {
			return a
		}
	}
	return dashed(name)
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

func flagNames(cmd *cli.Command) []string {
	var names []string
	if cmd == nil {
		return nil
	}
	for _, f := range cmd.Flags {
		names = append(names, f.Names()...)
	}
	return append(names, "help")
}

func flagByName(cmd *cli.Command, name string) cli.Flag {
	if cmd == nil {
		return nil
	}
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// suggest returns the candidate nearest to typed, or "" when none is near
// enough to be a likely typo: a wrong suggestion is worse than none.
func suggest(typed string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(typed), c)
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 1 + len(typed)/4 // 1 for "rnu", 2 for "memroy", 3 for "max-feild-size"
	if best == "" || bestD > limit {
		if p := uniquePrefix(typed, candidates); p != "" {
			return p
		}
		return ""
	}
	return best
}

// uniquePrefix catches abbreviations: "--mem" for --memory is no typo
// an edit distance sees, but a prefix of exactly one flag.
func uniquePrefix(typed string, candidates []string) string {
	if len(typed) < 3 {
		return ""
	}
	found := ""
	for _, c := range candidates {
		if strings.HasPrefix(c, typed) {
			if found != "" {
				return ""
			}
			found = c
		}
	}
	return found
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours ("memroy").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
