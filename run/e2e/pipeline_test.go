package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The measurement, as a test: the README's PostgreSQL pipeline with
// its runner killed at a random point, then rerun. With the tap's STATEs
// persisted as they were written into the pipe, 10 of 10 trials left the
// table short for good. In pipeline mode (--target) the checkpoint only
// moves on what target-postgres confirms after its COMMIT, so after every
// kill the state file is never ahead of the table, and the rerun completes
// it: every row, equal to the source.
func TestPostgresPipelineSurvivesTheRunnerKilledAtRandom(t *testing.T) {
	if os.Geteuid() != 0 {
		unavailable(t, "root, to run containers")
	}
	sb := syncboxBin(t)
	tapBin, targetBin := connectorBin(t, "tap-postgres"), connectorBin(t, "target-postgres")
	ctx := context.Background()
	pg := startPostgres(t)
	execSQL(t, pg.conn(t, "postgres"), "CREATE DATABASE source", "CREATE DATABASE warehouse")
	src, wh := pg.conn(t, "source"), pg.conn(t, "warehouse")
	const n = 3000
	execSQL(t, src, sourceTable, strings.ReplaceAll(fillOrdinary, "{rows}", strconv.Itoa(n)))
	execSQL(t, wh, destTable)
	wantCount, wantHash := tableHash(t, src, "src")

	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	midway := 0 // trials killed with part of the table loaded: the ones that test anything
	for trial := 0; trial < 20; trial++ {
		execSQL(t, wh, "TRUNCATE dst")
		work := t.TempDir()
		state := filepath.Join(work, "state.json")
		env := append(os.Environ(), "SYNCBOX_RUN_DIR="+filepath.Join(work, "run"), "SYNCBOX_HOME="+filepath.Join(work, "home"))
		args := []string{"run", "--name", "tap-postgres", "--memory", "256MiB", "--target-memory", "256MiB",
			"--bind", pg.SockDir, "--target-bind", pg.SockDir, "--state-file", state,
			"--target", fmt.Sprintf("%s --host %s --dbname warehouse --table dst --batch 400", targetBin, pg.SockDir),
			"--", tapBin, "--host", pg.SockDir, "--dbname", "source", "--table", "src", "--state", "{state}", "--state-every", "300"}

		cmd := sbCommand(sb, env, args)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill once the load is under way (the first checkpoint is on
		// disk), at a random point after that.
		for t0 := time.Now(); time.Since(t0) < 20*time.Second; time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(state); err == nil {
				break
			}
		}
		time.Sleep(time.Duration(rng.Intn(400)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		// Never ahead: every row up to the persisted bookmark is committed.
		if b, err := os.ReadFile(state); err == nil {
			mark := readBookmarkJSON(t, b)
			var have int64
			if err := wh.QueryRow(ctx, "SELECT count(*) FROM dst WHERE id <= $1", mark).Scan(&have); err != nil {
				t.Fatal(err)
			}
			if have != mark {
				t.Fatalf("trial %d: the state file says rows up to %d are loaded; the table has %d of them", trial, mark, have)
			}
			if mark > 0 && mark < n {
				midway++
			}
		}
		var out strings.Builder
		rerun := sbCommand(sb, env, args)
		rerun.Stderr = &out
		if code := exitCode(t, rerun.Run()); code != 0 {
			t.Fatalf("trial %d: rerun exit %d\n%s", trial, code, out.String())
		}
		if gotCount, gotHash := tableHash(t, wh, "dst"); gotCount != wantCount || gotHash != wantHash {
			t.Fatalf("trial %d: destination %d rows hash %s; source %d rows hash %s", trial, gotCount, gotHash, wantCount, wantHash)
		}
	}
	t.Logf("%d of 20 trials were killed midway (a checkpoint taken, the table not complete)", midway)
	if midway < 5 {
		t.Errorf("only %d of 20 kills landed midway: the kill window no longer fits the run's length", midway)
	}
}
