package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"syncbox/limits"
)

// Summary writes one to five lines for a person watching stderr: what
// happened, how much, and what to do next. Write errors are ignored: the
// summary must never change a run's outcome.
func (r *Report) Summary(w io.Writer) {
	name := r.Name
	if name == "" {
		name = r.RunID
	}
	if r.Outcome == AlreadyRunning && r.Error != "" {
		// What the other run holds (a state file of another name) is the
		// whole story: "another run of it" would be wrong, and nothing of
		// this run ran to describe.
		fmt.Fprintln(w, r.QuietLine())
		return
	}
	var lines []string
	switch r.Outcome {
	case SetupFailed, BudgetUnavailable, AlreadyRunning:
		lines = append(lines, fmt.Sprintf("syncbox: %s %s", r.failedName(name), outcomeVerb(r.Outcome)))
	default:
		lines = append(lines, fmt.Sprintf("syncbox: %s %s in %s: %s; %s",
			name, outcomeVerb(r.Outcome), formatDuration(r.DurationSeconds), r.recordsPhrase(), r.memoryPhrase()))
	}
	// The connector's own end, only when it is the failure: a connector
	// syncbox killed (OOM, a failed output, a policy stop, a target that
	// died) is explained by the other lines.
	switch {
	case !r.connectorFailed():
	case r.ConnectorSignal != "":
		lines = append(lines, fmt.Sprintf("syncbox: the connector was killed by %s", r.ConnectorSignal))
	case r.ConnectorExitCode != nil && *r.ConnectorExitCode != 0:
		lines = append(lines, fmt.Sprintf("syncbox: the connector exited with code %d", *r.ConnectorExitCode))
	}
	if t := r.Target; t != nil {
		lines = append(lines, r.targetPhrase())
	}
	if r.Error != "" {
		lines = append(lines, "syncbox: error: "+firstLine(r.Error))
	}
	if r.OOM != nil && r.OOM.Explanation != "" {
		lines = append(lines, "syncbox: "+r.OOM.Explanation)
	}
	if len(r.Attempts) > 1 {
		parts := make([]string, len(r.Attempts))
		for i, a := range r.Attempts {
			limit := a.LimitBytes
			if a.FailedIn == "target" {
				limit = a.TargetLimitBytes
			}
			parts[i] = fmt.Sprintf("%s at %s", a.Outcome, humanize.IBytes(uint64(max(limit, 0))))
			if a.FailedIn == "target" {
				parts[i] = "target " + parts[i]
			}
		}
		lines = append(lines, fmt.Sprintf("syncbox: %d attempts: %s", len(r.Attempts), strings.Join(parts, ", ")))
	}
	for _, l := range lines[:min(len(lines), 5)] {
		fmt.Fprintln(w, l)
	}
}

// targetPhrase is a pipeline's target in one line: how it ended, what it
// confirmed, its memory.
func (r *Report) targetPhrase() string {
	t := r.Target
	how := "did not start"
	switch {
	case t.Signal != "":
		how = "was killed by " + t.Signal
	case t.ExitCode != nil:
		how = fmt.Sprintf("exited %d", *t.ExitCode)
	}
	m := Report{Memory: t.Memory}
	return fmt.Sprintf("syncbox: target %s %s, confirmed %s; %s", t.Name, how, plural(t.StatesConfirmed, "state"), m.memoryPhrase())
}

// connectorFailed says the run failed because of the connector itself (not
// the target, and not something syncbox did to it).
func (r *Report) connectorFailed() bool {
	if r.Outcome != Failed {
		return false
	}
	if n := len(r.Attempts); n > 0 && r.Attempts[n-1].FailedIn == "target" {
		return false
	}
	return true
}

func outcomeVerb(o Outcome) string {
	switch o {
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	case OOMKilled:
		return "was OOM-killed"
	case TimedOut:
		return "timed out"
	case Interrupted:
		return "was interrupted"
	case PolicyStopped:
		return "was stopped by policy"
	case SetupFailed:
		return "could not be started"
	case BudgetUnavailable:
		return "did not run: not enough memory in the machine's budget"
	case AlreadyRunning:
		return "did not run: another run of it is in progress"
	case OutputFailed:
		return "could not deliver its output"
	case UsageError:
		return "was not run (usage error)"
	}
	return "ended (" + string(o) + ")"
}

func (r *Report) recordsPhrase() string {
	rc := r.Records
	// IEC like the memory figures on the same line: one unit system a line.
	s := fmt.Sprintf("%s (%s) in %s", plural(rc.Total, "record"), limits.FormatSize(max(rc.Bytes, 0)), plural(int64(len(rc.ByStream)), "stream"))
	if rc.Dropped > 0 {
		s += ", " + humanize.Comma(rc.Dropped) + " dropped"
	}
	if rc.Flagged.Count > 0 {
		s += ", " + plural(rc.Flagged.Count, "value") + " flagged"
	}
	if rc.InvalidLines > 0 {
		s += ", " + plural(rc.InvalidLines, "invalid line")
	}
	return s
}

