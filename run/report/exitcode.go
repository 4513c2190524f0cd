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
	NotExecutable     Outcome = "not_executable"
	CommandNotFound   Outcome = "command_not_found"
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

// ExitCodes returns the exit code table, in code order, for --help and the
// README. It returns a fresh slice so callers cannot change the table.
func ExitCodes() []ExitCode {
	return []ExitCode{
		{ExitOK, Succeeded, "the connector finished and its output was delivered"},
		{ExitConnectorFailed, Failed, "the connector exited non-zero or was killed by a signal other than OOM"},
		{ExitUsage, "", "bad command line or configuration; nothing was run"},
		{ExitOOM, OOMKilled, "the connector hit its memory limit and was OOM-killed; the report recommends a new limit"},
		{ExitTimeout, TimedOut, "the connector ran past its time limit and was stopped"},
		{ExitPolicyStop, PolicyStopped, "a policy (e.g. a record or size cap) stopped the run"},
		{ExitSetupFailed, SetupFailed, "the container could not be set up or started"},
		{ExitBudgetUnavailable, BudgetUnavailable, "the machine's memory budget could not fit the run"},
		{ExitNotExecutable, NotExecutable, "the command (or its #! interpreter) is not executable; nothing was run"},
		{ExitCommandNotFound, CommandNotFound, "the command, its #! interpreter or its virtualenv is not in the container's view; the message names the path and the --bind to add"},
		{ExitSIGINT, Interrupted, "interrupted by SIGINT (Ctrl-C)"},
		{ExitSIGTERM, Interrupted, "interrupted by SIGTERM"},
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
	case Succeeded, Failed, OOMKilled, TimedOut, Interrupted, PolicyStopped, SetupFailed, BudgetUnavailable,
		NotExecutable, CommandNotFound:
		return true
	}
	return false
}

// AllOutcomes lists every outcome, for metrics that expose one series each.
func AllOutcomes() []Outcome {
	return []Outcome{Succeeded, Failed, OOMKilled, TimedOut, Interrupted, PolicyStopped, SetupFailed, BudgetUnavailable,
		NotExecutable, CommandNotFound}
}
