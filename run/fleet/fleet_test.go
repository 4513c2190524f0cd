package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"syncbox/limits/history"
	"syncbox/run/runlock"
	"syncbox/testdata/pgtest"
	"syncbox/testdata/testenv"
)

// TestStore runs each case against a database of its own in one server:
// starting a cluster takes seconds, a database milliseconds.
func TestStore(t *testing.T) {
	testenv.RequireRoot(t)
	pg := pgtest.Start(t)
	admin := pg.Conn(t, "postgres")
	for i, c := range []struct {
		name string
		fn   func(t *testing.T, pg *pgtest.Server, db, url string)
	}{
		{"ConcurrentOpensOfAFreshDatabaseAllMigrateIt", concurrentOpensOfAFreshDatabaseAllMigrateIt},
		{"TheLockIsOnePerTenantAndNameAcrossStores", theLockIsOnePerTenantAndNameAcrossStores},
		{"WaitingForAStoreLockReusesOneSession", waitingForAStoreLockReusesOneSession},
		{"ALockWhoseSessionDiesIsLostAndCannotMoveTheCheckpoint", aLockWhoseSessionDiesIsLostAndCannotMoveTheCheckpoint},
		{"ASaveUnderAStaleTokenChangesNothing", aSaveUnderAStaleTokenChangesNothing},
		{"HistoryIsSharedAndSaysWhereEachRunRan", historyIsSharedAndSaysWhereEachRunRan},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := fmt.Sprintf("store%d", i)
			pgtest.Exec(t, admin, "CREATE DATABASE "+db)
			c.fn(t, pg, db, pg.URL(db))
		})
	}
}

func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func lock(t *testing.T, s *Store, tenant, name, runID string) (*Locks, *runlock.Lock, error) {
	t.Helper()
	b := s.Locks()
	t.Cleanup(b.Close)
	l, err := runlock.Acquire(context.Background(), runlock.Spec{Tenant: tenant, Name: name, RunID: runID, Backend: b})
	if l != nil {
		t.Cleanup(func() { l.Release() })
	}
	return b, l, err
}

func concurrentOpensOfAFreshDatabaseAllMigrateIt(t *testing.T, pg *pgtest.Server, db, url string) {
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
	s := open(t, url)
	var version int
	var dirty bool
	if err := s.pool.QueryRow(context.Background(), "SELECT version, dirty FROM syncbox.schema_migrations").Scan(&version, &dirty); err != nil || version != 1 || dirty {
		t.Errorf("schema version %d dirty %v: %v", version, dirty, err)
	}
}

