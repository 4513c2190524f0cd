package cmd

import (
	"strings"
	"testing"
)

// A usage error must not touch stdout: in `syncbox run ... > out.jsonl`
// stdout is the record stream, and help text there corrupts it.
func TestUsageErrorsGoToStderrOnlyWithASuggestion(t *testing.T) {
	root := t.TempDir()
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"run", "--memroy", "1GiB", "--", "/bin/true"}, []string{"unknown flag --memroy", "did you mean --memory?", "syncbox run --help"}},
		{[]string{"run", "-json", "--", "/bin/true"}, []string{"unknown flag -json"}},
		{[]string{"run", "--max-feild-size=1MiB", "--", "/bin/true"}, []string{"unknown flag --max-feild-size", "did you mean --max-field-size?"}},
		{[]string{"run", "--timeout", "5", "--", "/bin/true"}, []string{"--timeout", "write 5s"}},
		{[]string{"run", "--timeout=1x", "--", "/bin/true"}, []string{"--timeout", "1h30m"}},
		{[]string{"run", "--cpus", "two", "--", "/bin/true"}, []string{"--cpus", "number"}},
		{[]string{"run", "--memory"}, []string{"--memory needs a value"}},
		{[]string{"run", "--quiet=maybe", "--", "/bin/true"}, []string{"--quiet"}},
		{[]string{"rnu", "--", "/bin/true"}, []string{`unknown command "rnu"`, `did you mean "run"?`}},
		{[]string{"help", "rnu"}, []string{"rnu", "run"}},
		{[]string{"--bogus"}, []string{"unknown flag --bogus"}},
		{[]string{"ps", "--jsno"}, []string{"unknown flag --jsno", "did you mean --json?"}},
		{[]string{"history", "--last", "x"}, []string{"--last", "whole number"}},
		{[]string{"recommend"}, []string{"--name is required"}},
		{[]string{"recommend", "--nmae", "x"}, []string{"did you mean --name?"}},
		{[]string{"profiles", "--x"}, []string{"unknown flag --x"}},
		{[]string{"doctor", "--no-trail"}, []string{"did you mean --no-trial?"}},
		{[]string{"cleanup", "--all"}, []string{"unknown flag --all"}},
		{[]string{"version", "--short"}, []string{"unknown flag --short"}},
	}
	for _, c := range cases {
		out, errOut, code := runSB(t, root, "", c.args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2; stderr %q", c.args, code, errOut)
		}
		if out != "" {
			t.Errorf("%v: %d bytes on stdout, want none: %.200q", c.args, len(out), out)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: stderr %q does not say %q", c.args, errOut, w)
			}
		}
		if strings.Count(errOut, "\n") > 2 {
			t.Errorf("%v: %d lines on stderr, want the error alone:\n%s", c.args, strings.Count(errOut, "\n"), errOut)
		}
	}
}

// A far-off word gets no suggestion: a wrong "did you mean" misleads.
func TestNoSuggestionForUnrelatedFlags(t *testing.T) {
	_, errOut, code := runSB(t, t.TempDir(), "", "run", "--zzzzzz", "--", "/bin/true")
	if code != 2 || strings.Contains(errOut, "did you mean") {
		t.Errorf("exit %d, stderr %q: want exit 2 and no suggestion", code, errOut)
	}
}

func TestSuggestFindsTyposAndUniquePrefixes(t *testing.T) {
	flags := []string{"memory", "memory-min", "memory-max", "timeout", "stop-timeout", "tenant"}
	for typed, want := range map[string]string{
		"memroy": "memory", "memory-mn": "memory-min", "timout": "timeout", "stop-t": "stop-timeout",
		"xyz": "", "tennat": "tenant", "mem": "",
	} {
		if got := suggest(typed, flags); got != want {
			t.Errorf("suggest(%q) = %q, want %q", typed, got, want)
		}
	}
}
