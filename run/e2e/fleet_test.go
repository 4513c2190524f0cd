package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"syncbox/run/container"
	"syncbox/run/report"
	"syncbox/testdata/pgtest"
)

// machine is one simulated host of a fleet: its own SYNCBOX_HOME and
// SYNCBOX_RUN_DIR, its own hostname (a UTS namespace), a shared store.
type machine struct {
	name string
	dir  string
	env  []string
}

func newMachine(t *testing.T, name, storeURL string) machine {
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return machine{name: name, dir: dir, env: append(os.Environ(), "SYNCBOX_HOME="+filepath.Join(dir, "home"),
		"SYNCBOX_RUN_DIR="+filepath.Join(dir, "run"), "SYNCBOX_STORE="+storeURL)}
}

// cmd prepares `syncbox ARGS` on m. unshare and sh exec in place, so the
// process is the runner itself (signals reach it, not a wrapper).
func (m machine) cmd(t *testing.T, args ...string) *exec.Cmd {
	c := exec.Command("unshare", append([]string{"--uts", "--", "/bin/sh", "-c", `hostname "$0" && exec "$@"`, m.name, syncboxBin(t)}, args...)...)
	c.Env = m.env
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return c
}

type ran struct {
	code           int
	stdout, stderr string
}

func (m machine) run(t *testing.T, args ...string) ran {
	t.Helper()
	c := m.cmd(t, args...)
	var o, e bytes.Buffer
	c.Stdout, c.Stderr = &o, &e
	return ran{code: exitCode(t, c.Run()), stdout: o.String(), stderr: e.String()}
}

// startHolder starts a run that prints "ready" and then holds its lock
// until killed or until --timeout.
func (m machine) startHolder(t *testing.T, id string, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"run", "--name", "holder", "--run-id", id, "--protocol", "raw", "--memory", "64MiB", "--stop-timeout", "200ms"}, extra...)
	c := m.cmd(t, append(args, "--", "/bin/sh", "-c", "echo ready; exec sleep 60")...)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var e bytes.Buffer
	c.Stderr = &e
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	buf := make([]byte, 6)
	if n, err := out.Read(buf); err != nil || string(buf[:n]) != "ready\n" {
		t.Fatalf("holder on %s did not start: %q %v; stderr %s", m.name, buf[:n], err, e.String())
	}
	return c
}

func records(out string) int { return strings.Count(out, `"type":"RECORD"`) }

// TestFleet runs two machines against one store, each case in a database
// of its own in one PostgreSQL server.
func TestFleet(t *testing.T) {
	if os.Geteuid() != 0 {
		unavailable(t, "root, to run containers")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		unavailable(t, "unshare(1), to give each simulated machine its own hostname: %v", err)
	}
	pg := pgtest.Start(t)
	admin := pg.Conn(t, "postgres")
	for i, c := range []struct {
		name string
		fn   func(t *testing.T, pg *pgtest.Server, db string, a, b machine)
	}{
		{"ForecastLearnedOnAServesB", forecastLearnedOnAServesB},
		{"CheckpointTakenOnAResumesOnB", checkpointTakenOnAResumesOnB},
		{"SameConnectorOnBothRunsOnce", sameConnectorOnBothRunsOnce},
		{"TwentyStartsRunOneAtATime", twentyStartsRunOneAtATime},
		{"SIGKILLedHolderFreesTheLockAtOnce", sigkilledHolderFreesTheLockAtOnce},
		{"StoreKilledMidRunLosesNoCheckpoint", storeKilledMidRunLosesNoCheckpoint},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := fmt.Sprintf("fleet%d", i)
			// The sandbox server runs with fsync off, which is harmless
			// while the OS survives; but an acknowledged commit must
			// survive the server's own crash, as in production.
			execSQL(t, admin, "CREATE DATABASE "+db, "ALTER DATABASE "+db+" SET synchronous_commit = on")
			url := pg.URL(db)
			c.fn(t, pg, db, newMachine(t, "machine-a", url), newMachine(t, "machine-b", url))
		})
	}
}

