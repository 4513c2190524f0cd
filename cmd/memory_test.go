package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"syncbox/limits/budget"
	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

// A connector whose memory use varies from run to run converges within
// three runs to a limit with modest slack, and a sudden 2x spike is
// absorbed by exactly one retry.
func TestAutoMemoryConvergesAndAbsorbsASpikeWithOneRetry(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	memhog := testenv.Connector(t, "memhog")
	runWith := func(mib int) *report.Report {
		t.Helper()
		rep := filepath.Join(root, fmt.Sprintf("r%d.json", time.Now().UnixNano()))
		_, errOut, code := runSB(t, root, "", "run", "--name", "varying", "--report", rep, "-q", "--", memhog,
			"-mib", fmt.Sprint(mib), "-step-mib", "4", "-delay", "1ms")
		if code != 0 {
			t.Fatalf("run of %d MiB: exit %d\n%s", mib, code, errOut)
		}
		return readReport(t, rep)
	}
	var slack []float64
	for i, mib := range []int{100, 116, 92, 108, 100, 112} {
		r := runWith(mib)
		s := 1 - float64(r.Memory.PeakBytes)/float64(r.Memory.LimitBytes)
		slack = append(slack, s)
		if i >= 2 && (len(r.Attempts) != 1 || s > 0.45) {
			t.Errorf("run %d (%d MiB): %d attempts, limit %d MiB, peak %d MiB, slack %.0f%%: not converged",
				i+1, mib, len(r.Attempts), r.Memory.LimitBytes>>20, r.Memory.PeakBytes>>20, 100*s)
		}
	}
	if slack[0] < 0.8 {
		t.Errorf("first run should be the cold start (large slack), got %.0f%%", 100*slack[0])
	}
	spike := runWith(230)
	if len(spike.Attempts) != 2 || spike.Attempts[0].Outcome != report.OOMKilled || spike.Outcome != report.Succeeded {
		t.Errorf("spike: %+v", spike.Attempts)
	}
}

// 20 runs whose limits add up to three times the budget: the reserved
// memory never exceeds the budget, runs overlap when they fit, and every
// run finishes with its whole output.
func TestBudgetAdmitsConcurrentRunsWithinTheMachineBudget(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	home := filepath.Join(root, "home")
	const runs, limitMiB, budgetMiB = 20, 150, 1000
	demo := testenv.Connector(t, "tap-demo")
	ledger, err := budget.Open(home, budgetMiB<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var maxReserved int64
	maxRunning, maxQueued := 0, 0
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if st, err := ledger.Status(); err == nil {
				maxReserved = max(maxReserved, st.Reserved)
				maxRunning = max(maxRunning, st.Running)
				maxQueued = max(maxQueued, st.Queued)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan string, runs)
	for i := 0; i < runs; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// One connector name each: runs of one name and tenant take
			// turns (the run lock); the budget is shared by different ones.
			out, errOut, code := runSB(t, root, "", "run", "-q", "--name", fmt.Sprintf("tap-demo-%d", i), "--memory", fmt.Sprintf("%dMiB", limitMiB),
				"--host-memory-budget", fmt.Sprintf("%dMiB", budgetMiB), "--", demo, "-records", "3000", "-giant-bytes", "0")
			if n := strings.Count(out, `"type":"RECORD"`); code != 0 || n != 9000 {
				errs <- fmt.Sprintf("run %d: exit %d, %d records; %s", i, code, n, errOut)
			}
		}(i)
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if maxReserved > budgetMiB<<20 {
		t.Errorf("reserved %d MiB at once, over the %d MiB budget", maxReserved>>20, budgetMiB)
	}
	if maxRunning < 2 {
		t.Errorf("at most %d run at once though %d fit", maxRunning, budgetMiB/limitMiB)
	}
	if maxQueued == 0 {
		t.Errorf("no run ever waited: the budget was never short, the test proved nothing")
	}
	if st, _ := ledger.Status(); len(st.Entries) != 0 {
		t.Errorf("ledger not empty after all runs: %+v", st.Entries)
	}
}

