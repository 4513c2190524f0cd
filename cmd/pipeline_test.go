package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"syncbox/limits/tenant"
	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

// pipe is one tap -> target pipeline setup: tap-demo into target-file,
// whose "warehouse" is a directory of STREAM.jsonl files owned by the
// tenant.
type pipe struct {
	root, out, state, rep string
	tap, target           string
	records               int
}

func newPipe(t *testing.T, records int) *pipe {
	testenv.RequireRoot(t)
	root := t.TempDir()
	p := &pipe{root: root, out: filepath.Join(root, "warehouse"), state: filepath.Join(root, "state.json"),
		rep: filepath.Join(root, "report.json"), tap: testenv.Connector(t, "tap-demo"),
		target: testenv.Connector(t, "target-file"), records: records}
	if err := os.Mkdir(p.out, 0o755); err != nil {
		t.Fatal(err)
	}
	uid := tenant.UID("default")
	if err := os.Chown(p.out, uid, uid); err != nil {
		t.Fatal(err)
	}
	return p
}

// args is a pipeline run; targetArgs are added to target-file's command.
func (p *pipe) args(targetArgs string, extra ...string) []string {
	a := []string{"run", "--name", "tap-demo", "--memory", "128MiB", "--target-memory", "128MiB",
		"--state-file", p.state, "--report", p.rep,
		"--target", p.target + " --dir " + p.out + " --batch 97 " + targetArgs, "--target-name", "target-file",
		"--target-bind", p.out + ":" + p.out + ":rw"}
	a = append(a, extra...)
	return append(a, "--", p.tap, "--records", fmt.Sprint(p.records), "--state-every", "50", "--giant-bytes", "0", "--state", "{state}")
}

// committed reads the warehouse: per stream, the set of record ids on disk.
func (p *pipe) committed(t *testing.T) map[string]map[int]bool {
	t.Helper()
	got := map[string]map[int]bool{}
	for _, s := range []string{"users", "orders", "events"} {
		got[s] = map[int]bool{}
		f, err := os.Open(filepath.Join(p.out, s+".jsonl"))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(f)
		// A commit killed mid-write leaves a torn tail that was never
		// confirmed; target-file cuts it off when it starts again.
		for _, line := range bytes.SplitAfter(b, []byte("\n")) {
			if len(line) == 0 || line[len(line)-1] != '\n' {
				continue
			}
			var r struct{ ID int }
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			got[s][r.ID] = true
		}
		f.Close()
	}
	return got
}

