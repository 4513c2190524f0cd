package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"syncbox/testdata/testenv"
)

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// checkSnakeCase fails on any object key in v that is not snake_case: ps
// --json mixed Go field names (Ticket, RunID) with the report's style.
func checkSnakeCase(t *testing.T, what string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !snakeCase.MatchString(k) {
				t.Errorf("%s: key %q is not snake_case", what, k)
			}
			checkSnakeCase(t, what, e)
		}
	case []any:
		for _, e := range x {
			checkSnakeCase(t, what, e)
		}
	}
}

func decodeJSON(t *testing.T, what, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v in %q", what, err, s)
	}
	return v
}

// ps shows the budget the live runs hold, not this shell's default, with
// snake_case JSON throughout.
func TestPsShowsTheBudgetInForceInSnakeCase(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	id := fmt.Sprintf("ps-%d", os.Getpid())
	cmd, _, _ := startRun(t, root, id, "--memory", "200MiB", "--host-memory-budget", "300MiB", "--stop-timeout", "200ms", "--", "/bin/sh", "-c", "echo ready; exec sleep 60")
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()

	out, errOut, code := runSB(t, root, "", "ps", "--json")
	if code != 0 {
		t.Fatalf("ps --json: exit %d: %s", code, errOut)
	}
	v := decodeJSON(t, "ps --json", out)
	checkSnakeCase(t, "ps --json", v)
	b := v.(map[string]any)["budget"].(map[string]any)
	if b["total_bytes"] != float64(300<<20) || b["source"] != "runs" || b["reserved_bytes"] != float64(200<<20) {
		t.Errorf("ps --json budget %v: want the live run's 300 MiB budget with 200 MiB reserved", b)
	}
	runs := v.(map[string]any)["runs"].([]any)
	if len(runs) != 1 || runs[0].(map[string]any)["run_id"] != id+"-a1" || runs[0].(map[string]any)["limit_bytes"] != float64(200<<20) {
		t.Errorf("ps --json runs %v", runs)
	}
	out, _, _ = runSB(t, root, "", "ps")
	if !strings.Contains(out, "budget: 300 MiB total") {
		t.Errorf("ps does not show the 300 MiB budget in force:\n%s", out)
	}
}

// ps reads a live run's memory from its cgroup, through the reader the
// run's own sampler uses: 32 MiB written to the container's /tmp (a tmpfs
// charged to its memory cgroup) must show.
func TestPsShowsTheMemoryARunsCgroupHolds(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	id := fmt.Sprintf("psmem-%d", os.Getpid())
	cmd, _, _ := startRun(t, root, id, "--memory", "128MiB", "--stop-timeout", "200ms", "--",
		"/bin/sh", "-c", "head -c 33554432 /dev/zero > /tmp/fill; echo ready; exec sleep 60")
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()

	out, errOut, code := runSB(t, root, "", "ps", "--json")
	if code != 0 {
		t.Fatalf("ps --json: exit %d: %s", code, errOut)
	}
	runs := decodeJSON(t, "ps --json", out).(map[string]any)["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("ps --json runs %v", runs)
	}
	mem, _ := runs[0].(map[string]any)["memory_bytes"].(float64)
	if mem < 32<<20 || mem > 128<<20 {
		t.Errorf("ps shows %.0f bytes for a run holding 32 MiB under a 128 MiB limit", mem)
	}
	if out, _, _ := runSB(t, root, "", "ps"); !strings.Contains(out, id+"-a1") || strings.Contains(out, "128 MiB  -  ") {
		t.Errorf("ps shows no memory for the run:\n%s", out)
	}
}

// A fresh home has an empty history, not an error; the other listing
// commands' JSON is snake_case too.
func TestFreshHomeHistoryIsEmptyAndListingsAreSnakeCase(t *testing.T) {
	root := t.TempDir()
	out, errOut, code := runSB(t, root, "", "history")
	if code != 0 || !strings.Contains(out, "no runs recorded") {
		t.Errorf("history on a fresh home: exit %d, %q %q", code, out, errOut)
	}
	if out, errOut, code := runSB(t, root, "", "history", "--json"); code != 0 || out != "" {
		t.Errorf("history --json on a fresh home: exit %d, %q %q; want exit 0 and no lines", code, out, errOut)
	}
	for _, args := range [][]string{{"recommend", "--name", "tap", "--json"}, {"profiles", "--json"}} {
		out, errOut, code := runSB(t, root, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		checkSnakeCase(t, strings.Join(args, " "), decodeJSON(t, args[0], out))
	}
	testenv.RequireRoot(t)
	if _, errOut, code := runSB(t, root, "", "run", "-q", "--memory", "64MiB", "--", "/bin/true"); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	out, _, _ = runSB(t, root, "", "history", "--json")
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for ; sc.Scan(); n++ {
		checkSnakeCase(t, "history --json", decodeJSON(t, "history --json", sc.Text()))
	}
	if n != 1 {
		t.Errorf("history --json after one run: %d lines", n)
	}
}