func TestReservationOfAKilledRunnerIsReclaimed(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	flags := []string{"run", "-q", "--memory", "200MiB", "--host-memory-budget", "300MiB", "--no-wait"}
	cmd, _, _ := startRun(t, root, fmt.Sprintf("holder-%d", os.Getpid()), append(flags[1:], "--", "/bin/sh", "-c", "echo ready; exec sleep 60")...)
	// While it holds 200 of 300 MiB, a second 200 MiB run cannot start.
	_, errOut, code := runSB(t, root, "", append(flags, "--", "/bin/true")...)
	if code != 7 || !strings.Contains(errOut, "budget") {
		t.Fatalf("second run while the budget is held: exit %d, %s", code, errOut)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	_, errOut, code = runSB(t, root, "", append(flags, "--", "/bin/true")...)
	if code != 0 {
		t.Errorf("after the holder was SIGKILLed: exit %d, %s", code, errOut)
	}
	// Larger than the whole budget: it could never run, a usage error at once.
	_, errOut, code = runSB(t, root, "", "run", "--memory", "400MiB", "--host-memory-budget", "300MiB", "--", "/bin/true")
	if code != 2 || !strings.Contains(errOut, "never fit") || !strings.Contains(errOut, "--host-memory-budget") {
		t.Errorf("too large: exit %d, %s", code, errOut)
	}
}

// One customer's runaway connector is OOM-killed at its own limit while
// three others beside it finish with complete output.
func TestAHoarderCannotStopItsNeighbours(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	var wg sync.WaitGroup
	codes := make([]int, 4)
	outs := make([]string, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			args := []string{"run", "-q", "--memory", "200MiB", "--tenant", fmt.Sprintf("t%d", i), "--"}
			if i == 0 {
				args = append(args, testenv.Connector(t, "memhog"), "-mib", "100000", "-step-mib", "16", "-delay", "1ms")
			} else {
				args = append(args, testenv.Connector(t, "tap-demo"), "-records", "20000", "-giant-bytes", "0")
			}
			outs[i], _, codes[i] = runSB(t, root, "", args...)
		}(i)
	}
	wg.Wait()
	if codes[0] != 3 {
		t.Errorf("hoarder: exit %d, want 3 (OOM)", codes[0])
	}
	for i := 1; i < 4; i++ {
		if n := strings.Count(outs[i], `"type":"RECORD"`); codes[i] != 0 || n != 60000 {
			t.Errorf("neighbour %d: exit %d, %d records", i, codes[i], n)
		}
	}
}

// A corrupt history store never blocks a run with an explicit --memory
// (it costs a warning), while --memory auto stops with exit 6 and a
// message that names the file and the way out.
func TestCorruptHistoryOnlyStopsAuto(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	home := filepath.Join(root, "home")
	os.MkdirAll(home, 0o700)
	db := filepath.Join(home, "history.db")
	if err := os.WriteFile(db, []byte("this is not a bbolt file, just garbage bytes......"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runSB(t, root, "", "run", "-q", "--memory", "64MiB", "--protocol", "raw", "--", "/bin/true")
	if code != 0 || !strings.Contains(errOut, "history") {
		t.Errorf("explicit --memory with a corrupt store: exit %d, stderr %q (want 0 and a warning)", code, errOut)
	}
	_, errOut, code = runSB(t, root, "", "run", "-q", "--memory", "auto", "--", "/bin/true")
	if code != 6 || !strings.Contains(errOut, db) || !strings.Contains(errOut, "--memory SIZE") {
		t.Errorf("auto with a corrupt store: exit %d, stderr %q", code, errOut)
	}
}

// A run waiting for the budget stops at once on SIGTERM, as interrupted.
func TestSignalWhileQueuedForTheBudget(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	flags := []string{"--memory", "200MiB", "--host-memory-budget", "300MiB"}
	holder, _, _ := startRun(t, root, fmt.Sprintf("q-holder-%d", os.Getpid()), append(flags, "--stop-timeout", "200ms", "--", "/bin/sh", "-c", "echo ready; exec sleep 60")...)
	defer func() { holder.Process.Signal(syscall.SIGTERM); holder.Wait() }()
	rep := filepath.Join(root, "queued.json")
	waiter := sb(t, root, append(append([]string{"run", "-q", "--report", rep}, flags...), "--", "/bin/true")...)
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // queued behind the holder
	start := time.Now()
	waiter.Process.Signal(syscall.SIGTERM)
	if code := exitOf(t, waiter); code != 143 {
		t.Errorf("queued run: exit %d, want 143", code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to stop while queued", d)
	}
	if r := readReport(t, rep); r.Outcome != report.Interrupted || r.QueuedSeconds < 0.3 {
		t.Errorf("report: outcome %s queued %.1fs", r.Outcome, r.QueuedSeconds)
	}
}

// Retries of an OOM storm escalate their limit, but never beyond the
// tenant's share of the machine budget (nor --memory-max).
func TestRetriesStayWithinTheTenantShare(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	rp := filepath.Join(t.TempDir(), "report.json")
	_, errOut, code := runSB(t, root, "", "run", "-q", "--tenant", "storm", "--memory", "96MiB", "--retry-oom", "3",
		"--memory-max", "2GiB", "--tenant-memory-budget", "200MiB", "--host-memory-budget", "1GiB", "--report", rp,
		"--", testenv.Connector(t, "memhog"), "-mib", "100000", "-step-mib", "16", "-delay", "1ms")
	if code != 3 {
		t.Fatalf("exit %d, want 3 (OOM): %s", code, errOut)
	}
	b, err := os.ReadFile(rp)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Attempts) < 2 {
		t.Fatalf("%d attempts: the retry never happened", len(rep.Attempts))
	}
	for _, a := range rep.Attempts {
		if a.LimitBytes > 200<<20 {
			t.Errorf("attempt %d reserved %d bytes, beyond the tenant's 200MiB share", a.Attempt, a.LimitBytes)
		}
	}
	if last := rep.Attempts[len(rep.Attempts)-1]; last.LimitBytes != 200<<20 {
		t.Errorf("the last retry's limit is %d, want the share (200MiB)", last.LimitBytes)
	}
}