func forecastLearnedOnAServesB(t *testing.T, _ *pgtest.Server, _ string, a, b machine) {
	memhog := connectorBin(t, "memhog")
	for i := range 4 {
		if r := a.run(t, "run", "-q", "--name", "memhog", "--memory", "512MiB", "--", memhog, "--mib", "48", "--delay", "1ms"); r.code != 0 {
			t.Fatalf("run %d on A: exit %d; %s", i, r.code, r.stderr)
		}
	}
	r := b.run(t, "recommend", "--name", "memhog", "--json")
	if r.code != 0 {
		t.Fatalf("recommend on B: exit %d; %s", r.code, r.stderr)
	}
	var rec struct {
		LimitBytes int64 `json:"recommended_limit_bytes"`
		Samples    int   `json:"runs"`
		ColdStart  bool  `json:"cold_start"`
		Scheduler  struct {
			MemoryLimitBytes int64  `json:"memory_limit_bytes"`
			MemoryLimit      string `json:"memory_limit"`
		} `json:"scheduler"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("recommend --json: %v\n%s", err, r.stdout)
	}
	if rec.ColdStart || rec.Samples != 4 || rec.LimitBytes <= 48<<20 || rec.LimitBytes >= 512<<20 {
		t.Fatalf("B's recommendation from A's 4 runs of a 48 MiB connector: %+v", rec)
	}
	if rec.Scheduler.MemoryLimitBytes < rec.LimitBytes+64<<20 || rec.Scheduler.MemoryLimit == "" {
		t.Errorf("scheduler resources %+v do not cover the connector's %d bytes and the runner", rec.Scheduler, rec.LimitBytes)
	}
	// B's own run with --memory auto uses what A learned.
	rep := filepath.Join(b.dir, "report.json")
	if r := b.run(t, "run", "-q", "--name", "memhog", "--report", rep, "--", memhog, "--mib", "48", "--delay", "1ms"); r.code != 0 {
		t.Fatalf("auto run on B: exit %d; %s", r.code, r.stderr)
	}
	if got := readReport(t, rep).Attempts[0].LimitBytes; got != rec.LimitBytes {
		t.Errorf("B's auto limit %d, want the recommendation %d", got, rec.LimitBytes)
	}
	r = a.run(t, "history", "--name", "memhog")
	if r.code != 0 || strings.Count(r.stdout, "machine-a") != 4 || strings.Count(r.stdout, "machine-b") != 1 {
		t.Errorf("history on A does not show 4 runs of A and 1 of B (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func checkpointTakenOnAResumesOnB(t *testing.T, _ *pgtest.Server, _ string, a, b machine) {
	tap := connectorBin(t, "tap-demo")
	args := func(n int, rep string) []string {
		return []string{"run", "-q", "--name", "tap-demo", "--memory", "256MiB", "--report", rep, "--",
			tap, "--records", fmt.Sprint(n), "--giant-bytes", "0", "--state", "{state}"}
	}
	repA := filepath.Join(a.dir, "report.json")
	if r := a.run(t, args(1000, repA)...); r.code != 0 || records(r.stdout) != 3000 {
		t.Fatalf("A: exit %d, %d records; %s", r.code, records(r.stdout), r.stderr)
	}
	if st := readReport(t, repA).State; st == nil || !strings.Contains(st.PersistedTo, "checkpoint of connector tap-demo") {
		t.Errorf("A's report: state %+v, want it persisted to the store", st)
	}
	repB := filepath.Join(b.dir, "report.json")
	r := b.run(t, args(1500, repB)...)
	if r.code != 0 {
		t.Fatalf("B: exit %d; %s", r.code, r.stderr)
	}
	if n := records(r.stdout); n != 1500 || !strings.Contains(r.stdout, `"id":1001,`) || strings.Contains(r.stdout, `"id":1000,`) {
		t.Errorf("B sent %d records; want the 500 per stream after A's bookmark 1000", n)
	}
	var st struct {
		Bookmarks map[string]struct{ ID int } `json:"bookmarks"`
	}
	if err := json.Unmarshal(readReport(t, repB).State.Last, &st); err != nil || st.Bookmarks["users"].ID != 1500 {
		t.Errorf("B's last state %+v, %v: want users at 1500", st, err)
	}
}

func sameConnectorOnBothRunsOnce(t *testing.T, _ *pgtest.Server, _ string, a, b machine) {
	holder := a.startHolder(t, "on-a")
	r := b.run(t, "run", "--name", "holder", "--memory", "64MiB", "--", "/bin/true")
	if r.code != report.ExitAlreadyRunning || !strings.Contains(r.stderr, "on-a") || !strings.Contains(r.stderr, "machine-a") {
		t.Errorf("B while A holds: exit %d, want 8 naming run on-a on machine-a; %s", r.code, r.stderr)
	}
	holder.Process.Signal(syscall.SIGTERM)
	holder.Wait()

	// Started on both at the same moment: one runs, the other exits 8.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, m := range []machine{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = m.run(t, "run", "--name", "both", "--memory", "64MiB", "--", "/bin/sleep", "1").code
		}()
	}
	wg.Wait()
	sort.Ints(codes)
	if codes[0] != 0 || codes[1] != report.ExitAlreadyRunning {
		t.Errorf("exit codes %v, want one 0 and one 8", codes)
	}
}

// counterScript is a Singer connector that reads n from its state, sends
// n+1 as a record, works a little and checkpoints n+1.
const counterScript = `n=$(sed -n 's/.*"n":\([0-9]*\).*/\1/p' "$0"); n=$((${n:-0}+1))
echo '{"type":"RECORD","stream":"c","record":{"n":'$n'}}'; sleep 0.2
echo '{"type":"STATE","value":{"n":'$n'}}'`

func twentyStartsRunOneAtATime(t *testing.T, pg *pgtest.Server, db string, a, b machine) {
	const runs = 20
	type result struct {
		ran
		rep *report.Report
	}
	results := make([]result, runs)
	var wg sync.WaitGroup
	for i := range runs {
		m := a
		if i%2 == 1 {
			m = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep := filepath.Join(m.dir, fmt.Sprintf("r%d.json", i))
			results[i].ran = m.run(t, "run", "-q", "--name", "counter", "--memory", "64MiB", "--wait-for-lock", "5m",
				"--report", rep, "--", "/bin/sh", "-c", counterScript, "{state}")
			if results[i].code == 0 {
				results[i].rep = readReport(t, rep)
			}
		}()
	}
	wg.Wait()
	type span struct {
		from, to time.Time
		n        int
	}
	var spans []span
	seen := map[int]bool{}
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("start %d: exit %d; %s", i, r.code, r.stderr)
		}
		var rec struct {
			Record struct{ N int } `json:"record"`
		}
		line, _, _ := strings.Cut(r.stdout, "\n")
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("start %d: output %q: %v", i, r.stdout, err)
		}
		if seen[rec.Record.N] {
			t.Errorf("two runs read the same checkpoint and both sent n=%d", rec.Record.N)
		}
		seen[rec.Record.N] = true
		spans = append(spans, span{r.rep.StartedAt, r.rep.EndedAt, rec.Record.N})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	for i := 1; i < len(spans); i++ {
		if spans[i].from.Before(spans[i-1].to) {
			t.Errorf("runs overlapped: n=%d ran %s-%s, n=%d started %s", spans[i-1].n, spans[i-1].from.Format(time.StampMicro),
				spans[i-1].to.Format(time.StampMicro), spans[i].n, spans[i].from.Format(time.StampMicro))
		}
		if spans[i].n != spans[i-1].n+1 {
			t.Errorf("checkpoint not monotonic: run %d sent n=%d after n=%d", i, spans[i].n, spans[i-1].n)
		}
	}
	var final string
	if err := pg.Conn(t, db).QueryRow(context.Background(), "SELECT value::text FROM syncbox.checkpoints WHERE name = 'counter'").Scan(&final); err != nil || final != `{"n":20}` {
		t.Errorf("final checkpoint %s, %v; want n=20", final, err)
	}
}

func sigkilledHolderFreesTheLockAtOnce(t *testing.T, _ *pgtest.Server, _ string, a, b machine) {
	holder := a.startHolder(t, "doomed")
	if r := b.run(t, "run", "--name", "holder", "--memory", "64MiB", "--", "/bin/true"); r.code != report.ExitAlreadyRunning {
		t.Fatalf("while held: exit %d, want 8 (else the test proves nothing); %s", r.code, r.stderr)
	}
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	// The server ends the session when it reads EOF from the dead
	// runner's socket; a second to see that is "at once" for a scheduler.
	t0 := time.Now()
	r := b.run(t, "run", "--name", "holder", "--memory", "64MiB", "--wait-for-lock", "1s", "--", "/bin/true")
	if r.code != 0 {
		t.Fatalf("after the holder was SIGKILLed: exit %d; %s", r.code, r.stderr)
	}
	t.Logf("the next run on another machine started and finished %s after the SIGKILL", time.Since(t0).Round(time.Millisecond))
	// A's dead runner left its container's cgroups behind, as a SIGKILL
	// does; the next run on A would remove them, here cleanup does.
	if r := a.run(t, "cleanup"); r.code != 0 {
		t.Errorf("cleanup on A: exit %d; %s", r.code, r.stderr)
	}
}

// tickScript sends a record and a STATE every 50ms, n = 1..200.
const tickScript = `i=1; while [ $i -le 200 ]; do
echo '{"type":"RECORD","stream":"t","record":{"n":'$i'}}'; echo '{"type":"STATE","value":{"n":'$i'}}'; sleep 0.05; i=$((i+1)); done`

func storeKilledMidRunLosesNoCheckpoint(t *testing.T, pg *pgtest.Server, db string, a, b machine) {
	rep := filepath.Join(a.dir, "report.json")
	id := fmt.Sprintf("ticker-%d", os.Getpid())
	c := a.cmd(t, "run", "-q", "--name", "ticker", "--run-id", id, "--memory", "64MiB", "--stop-timeout", "500ms", "--report", rep,
		"--", "/bin/sh", "-c", tickScript)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(stdout.String(), `"n":20}`) {
		n, err := out.Read(buf)
		stdout.Write(buf[:n])
		if err != nil {
			t.Fatalf("run ended before n=20: %v; %s", err, stderr.String())
		}
	}
	pg.Kill(t)
	rest, _ := readAll(out)
	stdout.WriteString(rest)
	code := exitCode(t, c.Wait())
	pg.Restart(t)
	if code == 0 {
		t.Errorf("the run exited 0 though its checkpoints could not be saved; stderr %s", stderr.String())
	}
	r := readReport(t, rep)
	var stored string
	if err := pg.Conn(t, db).QueryRow(context.Background(), "SELECT value::text FROM syncbox.checkpoints WHERE name = 'ticker'").Scan(&stored); err != nil {
		t.Fatalf("no checkpoint in the store after the crash: %v", err)
	}
	// The report's last state is the one the store acknowledged, no
	// later; so is the last STATE forwarded downstream (a STATE is passed
	// on only once it is saved).
	storedN := readBookmarkN(t, stored)
	if r.State == nil || readBookmarkN(t, string(r.State.Last)) != storedN {
		t.Errorf("report's last state %+v, store holds %s", r.State, stored)
	}
	lastSent := strings.LastIndex(stdout.String(), `{"type":"STATE","value":`)
	if lastSent < 0 || !strings.HasPrefix(stdout.String()[lastSent:], fmt.Sprintf(`{"type":"STATE","value":{"n":%d}}`, storedN)) {
		t.Errorf("the last STATE sent downstream is not the stored n=%d", storedN)
	}
	// RECORD n=20 was read, so STATE 19 before it had been saved.
	if storedN < 19 || records(stdout.String()) < storedN {
		t.Errorf("store at n=%d, %d records delivered: the checkpoint is ahead of the output or went back", storedN, records(stdout.String()))
	}
	if len(r.NotRecorded) == 0 || !strings.Contains(strings.Join(r.NotRecorded, " "), "history") {
		t.Errorf("report does not say what was not recorded: %q", r.NotRecorded)
	}
	if !strings.Contains(r.Error, "not saved") {
		t.Errorf("report error %q does not say the checkpoint was not saved", r.Error)
	}
	// It stopped cleanly: nothing of the run is left on the machine.
	for _, d := range container.CgroupDirs(id) {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup left behind: %s", d)
		}
	}
	for _, d := range []string{filepath.Join(a.dir, "run", "runs", id), filepath.Join(a.dir, "home", "tenants", "default", "work", id)} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("left behind: %s", d)
		}
	}
	// The next run, on the other machine, resumes from the stored state.
	r2 := b.run(t, "run", "-q", "--name", "ticker", "--memory", "64MiB", "--protocol", "raw", "--", "/bin/cat", "{state}")
	if r2.code != 0 || readBookmarkN(t, strings.TrimSpace(r2.stdout)) != storedN {
		t.Errorf("B after the crash: exit %d, state %q; want n=%d; %s", r2.code, r2.stdout, storedN, r2.stderr)
	}
	t.Logf("store killed at n>=20: checkpoint n=%d, %d records delivered, exit %d, error: %s", storedN, records(stdout.String()), code, r.Error)
}

func readAll(r interface{ Read([]byte) (int, error) }) (string, error) {
	var b bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String(), err
		}
	}
}

func readBookmarkN(t *testing.T, s string) int {
	var v struct{ N int }
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("state %q: %v", s, err)
	}
	return v.N
}