func TestAStoreThatIsDownFailsFastAndHidesThePassword(t *testing.T) {
	dir := t.TempDir() // no server listens here
	url := "postgres://syncbox:s3cret@/syncbox?host=" + dir
	t0 := time.Now()
	_, err := Open(context.Background(), url)
	if err == nil {
		t.Fatal("Open of a store with no server succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "syncbox:xxxxx@") {
		t.Errorf("error %q leaks the password or does not name the URL", err)
	}
	if d := time.Since(t0); d > 15*time.Second {
		t.Errorf("took %s to fail", d)
	}
	for _, u := range []string{"postgres://u@/db?host=/x&password=hunter2", "host=/x password=hunter2", "postgres://u:hunter2@[bad"} {
		if got := Redact(u); strings.Contains(got, "hunter2") {
			t.Errorf("Redact(%q) = %q leaks the password", u, got)
		}
	}
}

func theLockIsOnePerTenantAndNameAcrossStores(t *testing.T, pg *pgtest.Server, db, url string) {
	a, b := open(t, url), open(t, url) // two machines
	_, la, err := lock(t, a, "acme", "tap-x", "run-a")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = lock(t, b, "acme", "tap-x", "run-b")
	var held *runlock.HeldError
	if !errors.As(err, &held) || held.Holder.RunID != "run-a" || held.Holder.Token != la.Token() || held.Holder.PID != os.Getpid() {
		t.Fatalf("second lock: %v (holder %+v)", err, held)
	}
	if _, _, err := lock(t, b, "globex", "tap-x", "run-c"); err != nil {
		t.Errorf("another tenant: %v", err)
	}
	if _, _, err := lock(t, b, "acme", "tap-y", "run-d"); err != nil {
		t.Errorf("another connector: %v", err)
	}
	if err := la.Release(); err != nil {
		t.Fatal(err)
	}
	_, lb, err := lock(t, b, "acme", "tap-x", "run-b")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if lb.Token() <= la.Token() {
		t.Errorf("token %d after %d: not fenced", lb.Token(), la.Token())
	}
}

func waitingForAStoreLockReusesOneSession(t *testing.T, pg *pgtest.Server, db, url string) {
	s := open(t, url)
	_, la, err := lock(t, s, "acme", "tap-x", "run-a")
	if err != nil {
		t.Fatal(err)
	}
	admin := pg.Conn(t, "postgres")
	sessions := func() (n int64) {
		pgtest.Exec(t, admin, "SELECT pg_stat_clear_snapshot()")
		if err := admin.QueryRow(context.Background(), "SELECT sessions FROM pg_stat_database WHERE datname = $1", db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := sessions()
	time.AfterFunc(time.Second, func() { la.Release() })
	b := s.Locks()
	defer b.Close()
	l, err := runlock.Acquire(context.Background(), runlock.Spec{Tenant: "acme", Name: "tap-x", RunID: "run-b", Wait: time.Minute, Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	// About ten tries in that second, on one session.
	time.Sleep(600 * time.Millisecond) // session statistics are flushed at most every 500ms
	if n := sessions() - before; n > 2 {
		t.Errorf("%d sessions opened while waiting about a second", n)
	}
}

// The lock lives and dies with its session: when the server ends it (a
// crash, a network cut, an operator), Lost() closes, the checkpoint can no
// longer be saved, and another runner takes the lock at once.
func aLockWhoseSessionDiesIsLostAndCannotMoveTheCheckpoint(t *testing.T, pg *pgtest.Server, db, url string) {
	a, b := open(t, url), open(t, url)
	ba, la, err := lock(t, a, "acme", "tap-x", "run-a")
	if err != nil {
		t.Fatal(err)
	}
	cka, err := ba.Checkpoint("run-a")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := cka.Save(ctx, []byte(`{"bookmark": 1}`)); err != nil {
		t.Fatal(err)
	}
	admin := pg.Conn(t, db)
	pgtest.Exec(t, admin, "SELECT pg_terminate_backend(backend_pid) FROM syncbox.run_locks WHERE run_id = 'run-a'")
	select {
	case <-la.Lost():
	case <-time.After(3 * keepAlive):
		t.Fatal("Lost() not closed after the session was terminated")
	}
	bb, lb, err := lock(t, b, "acme", "tap-x", "run-b")
	if err != nil {
		t.Fatalf("lock after the holder's session died: %v", err)
	}
	ckb, _ := bb.Checkpoint("run-b")
	got, err := ckb.Load(ctx)
	if err != nil || string(got) != `{"bookmark": 1}` {
		t.Fatalf("B loads %q, %v; want A's checkpoint byte for byte", got, err)
	}
	if err := cka.Save(ctx, []byte(`{"bookmark": 2}`)); err == nil || !errors.Is(err, errLost) {
		t.Fatalf("A saved after losing the lock: %v", err)
	}
	if err := ckb.Save(ctx, []byte(`{"bookmark": 3}`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := ckb.Load(ctx); string(got) != `{"bookmark": 3}` {
		t.Errorf("checkpoint %s", got)
	}
	_ = lb
}

// Fencing without a dead session: a Save under a token that is no longer
// the current one changes nothing, even if its session still answers.
func aSaveUnderAStaleTokenChangesNothing(t *testing.T, pg *pgtest.Server, db, url string) {
	s := open(t, url)
	b, _, err := lock(t, s, "acme", "tap-x", "run-a")
	if err != nil {
		t.Fatal(err)
	}
	ck, _ := b.Checkpoint("run-a")
	ctx := context.Background()
	if err := ck.Save(ctx, []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pg.Conn(t, db), "UPDATE syncbox.run_locks SET token = token + 1")
	if err := ck.Save(ctx, []byte(`{"n":2}`)); !errors.Is(err, errLost) {
		t.Fatalf("Save under a stale token: %v", err)
	}
	var v string
	pg.Conn(t, db).QueryRow(ctx, "SELECT value::text FROM syncbox.checkpoints").Scan(&v)
	if v != `{"n":1}` {
		t.Errorf("checkpoint moved to %s", v)
	}
}

func historyIsSharedAndSaysWhereEachRunRan(t *testing.T, pg *pgtest.Server, db, url string) {
	a, b := open(t, url), open(t, url)
	a.machine, b.machine = "machine-a", "machine-b"
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 6 {
		st := a
		if i%2 == 1 {
			st = b
		}
		tenant := "acme"
		if i == 5 {
			tenant = "globex"
		}
		e := history.Entry{At: t0.Add(time.Duration(i) * time.Hour), RunID: fmt.Sprintf("r%d", i), Name: "tap-x", Tenant: tenant,
			Attempt: 1, LimitBytes: 1 << 30, PeakBytes: int64(100+i) << 20, Outcome: "succeeded", Duration: 1500 * time.Millisecond}
		if err := st.History().Append(e); err != nil {
			t.Fatal(err)
		}
	}
	own, others, err := b.History().ForConnector("tap-x", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(own) != 5 || len(others) != 1 || others[0].Tenant != "globex" {
		t.Fatalf("own %d, others %d", len(own), len(others))
	}
	for i, e := range own {
		want := "machine-a"
		if i%2 == 1 {
			want = "machine-b"
		}
		if e.Machine != want || e.PeakBytes != int64(100+i)<<20 || e.Duration != 1500*time.Millisecond || !e.At.Equal(t0.Add(time.Duration(i)*time.Hour)) {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	last, err := a.History().List(history.Filter{Name: "tap-x", Limit: 2})
	if err != nil || len(last) != 2 || last[0].RunID != "r4" || last[1].RunID != "r5" {
		t.Errorf("newest 2, oldest first: %+v %v", last, err)
	}
}
