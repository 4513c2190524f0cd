package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"syncbox/limits/history"
	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

// autoRun runs memhog through syncbox with --memory auto, touching mib MiB,
// and returns its report.
func autoRun(t *testing.T, root, name string, mib int, extra ...string) *report.Report {
	t.Helper()
	rep := filepath.Join(root, fmt.Sprintf("r%d.json", time.Now().UnixNano()))
	args := append([]string{"run", "--name", name, "--report", rep, "-q"}, extra...)
	args = append(args, "--", testenv.Connector(t, "memhog"), "-mib", fmt.Sprint(mib), "-step-mib", "4", "-delay", "1ms")
	_, errOut, code := runSB(t, root, "", args...)
	if code != 0 {
		t.Fatalf("run of %d MiB: exit %d\n%s", mib, code, errOut)
	}
	return readReport(t, rep)
}

func kills(r *report.Report) int {
	n := 0
	for _, a := range r.Attempts {
		if a.Outcome == report.OOMKilled {
			n++
		}
	}
	return n
}

// The 13-run history of a ~175 MiB connector with one 420 MiB run
// (run 6): the spike is absorbed by retries and does not lift the limits
// after it (today's rule gave 320-384 MiB, 49% slack, for runs 7-13).
func TestOneSpikeDoesNotLiftTheLimitsAfterIt(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	sizes := []int{172, 180, 168, 176, 184, 420, 172, 176, 180, 168, 176, 184, 172}
	var limit, peak float64
	for i, mib := range sizes {
		r := autoRun(t, root, "spiky", mib)
		if r.Outcome != report.Succeeded {
			t.Fatalf("run %d (%d MiB): %s", i+1, mib, r.Outcome)
		}
		t.Logf("run %2d: %3d MiB, limit %3d MiB, peak %3d MiB, %d kills", i+1, mib, r.Memory.LimitBytes>>20, r.Memory.PeakBytes>>20, kills(r))
		if i >= 6 {
			limit += float64(r.Memory.LimitBytes)
			peak += float64(r.Memory.PeakBytes)
			if kills(r) != 0 {
				t.Errorf("run %d after the spike was killed", i+1)
			}
		}
	}
	if slack := 1 - peak/limit; slack > 0.25 {
		t.Errorf("runs 7-13: %.0f%% slack; want <= 25%%", 100*slack)
	} else {
		t.Logf("runs 7-13: %.0f%% slack", 100*slack)
	}
}

// A connector that doubles for good (10 runs at ~100 MiB, then 6 at ~200):
// at most 2 kills for the step, and by the step's 4th run at most 35% slack.
func TestAStepToTwiceTheMemoryCostsAtMostTwoKills(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	sizes := []int{100, 104, 96, 100, 108, 100, 96, 104, 100, 104, 200, 208, 196, 204, 200, 208}
	stepKills := 0
	for i, mib := range sizes {
		r := autoRun(t, root, "stepper", mib)
		if r.Outcome != report.Succeeded {
			t.Fatalf("run %d (%d MiB): %s", i+1, mib, r.Outcome)
		}
		slack := 1 - float64(r.Memory.PeakBytes)/float64(r.Memory.LimitBytes)
		t.Logf("run %2d: %3d MiB, limit %3d MiB, peak %3d MiB, %d kills, slack %.0f%%", i+1, mib, r.Memory.LimitBytes>>20, r.Memory.PeakBytes>>20, kills(r), 100*slack)
		if i >= 10 {
			stepKills += kills(r)
		}
		if i >= 13 && slack > 0.35 {
			t.Errorf("step run %d: %.0f%% slack; want <= 35%% from its 4th run", i-9, 100*slack)
		}
	}
	if stepKills > 2 {
		t.Errorf("%d kills for the step; want <= 2", stepKills)
	}
	// recommend explains the figure in the model's terms.
	out, errOut, code := runSB(t, root, "", "recommend", "--name", "stepper")
	if code != 0 {
		t.Fatalf("recommend: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"run kind:  full", "segment:   2 of 2", "spikes:", "cost:", "kill price"} {
		if !strings.Contains(out, want) {
			t.Errorf("recommend output lacks %q:\n%s", want, out)
		}
	}
}

// Without --run-kind a run with no incoming state is a full refresh, one
// resuming from a checkpoint incremental; the history records which, and a
// bad --run-kind is a usage error before anything runs.
func TestRunKindFollowsTheIncomingState(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	state := filepath.Join(root, "state.json")
	autoRun(t, root, "kinds", 40, "--state-file", state) // no state yet: full
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("no state written: %v", err)
	}
	autoRun(t, root, "kinds", 40, "--state-file", state)                       // resumes: incremental
	autoRun(t, root, "kinds", 40, "--state-file", state, "--run-kind", "full") // explicit
	s, err := history.OpenWith(filepath.Join(root, "home"), history.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := s.List(history.Filter{Name: "kinds"})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Kind)
	}
	if strings.Join(got, ",") != "full,incremental,full" {
		t.Errorf("kinds recorded %v; want full, incremental, full", got)
	}
	_, errOut, code := runSB(t, root, "", "run", "--name", "kinds", "--run-kind", "weekly", "--", testenv.Connector(t, "memhog"))
	if code != 2 || !strings.Contains(errOut, "--run-kind") {
		t.Errorf("--run-kind weekly: exit %d, %q; want a usage error naming the flag", code, errOut)
	}
	out, _, code := runSB(t, root, "", "recommend", "--name", "kinds", "--run-kind", "incremental", "--json")
	var rec struct {
		Kind  string `json:"kind"`
		Basis string `json:"basis"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec.Kind != "incremental" || rec.Basis != "incremental runs" {
		t.Errorf("recommend --run-kind incremental: exit %d, %s", code, out)
	}
}
