package report

import (
	"bytes"
	"strings"
	"testing"
)

// "--memory 2GB" is 2,000,000,000 bytes, not 2 GiB: the summary says so.
func TestSummarySaysTheLimitExactlyAndInOneUnitSystem(t *testing.T) {
	r := New("r1", "tap", "", nil)
	r.Outcome, r.DurationSeconds = Succeeded, 1
	r.Records = Records{Total: 10, Bytes: 995_000, ByStream: map[string]StreamCount{"a": {}}}
	r.Memory = Memory{LimitBytes: 2_000_000_000, PeakBytes: 300 << 20}
	var b bytes.Buffer
	r.Summary(&b)
	line := strings.SplitN(b.String(), "\n", 2)[0]
	for _, want := range []string{"1.9 GiB (2000000000 bytes) limit", "(972 KiB)", "peak memory 300 MiB (16%)"} {
		if !strings.Contains(line, want) {
			t.Errorf("summary %q does not say %q", line, want)
		}
	}
	for _, si := range []string{" kB", " MB", " GB"} {
		if strings.Contains(line, si) {
			t.Errorf("summary %q mixes SI units (%q) with IEC", line, si)
		}
	}
}

// -q keeps one line on failure, and it must carry the fix: the OOM line
// with the limit to rerun with survives.
func TestQuietLineSaysWhatHappenedAndWhatToDo(t *testing.T) {
	oom := fullReport()
	two := 2
	failed := New("r", "tap", "", nil)
	failed.Outcome, failed.ConnectorExitCode = Failed, &two
	timedOut := New("r", "tap", "", nil)
	timedOut.Outcome, timedOut.DurationSeconds = TimedOut, 300
	setup := New("r", "tap", "", nil)
	setup.Outcome, setup.Error = SetupFailed, "create container: pivot_root: EBUSY\nmore"
	ok := New("r", "tap", "", nil)
	ok.Outcome = Succeeded
	// A target that could not be started is named as the target, not the
	// tap ("tap could not be started: target: ..." pointed at the tap).
	tgtSetup := New("r", "tap", "", nil)
	tgtSetup.Outcome, tgtSetup.Error = SetupFailed, "target: create container: pin bind source"
	tgtSetup.Target = &Target{Name: "target-file"}
	tgtSetup.Attempts = []Attempt{{Outcome: SetupFailed, FailedIn: "target"}}
	for _, c := range []struct {
		r    *Report
		want []string
	}{
		{oom, []string{"OOM-killed at its 256 MiB memory limit", "attempt 2 of 2", "rerun with at least --memory " + FlagSize(oom.OOM.RecommendedLimitBytes)}},
		{failed, []string{"tap failed", "exited with code 2"}},
		{timedOut, []string{"timed out after 5m0s", "--timeout"}},
		{setup, []string{"could not be started: create container: pivot_root: EBUSY;", "syncbox doctor"}},
		{tgtSetup, []string{"syncbox: tap's target target-file could not be started: target: create container"}},
	} {
		l := c.r.QuietLine()
		if strings.Contains(l, "\n") {
			t.Errorf("quiet line %q has more than one line", l)
		}
		for _, w := range c.want {
			if !strings.Contains(l, w) {
				t.Errorf("quiet line %q does not say %q", l, w)
			}
		}
	}
	if l := ok.QuietLine(); l != "" {
		t.Errorf("a success under -q says %q", l)
	}
}