func (r *Report) memoryPhrase() string {
	m := r.Memory
	peak := humanize.IBytes(uint64(max(m.PeakBytes, 0)))
	if m.LimitBytes <= 0 {
		return "peak memory " + peak + " (no limit)"
	}
	pct := float64(m.PeakBytes) / float64(m.LimitBytes) * 100
	// The limit exactly as understood: "--memory 2GB" is 1.9 GiB, and the
	// summary must not let anyone believe it was 2 GiB.
	return fmt.Sprintf("peak memory %s (%.0f%%) of a %s limit", peak, pct, limits.FormatExact(m.LimitBytes))
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return humanize.Comma(n) + " " + word + "s"
}

// formatDuration keeps a tenth of a second for short runs, where it
// matters, and whole seconds for long ones.
func formatDuration(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	if d < 100*time.Millisecond {
		return d.Round(time.Millisecond).String() // "45ms", not "0.0s"
	}
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// QuietLine is the one line -q keeps on failure: what happened and the one
// thing to do about it. It is "" for a success, which -q keeps silent.
func (r *Report) QuietLine() string {
	name := r.Name
	if name == "" {
		name = r.RunID
	}
	why := firstLine(r.Error)
	switch r.Outcome {
	case Succeeded:
		return ""
	case OOMKilled:
		if r.OOM != nil && r.OOM.Container == "target" && r.Target != nil {
			s := fmt.Sprintf("syncbox: %s's target %s was OOM-killed at its %s memory limit", name, r.Target.Name, limits.FormatExact(r.Target.Memory.LimitBytes))
			if r.OOM.RecommendedLimitBytes > 0 {
				return s + fmt.Sprintf("; rerun with at least --target-memory %s, or --target-memory auto", FlagSize(r.OOM.RecommendedLimitBytes))
			}
			return s + "; rerun with a higher --target-memory or --target-memory auto"
		}
		s := fmt.Sprintf("syncbox: %s was OOM-killed at its %s memory limit", name, limits.FormatExact(r.Memory.LimitBytes))
		if n := len(r.Attempts); n > 1 {
			s += fmt.Sprintf(" (attempt %d of %d)", n, n)
		}
		// "at least": the limit cut the connector off, so what it would
		// have needed is unknown; the recommendation is a floor.
		if r.OOM != nil && r.OOM.RecommendedLimitBytes > 0 {
			return s + fmt.Sprintf("; rerun with at least --memory %s, or --memory auto", FlagSize(r.OOM.RecommendedLimitBytes))
		}
		return s + "; rerun with a higher --memory or --memory auto"
	case Failed:
		switch {
		case r.Target != nil && !r.connectorFailed():
			return fmt.Sprintf("syncbox: %s failed: %s; the target's own stderr above says why", name, why)
		case r.ConnectorSignal != "":
			why = "the connector was killed by " + r.ConnectorSignal
		case r.ConnectorExitCode != nil:
			why = fmt.Sprintf("the connector exited with code %d", *r.ConnectorExitCode)
		}
		return fmt.Sprintf("syncbox: %s failed: %s; its own stderr above says why", name, why)
	case TimedOut:
		return fmt.Sprintf("syncbox: %s timed out after %s; raise --timeout if it needs longer", name, formatDuration(r.DurationSeconds))
	case PolicyStopped:
		return fmt.Sprintf("syncbox: %s was stopped by policy: %s; the flags file or report has the line", name, why)
	case SetupFailed:
		return fmt.Sprintf("syncbox: %s could not be started: %s; syncbox doctor checks this host", r.failedName(name), why)
	case BudgetUnavailable:
		return fmt.Sprintf("syncbox: %s did not run: %s; see syncbox ps for what holds the budget", name, why)
	case AlreadyRunning:
		if why != "" {
			return fmt.Sprintf("syncbox: %s: %s", name, why)
		}
		return fmt.Sprintf("syncbox: %s %s", name, outcomeVerb(r.Outcome))
	case Interrupted:
		return fmt.Sprintf("syncbox: %s was interrupted; rerun to resume from the last checkpoint", name)
	case OutputFailed:
		return fmt.Sprintf("syncbox: %s could not deliver its output: %s; the checkpoint stayed at what was delivered, so a rerun resumes there", name, why)
	}
	if why != "" {
		return fmt.Sprintf("syncbox: %s ended (%s): %s", name, r.Outcome, why)
	}
	return fmt.Sprintf("syncbox: %s ended (%s)", name, r.Outcome)
}

// failedName is who the outcome is about: name, or "name's target T"
// when the last attempt failed in the target.
func (r *Report) failedName(name string) string {
	if n := len(r.Attempts); n > 0 && r.Attempts[n-1].FailedIn == "target" && r.Target != nil {
		return fmt.Sprintf("%s's target %s", name, r.Target.Name)
	}
	return name
}
