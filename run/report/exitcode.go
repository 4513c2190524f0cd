package report

// Outcome is how a run ended; it is the report's "outcome" field and decides
// syncbox's exit code.
type Outcome string

// Outcomes, as written in reports and metrics labels.
const (
	Succeeded         Outcome = "succeeded"
	Failed            Outcome = "failed"
	OOMKilled         Outcome = "oom_killed"
	TimedOut          Outcome = "timed_out"
	Interrupted       Outcome = "interrupted"
	PolicyStopped     Outcome = "policy_stopped"
	SetupFailed       Outcome = "setup_failed"
	BudgetUnavailable Outcome = "budget_unavailable"
	OutputFailed      Outcome = "output_failed"
	UsageError        Outcome = "usage_error"
	// AlreadyRunning: another run of the same connector and tenant held
	// the run lock; nothing was run.
	AlreadyRunning  Outcome = "already_running"
	NotExecutable   Outcome = "not_executable"
	CommandNotFound Outcome = "command_not_found"
)

// Exit codes of the syncbox command. Scripts and schedulers rely on them, so
// they never change meaning.
const (
	ExitOK                = 0
	ExitConnectorFailed   = 1
	ExitUsage             = 2
	ExitOOM               = 3
	ExitTimeout           = 4
	ExitPolicyStop        = 5
	ExitSetupFailed       = 6
	ExitBudgetUnavailable = 7
	ExitAlreadyRunning    = 8
	ExitOutputFailed      = 9
	ExitNotExecutable     = 126 // as shells and docker say
	ExitCommandNotFound   = 127
	ExitSIGINT            = 130 // 128 + SIGINT, the shell convention
	ExitSIGTERM           = 143 // 128 + SIGTERM
)

// ExitCode is one row of the exit code table.
type ExitCode struct {
	Code    int
	Outcome Outcome // empty for usage errors, which happen before any run
	Meaning string
}

// ExitCodes returns the exit code table, in code order: the one source of
// `syncbox run --help`'s table and the README's (a test holds the README to
// it). It returns a fresh slice so callers cannot change the table.
func ExitCodes() []ExitCode {
	return []ExitCode{
		{ExitOK, Succeeded, "the connector (and the target) exited 0 and the stream was complete"},
		{ExitConnectorFailed, Failed, "the connector or the target failed (its own exit code or signal is in the report; failed_in says which)"},
		{ExitUsage, UsageError, "usage error: a bad flag or value, named in the message; nothing was run"},
		{ExitOOM, OOMKilled, "the connector or the target was OOM-killed at its memory limit; the report recommends a new limit"},
		{ExitTimeout, TimedOut, "the run reached its time limit (running or queued for the budget) and was stopped; a downstream that stops reading cannot hold it longer"},
		{ExitPolicyStop, PolicyStopped, "a data policy stopped the run (an oversized value set to fail, a bad line in strict mode)"},
		{ExitSetupFailed, SetupFailed, "the host could not run the container (missing feature, permission, setup failure, I/O error in SYNCBOX_HOME)"},
		{ExitBudgetUnavailable, BudgetUnavailable, "the machine-wide memory budget could not be had in time"},
		{ExitAlreadyRunning, AlreadyRunning, "another run of this connector and tenant holds the run lock (its run id and start time are printed; see --wait-for-lock); nothing was run"},
		{ExitOutputFailed, OutputFailed, "syncbox's own output failed (stdout closed or full, the state file, report or metrics not writable), named in the message; the checkpoint did not move past what was delivered"},
		{ExitNotExecutable, NotExecutable, "the command (or its #! interpreter) is not executable; nothing was run"},
		{ExitCommandNotFound, CommandNotFound, "the command, its #! interpreter or its virtualenv is not in the container's view; the message names the path and the --bind to add"},
		{ExitSIGINT, Interrupted, "interrupted by SIGINT (forwarded to the connector, cleaned up)"},
		{ExitSIGTERM, Interrupted, "interrupted by SIGTERM (forwarded to the connector, cleaned up)"},
	}
}

// ExitCode returns the exit code for o. Interrupted maps to 130 (SIGINT);
// use InterruptedExitCode when the signal is known.
func (o Outcome) ExitCode() int {
	for _, e := range ExitCodes() {
		if e.Outcome == o {
			return e.Code
		}
	}
	return ExitConnectorFailed
}

// InterruptedExitCode is the shell's 128+signal code for an interruption by
// signal number sig.
func InterruptedExitCode(sig int) int { return 128 + sig }

// Valid reports whether o is one of the defined outcomes.
func (o Outcome) Valid() bool {
	switch o {
	case Succeeded, Failed, OOMKilled, TimedOut, Interrupted, PolicyStopped, SetupFailed, BudgetUnavailable, OutputFailed, UsageError,
		AlreadyRunning, NotExecutable, CommandNotFound:
		return true
	}
	return false
}

// AllOutcomes lists every outcome, for metrics that expose one series each.
func AllOutcomes() []Outcome {
	return []Outcome{Succeeded, Failed, OOMKilled, TimedOut, Interrupted, PolicyStopped, SetupFailed, BudgetUnavailable, OutputFailed, UsageError,
		AlreadyRunning, NotExecutable, CommandNotFound}
}