// bookmarks reads the persisted checkpoint: per stream, the last id.
func (p *pipe) bookmarks(t *testing.T) map[string]int {
	t.Helper()
	b, err := os.ReadFile(p.state)
	if os.IsNotExist(err) {
		return map[string]int{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Bookmarks map[string]struct{ ID int } `json:"bookmarks"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state file %q: %v", b, err)
	}
	out := map[string]int{}
	for k, v := range st.Bookmarks {
		out[k] = v.ID
	}
	return out
}

// checkNotAhead fails if the checkpoint names a record the warehouse does
// not hold: a resumed tap would skip it for good.
func (p *pipe) checkNotAhead(t *testing.T, when string) {
	t.Helper()
	have := p.committed(t)
	for s, last := range p.bookmarks(t) {
		for id := 1; id <= last; id++ {
			if !have[s][id] {
				t.Fatalf("%s: the state says %s is done up to id %d, but record %d is not in the warehouse", when, s, last, id)
			}
		}
	}
}

func (p *pipe) checkComplete(t *testing.T, when string) {
	t.Helper()
	have := p.committed(t)
	for s, ids := range have {
		for id := 1; id <= p.records; id++ {
			if !ids[id] {
				t.Fatalf("%s: stream %s lacks record %d (has %d of %d)", when, s, id, len(ids), p.records)
			}
		}
	}
}

// The measurement of the issue: a target dying mid-batch must never leave
// a checkpoint ahead of what it committed. 20 crash points at random; each
// crash is followed by a rerun that must complete the warehouse.
func TestPipelineCheckpointNeverRunsAheadOfACrashingTarget(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for trial := 0; trial < 20; trial++ {
		p := newPipe(t, 400)
		crashAt := 1 + rng.Intn(3*p.records)
		_, stderr, code := runSB(t, p.root, "", p.args(fmt.Sprintf("--crash-after %d", crashAt))...)
		if code != report.ExitConnectorFailed {
			t.Fatalf("trial %d (crash after %d): exit %d, want %d (the target failed)\n%s", trial, crashAt, code, report.ExitConnectorFailed, stderr)
		}
		rep := readReport(t, p.rep)
		if rep.Attempts[0].FailedIn != "target" || rep.Target == nil || rep.Target.ExitCode == nil || *rep.Target.ExitCode != 1 {
			t.Fatalf("trial %d: report does not blame the target: %+v %+v", trial, rep.Attempts, rep.Target)
		}
		p.checkNotAhead(t, fmt.Sprintf("trial %d after the crash at record %d", trial, crashAt))
		if _, stderr, code = runSB(t, p.root, "", p.args("")...); code != 0 {
			t.Fatalf("trial %d rerun: exit %d\n%s", trial, code, stderr)
		}
		p.checkComplete(t, fmt.Sprintf("trial %d after the rerun", trial))
		if got := p.bookmarks(t); got["users"] != p.records || got["orders"] != p.records || got["events"] != p.records {
			t.Fatalf("trial %d: final state %v, want every stream at %d", trial, got, p.records)
		}
	}
}

// The runner itself SIGKILLed at a random moment (the OOM killer, a reboot,
// kill -9 by an operator): containers die with it, and what the state file
// says is still true of the warehouse.
func TestPipelineRunnerKilledAtRandomLosesNothing(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for trial := 0; trial < 20; trial++ {
		p := newPipe(t, 1500)
		// A failed trial leaves the killed runner's containers to
		// syncbox cleanup, as an operator would (runs before p.root goes).
		t.Cleanup(func() { runSB(t, p.root, "", "cleanup") })
		cmd := sb(t, p.root, p.args("")...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.Intn(400)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		p.checkNotAhead(t, fmt.Sprintf("trial %d after SIGKILL", trial))
		// The rerun waits for the run lock as a cron rerun would with
		// --wait-for-lock: once in ~60 trials the lock was still held just
		// after the killed runner was reaped (exit 8, holder not
		// identified), most likely by a child it was forking that had not
		// yet exec'd and so still shared the lock's file description.
		if _, stderr, code := runSB(t, p.root, "", p.args("", "--wait-for-lock", "10s")...); code != 0 {
			t.Fatalf("trial %d rerun: exit %d\n%s", trial, code, stderr)
		}
		p.checkComplete(t, fmt.Sprintf("trial %d after the rerun", trial))
	}
}

// A target OOM-killed is retried from the last confirmed state with a
// higher limit of its own; the tap's limit is not touched.
func TestPipelineTargetOOMIsRetriedWithItsOwnLimit(t *testing.T) {
	p := newPipe(t, 600)
	// The marker lives outside the warehouse: bind its directory too.
	marks := filepath.Join(p.root, "marks")
	os.Mkdir(marks, 0o755)
	uid := tenant.UID("default")
	os.Chown(marks, uid, uid)
	marker := filepath.Join(marks, "crashed")
	args := p.args("--crash oom --crash-once "+marker+" --crash-after 700", "--retry-oom", "2", "--target-bind", marks+":"+marks+":rw")
	_, stderr, code := runSB(t, p.root, "", args...)
	if code != 0 {
		t.Fatalf("exit %d, want 0 after a retry\n%s", code, stderr)
	}
	rep := readReport(t, p.rep)
	if len(rep.Attempts) != 2 || rep.Attempts[0].Outcome != report.OOMKilled || rep.Attempts[0].FailedIn != "target" {
		t.Fatalf("attempts %+v, want a target OOM then success", rep.Attempts)
	}
	if a := rep.Attempts; a[1].TargetLimitBytes <= a[0].TargetLimitBytes || a[1].LimitBytes != a[0].LimitBytes {
		t.Errorf("retry limits: tap %d -> %d, target %d -> %d; want only the target's raised",
			a[0].LimitBytes, a[1].LimitBytes, a[0].TargetLimitBytes, a[1].TargetLimitBytes)
	}
	if !strings.Contains(stderr, "the target was OOM-killed") {
		t.Errorf("stderr does not say the target was OOM-killed:\n%s", stderr)
	}
	p.checkComplete(t, "after the retry")
}

// A closed stdout (>&-) used to exit 0 with every record sent to
// /dev/null and the final state persisted.
func TestClosedStdoutIsAUsageError(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	state, rep := filepath.Join(root, "state.json"), filepath.Join(root, "report.json")
	sh := sb(t, root)
	sh.Path = "/bin/sh"
	sh.Args = []string{"sh", "-c", `exec "$@" >&-`, "sh", syncboxBin,
		"run", "--memory", "64MiB", "--state-file", state, "--report", rep, "--", testenv.Connector(t, "tap-demo"), "--records", "10"}
	out, err := sh.CombinedOutput()
	code := 0
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		code = ee.ExitCode()
	}
	if code != report.ExitUsage || !strings.Contains(string(out), "stdout was closed") {
		t.Fatalf("exit %d, want %d with a message about stdout:\n%s", code, report.ExitUsage, out)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("a state file was written for a run that delivered nothing: %v", err)
	}
	// Like every usage error, it replaces the last report.
	if r := readReport(t, rep); r.Outcome != report.UsageError || !strings.Contains(r.Error, "stdout") {
		t.Errorf("report: outcome %s error %q; want usage_error about stdout", r.Outcome, r.Error)
	}
}

// ENOSPC on stdout is the run's output failing: exit 9, the output named,
// the connector not blamed, and the checkpoint not moved past it.
func TestFullStdoutIsOutputFailedAndHoldsTheCheckpoint(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	state, rep := filepath.Join(root, "state.json"), filepath.Join(root, "report.json")
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	defer full.Close()
	cmd := sb(t, root, "run", "--memory", "64MiB", "--state-file", state, "--report", rep, "--",
		testenv.Connector(t, "tap-demo"), "--records", "2000", "--giant-bytes", "0")
	cmd.Stdout = full
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code := exitOf(t, cmd)
	if code != report.ExitOutputFailed {
		t.Fatalf("exit %d, want %d (output_failed)\n%s", code, report.ExitOutputFailed, stderr.String())
	}
	r := readReport(t, rep)
	if r.Outcome != report.OutputFailed || !strings.Contains(r.Error, "stdout") || strings.Contains(stderr.String(), "connector was killed") {
		t.Errorf("outcome %s, error %q; want output_failed naming stdout, not the connector\n%s", r.Outcome, r.Error, stderr.String())
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		b, _ := os.ReadFile(state)
		t.Errorf("the state moved although no record was delivered: %s", b)
	}
}

// A downstream that stops reading used to pin the runner past --timeout,
// SIGTERM and SIGINT, holding its memory reservation.
func TestStuckReaderReleasesTheRunnerWithinTimeout(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close() // held open, never read: the reader is stuck, not gone
	cmd := sb(t, root, "run", "--memory", "64MiB", "--timeout", "2s", "--stop-timeout", "1s", "--report", filepath.Join(root, "r.json"), "--",
		testenv.Connector(t, "tap-demo"), "--records", "200000", "--giant-bytes", "0")
	cmd.Stdout = w
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the runner was still running 20 s after a 2 s --timeout with a stuck reader")
	}
	took := time.Since(t0)
	if code := cmd.ProcessState.ExitCode(); code != report.ExitTimeout {
		t.Errorf("exit %d, want %d", code, report.ExitTimeout)
	}
	// --timeout 2 s + --stop-timeout 1 s + the output grace of 2 s.
	if took > 8*time.Second {
		t.Errorf("took %s, want within --timeout + --stop-timeout + grace", took)
	}
	assertGone(t, root, "")
}

// A run that fails before it starts still replaces an older report: a
// monitor must not keep reading yesterday's "succeeded".
func TestSetupFailureReplacesAnOlderReport(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	rep := filepath.Join(root, "report.json")
	if _, stderr, code := runSB(t, root, "", "run", "--memory", "64MiB", "--report", rep, "--", "/bin/true"); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}
	// Now the history store is a directory where a file must be: --memory
	// auto cannot read it (a host problem, exit 6).
	home := filepath.Join(root, "home")
	os.Remove(filepath.Join(home, "history.db"))
	os.MkdirAll(filepath.Join(home, "history.db", "x"), 0o700)
	_, stderr, code := runSB(t, root, "", "run", "--memory", "auto", "--report", rep, "--", "/bin/true")
	if code != report.ExitSetupFailed {
		t.Fatalf("exit %d, want %d\n%s", code, report.ExitSetupFailed, stderr)
	}
	if r := readReport(t, rep); r.Outcome != report.SetupFailed || r.ExitCode != report.ExitSetupFailed || r.Error == "" {
		t.Errorf("report after a setup failure: outcome %s exit %d error %q", r.Outcome, r.ExitCode, r.Error)
	}
	// A usage error too.
	if _, _, code := runSB(t, root, "", "run", "--memory", "64MiB", "--pids", "0", "--report", rep, "--", "/bin/true"); code != report.ExitUsage {
		t.Fatalf("exit %d, want 2", code)
	}
	if r := readReport(t, rep); r.Outcome != report.UsageError {
		t.Errorf("report after a usage error: outcome %s", r.Outcome)
	}
}

// A report that was asked for and cannot be written fails the run.
func TestUnwritableReportFailsTheRun(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	rep := filepath.Join(root, "report.json")
	os.MkdirAll(filepath.Join(rep, "in-the-way"), 0o755) // rename cannot replace a non-empty directory
	_, stderr, code := runSB(t, root, "", "run", "--memory", "64MiB", "--report", rep, "--", "/bin/true")
	if code != report.ExitOutputFailed || !strings.Contains(stderr, rep) {
		t.Fatalf("exit %d, want %d naming %s\n%s", code, report.ExitOutputFailed, rep, stderr)
	}
}

// --timeout bounds the whole run, time queued for the budget included: a
// run queued behind a neighbour must not wait --queue-timeout (30 min).
func TestTimeoutBoundsTheBudgetQueue(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	flags := []string{"--memory", "200MiB", "--host-memory-budget", "300MiB"}
	holder, _, _ := startRun(t, root, fmt.Sprintf("tq-holder-%d", os.Getpid()), append(flags, "--stop-timeout", "200ms", "--", "/bin/sh", "-c", "echo ready; exec sleep 60")...)
	defer func() { holder.Process.Signal(syscall.SIGTERM); holder.Wait() }()
	rep := filepath.Join(root, "queued.json")
	t0 := time.Now()
	_, stderr, code := runSB(t, root, "", append(append([]string{"run", "-q", "--timeout", "1s", "--report", rep}, flags...), "--", "/bin/true")...)
	if code != report.ExitTimeout {
		t.Fatalf("exit %d, want %d (timed out while queued)\n%s", code, report.ExitTimeout, stderr)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("took %v with --timeout 1s", d)
	}
	if r := readReport(t, rep); r.Outcome != report.TimedOut || r.QueuedSeconds < 0.9 {
		t.Errorf("report: outcome %s, queued %.1fs", r.Outcome, r.QueuedSeconds)
	}
}

// SIGTERM and SIGINT, like --timeout, end a run whose reader is stuck.
func TestStuckReaderReleasesTheRunnerOnSIGTERM(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := sb(t, root, "run", "--memory", "64MiB", "--stop-timeout", "1s", "--",
		testenv.Connector(t, "tap-demo"), "--records", "200000", "--giant-bytes", "0")
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	time.Sleep(time.Second) // the pipe is full by now
	t0 := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitOf(t, cmd); code != 143 {
		t.Errorf("exit %d, want 143", code)
	}
	if d := time.Since(t0); d > 6*time.Second {
		t.Errorf("took %v after SIGTERM (--stop-timeout 1s + 2s output grace)", d)
	}
	assertGone(t, root, "")
}

// Temp files a SIGKILLed runner left beside the state file and report are
// swept by the next run.
func TestStaleTempFilesAreSwept(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	state, rep := filepath.Join(root, "state.json"), filepath.Join(root, "report.json")
	stale := []string{filepath.Join(root, ".state.json.tmp-123-0"), filepath.Join(root, ".report.json.tmp-4567")}
	for _, f := range stale {
		os.WriteFile(f, []byte("partial"), 0o600)
	}
	other := filepath.Join(root, ".unrelated.tmp-1")
	os.WriteFile(other, nil, 0o600)
	if _, stderr, code := runSB(t, root, "", "run", "--memory", "64MiB", "--state-file", state, "--report", rep, "--",
		testenv.Connector(t, "tap-demo"), "--records", "10", "--giant-bytes", "0"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, f := range stale {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("stale temp file left: %s", f)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not ours was removed: %v", err)
	}
}

// ENOSPC on the state file: the run stops as output_failed naming the
// file, and the report's state is the last one really saved, not the one
// that could not be.
func TestStateFileOnAFullDiskIsOutputFailedAndTheReportSaysSo(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	full := filepath.Join(root, "full")
	os.Mkdir(full, 0o755)
	if err := syscall.Mount("tmpfs", full, "tmpfs", 0, "size=64k"); err != nil {
		t.Skip("cannot mount a small tmpfs:", err)
	}
	defer syscall.Unmount(full, syscall.MNT_DETACH)
	// Fill it, leaving no block for the state file's temp copy.
	f, _ := os.Create(filepath.Join(full, "filler"))
	f.Write(make([]byte, 1<<20))
	f.Close()
	state, rep := filepath.Join(full, "state.json"), filepath.Join(root, "report.json")
	_, stderr, code := runSB(t, root, "", "run", "--memory", "64MiB", "--state-file", state, "--report", rep, "--",
		testenv.Connector(t, "tap-demo"), "--records", "300", "--giant-bytes", "0")
	if code != report.ExitOutputFailed {
		t.Fatalf("exit %d, want %d\n%s", code, report.ExitOutputFailed, stderr)
	}
	r := readReport(t, rep)
	if r.Outcome != report.OutputFailed || !strings.Contains(r.Error, state) {
		t.Errorf("outcome %s error %q; want output_failed naming %s", r.Outcome, r.Error, state)
	}
	if r.State == nil || r.State.PersistedTo != "" || len(r.State.Last) != 0 || !strings.Contains(r.State.Error, "no space") {
		t.Errorf("report state %+v: want no persisted state and the save's error", r.State)
	}
	ents, _ := os.ReadDir(full)
	for _, e := range ents {
		if e.Name() != "filler" && e.Name() != ".state.json.lock" { // the lock file stays, empty
			t.Errorf("left in the full directory: %s", e.Name())
		}
	}
}

// --target-memory auto learns from the target's own history, kept under
// its own name beside the tap's.
func TestPipelineTargetKeepsItsOwnHistory(t *testing.T) {
	p := newPipe(t, 50)
	args := p.args("")
	for i, a := range args {
		if a == "--target-memory" {
			args[i+1] = "auto"
		}
	}
	if _, stderr, code := runSB(t, p.root, "", args...); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, name := range []string{"tap-demo", "target-file"} {
		out, stderr, code := runSB(t, p.root, "", "history", "--name", name, "--json")
		if code != 0 || !strings.Contains(out, `"`+name+`"`) {
			t.Errorf("history --name %s: exit %d, %q %s", name, code, out, stderr)
		}
	}
}

// Review findings: a target that dies, exits 0 early or closes its stdin
// while the tap still has far more than a pipe's worth to send used to
// hang the runner for good (a blocked write nobody could interrupt). Each
// must end at once, blamed on the target, with no state past what it
// confirmed.
func TestPipelineTargetThatStopsReadingEndsTheRunAtOnce(t *testing.T) {
	for _, tc := range []struct{ name, target string }{
		{"crashes", "--crash-after 3000"},
		{"exits 0 without reading", ""},
		{"closes its stdin and lingers", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipe(t, 200000)
			args := p.args(tc.target)
			switch tc.name {
			case "exits 0 without reading":
				args = replaceTarget(args, "/bin/true")
			case "closes its stdin and lingers":
				args = replaceTarget(args, "/bin/sh -c 'exec 0<&-; sleep 2'")
			}
			t0 := time.Now()
			cmd := sb(t, p.root, args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			code := exitOf(t, cmd)
			if code != report.ExitConnectorFailed {
				t.Fatalf("exit %d after %s, want %d\n%s", code, time.Since(t0), report.ExitConnectorFailed, stderr.String())
			}
			if d := time.Since(t0); d > 15*time.Second {
				t.Errorf("took %s", d)
			}
			r := readReport(t, p.rep)
			if n := len(r.Attempts); n == 0 || r.Attempts[n-1].FailedIn != "target" {
				t.Errorf("attempts %+v: want the target blamed\n%s", r.Attempts, stderr.String())
			}
			p.checkNotAhead(t, tc.name)
		})
	}
}

// A target that reads only the start of its input and exits 0 must never
// have the tap's state persisted, whether it exits while the tap is still
// sending (the pipe loses its reader) or after the end of the stream with
// bytes left unread in its stdin; which of its exit and the end of the
// stream syncbox sees first must not matter.
func TestPipelineTargetExitingEarlyNeverPromotesTheTapsState(t *testing.T) {
	testenv.RequireRoot(t)
	for _, records := range []string{"1000", "100000"} { // fits in the 1 MiB pipe, and not
		for i := 0; i < 5; i++ {
			root := t.TempDir()
			state := filepath.Join(root, "state.json")
			_, stderr, code := runSB(t, root, "", "run", "-q", "--memory", "64MiB", "--target-memory", "64MiB", "--state-file", state,
				"--target", "/usr/bin/head -n 1", "--", testenv.Connector(t, "tap-demo"), "--records", records, "--giant-bytes", "0")
			if b, err := os.ReadFile(state); err == nil {
				t.Fatalf("%s records, trial %d: exit %d and the tap's state %s persisted, though the target read one line\n%s", records, i, code, b, stderr)
			}
			if code != report.ExitConnectorFailed {
				t.Errorf("%s records, trial %d: exit %d, want %d\n%s", records, i, code, report.ExitConnectorFailed, stderr)
			}
		}
	}
}

func replaceTarget(args []string, target string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "--target" {
			out[i+1] = target
		}
	}
	return out
}

// A state file that cannot be read is a setup failure with a report, not
// a crash of the runner.
func TestBadStateFileIsASetupFailureWithAReport(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	state, rep := filepath.Join(root, "state.json"), filepath.Join(root, "r.json")
	os.WriteFile(state, []byte("garbage{"), 0o600)
	_, stderr, code := runSB(t, root, "", "run", "-q", "--memory", "64MiB", "--state-file", state, "--report", rep, "--", "/bin/true")
	if code != report.ExitSetupFailed || strings.Contains(stderr, "panic") {
		t.Fatalf("exit %d, want %d\n%s", code, report.ExitSetupFailed, stderr)
	}
	if r := readReport(t, rep); r.Outcome != report.SetupFailed {
		t.Errorf("outcome %s", r.Outcome)
	}
}

// The tap's secrets are the source's credentials: a third-party target
// must not see them.
func TestTheTapsSecretsAreNotShownToTheTarget(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	sec := filepath.Join(root, "sec")
	os.WriteFile(sec, []byte("source password\n"), 0o600)
	_, stderr, _ := runSB(t, root, "", "run", "--name", "tap", "--memory", "64MiB", "--target-memory", "64MiB", "--secret", "TAPDB="+sec,
		"--target", "/bin/sh -c 'cat >/dev/null; cat /run/secrets/TAPDB >&2'", "--", "/bin/true")
	if strings.Contains(stderr, "source password") {
		t.Fatalf("the target read the tap's secret:\n%s", stderr)
	}
}

// Two runs of different names sharing one --state-file used to overwrite
// each other's checkpoint; the second now stops at once (exit 8).
func TestTwoRunsCannotShareAStateFile(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	state := filepath.Join(root, "state.json")
	holder := sb(t, root, "run", "--name", "a", "--memory", "64MiB", "--state-file", state, "--stop-timeout", "200ms", "--",
		"/bin/sh", "-c", `echo '{"type":"STATE","value":{"n":1}}'; exec sleep 60`)
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Signal(syscall.SIGTERM); holder.Wait() }()
	for t0 := time.Now(); time.Since(t0) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(state); err == nil {
			break // the holder is running, and holds the state file
		}
	}
	_, stderr, code := runSB(t, root, "", "run", "--name", "b", "--memory", "64MiB", "--state-file", state, "--", "/bin/true")
	if code != report.ExitAlreadyRunning || !strings.Contains(stderr, "in use by another run") {
		t.Fatalf("exit %d, want %d\n%s", code, report.ExitAlreadyRunning, stderr)
	}
}
