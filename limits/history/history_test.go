package history

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"syncbox/limits/forecast"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func entry(name, tenant string, i int) Entry {
	return Entry{
		At: t0.Add(time.Duration(i) * time.Hour), RunID: fmt.Sprintf("run-%d", i), Name: name, Tenant: tenant,
		Kind: "incremental", Attempt: 1, LimitBytes: 1 << 30, PeakBytes: int64(500+i) << 20, Outcome: "ok",
		Records: 1000, Bytes: 1 << 20, Duration: time.Minute, LargestValueBytes: 4096,
	}
}

func TestAppendListKeepsEveryFieldInTimeOrder(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// appended out of order; listed by time
	for _, i := range []int{3, 1, 2} {
		if err := s.Append(entry("tap-pg", "acme", i)); err != nil {
			t.Fatal(err)
		}
	}
	oom := entry("tap-pg", "acme", 4)
	oom.OOM, oom.Outcome, oom.PeakBytes = true, "oom-killed", oom.LimitBytes
	if err := s.Append(oom); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(Filter{Name: "tap-pg", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("listed %d entries; want 4", len(got))
	}
	for i, e := range got {
		want := entry("tap-pg", "acme", i+1)
		if i == 3 {
			want = oom
		}
		if !e.At.Equal(want.At) {
			t.Errorf("entry %d at %s; want %s", i, e.At, want.At)
		}
		e.At = want.At // JSON keeps the instant, not the location pointer
		if e != want {
			t.Errorf("entry %d = %+v; want %+v", i, e, want)
		}
	}
	last, err := s.List(Filter{Limit: 2})
	if err != nil || len(last) != 2 || !last[1].OOM {
		t.Errorf("List(Limit 2) = %+v, %v; want the newest two", last, err)
	}
}

func TestForConnectorSplitsOwnRunsFromOtherTenants(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		for _, tenant := range []string{"acme", "globex", "initech"} {
			if err := Record(dir, entry("tap-pg", tenant, i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := Record(dir, entry("tap-s3", "acme", i)); err != nil {
			t.Fatal(err)
		}
	}
	own, others, err := Load(dir, "tap-pg", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(own) != 3 || len(others) != 6 {
		t.Fatalf("own %d, others %d; want 3 and 6", len(own), len(others))
	}
	for _, e := range others {
		if e.Name != "tap-pg" || e.Tenant == "acme" {
			t.Errorf("prior holds %s/%s", e.Name, e.Tenant)
		}
	}
	for i := 1; i < len(others); i++ {
		if others[i].At.Before(others[i-1].At) {
			t.Errorf("others not in time order")
		}
	}
}

func TestLoadOfMissingHistoryIsEmpty(t *testing.T) {
	own, others, err := Load(filepath.Join(t.TempDir(), "nothing-here"), "tap-pg", "acme")
	if err != nil || own != nil || others != nil {
		t.Errorf("Load of a missing history = %v, %v, %v; want empty", own, others, err)
	}
}

func TestEntriesFeedTheRecommender(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 10; i++ {
		if err := Record(dir, entry("tap-pg", "globex", i)); err != nil {
			t.Fatal(err)
		}
	}
	own, others, err := Load(dir, "tap-pg", "newco")
	if err != nil {
		t.Fatal(err)
	}
	rec := forecast.Recommend(t0.Add(12*time.Hour), forecast.Incremental, Runs(own), Runs(others), forecast.DefaultParams())
	if !rec.FromPrior || rec.ColdStart || rec.PriorTenants != 1 {
		t.Errorf("new tenant got %+v; want a recommendation from the other tenant's runs", rec)
	}
	oom := entry("tap-pg", "globex", 11)
	oom.OOM = true
	if r := oom.Run(); !r.OOM || r.LimitBytes != oom.LimitBytes || r.PeakBytes != oom.PeakBytes || !r.At.Equal(oom.At) ||
		r.Tenant != "globex" || r.Kind != forecast.Incremental {
		t.Errorf("Entry.Run() = %+v", r)
	}
}

// A store written before entries recorded their run kind still reads: the
// kind is unknown (empty), everything else as it was.
func TestEntriesFromBeforeKindsReadAsUnknown(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := `{"at":"2026-03-01T00:00:00Z","run_id":"r1","name":"tap-pg","tenant":"acme","attempt":1,"limit_bytes":1073741824,` +
		`"peak_bytes":524288000,"outcome":"succeeded","oom":false,"records":1,"bytes":2,"duration_ns":60000000000,"largest_value_bytes":0}`
	err = db.Update(func(tx *bolt.Tx) error {
		runs, err := tx.CreateBucketIfNotExists(runsBucket)
		if err != nil {
			return err
		}
		name, err := runs.CreateBucketIfNotExists([]byte("tap-pg"))
		if err != nil {
			return err
		}
		tenant, err := name.CreateBucketIfNotExists([]byte("acme"))
		if err != nil {
			return err
		}
		return tenant.Put(entryKey(Entry{At: t0, RunID: "r1", Attempt: 1}), []byte(old))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	own, _, err := Load(dir, "tap-pg", "acme")
	if err != nil || len(own) != 1 {
		t.Fatalf("Load = %+v, %v", own, err)
	}
	if r := own[0].Run(); r.Kind != "" || r.Tenant != "acme" || r.PeakBytes != 500<<20 {
		t.Errorf("old entry reads as %+v; want kind unknown, tenant acme, peak 500 MiB", r)
	}
	// and a new entry beside it keeps its kind
	e := entry("tap-pg", "acme", 5)
	e.Kind = "full"
	if err := Record(dir, e); err != nil {
		t.Fatal(err)
	}
	own, _, _ = Load(dir, "tap-pg", "acme")
	if len(own) != 2 || own[1].Kind != "full" {
		t.Errorf("entries %+v; want the new one with kind full", own)
	}
}

func TestAppendPrunesToKeepPerConnectorAndTenant(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenWith(dir, Options{Keep: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 12; i++ {
		if err := s.Append(entry("tap-pg", "acme", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append(entry("tap-pg", "globex", 0)); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(Filter{Name: "tap-pg", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0].RunID != "run-7" || got[4].RunID != "run-11" {
		t.Errorf("kept %d entries from %s; want the newest 5 (run-7..run-11)", len(got), got[0].RunID)
	}
	if other, _ := s.List(Filter{Tenant: "globex"}); len(other) != 1 {
		t.Errorf("pruning one tenant touched another: %d entries", len(other))
	}
}

func TestCorruptHistoryGivesAnErrorNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	garbage := []byte(strings.Repeat("this is not a bbolt database\n", 1000))
	if err := os.WriteFile(path, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("Open of garbage: %v; want a corrupt-history error naming %s", err, path)
	}
	if err := Record(dir, entry("tap-pg", "acme", 0)); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Record into garbage: %v; want an error naming %s", err, path)
	}
	if _, _, err := Load(dir, "tap-pg", "acme"); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load of garbage: %v; want an error naming %s", err, path)
	}
}

func TestUnreadableHistoryPathGivesAnErrorNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.Mkdir(path, 0o755); err != nil { // a directory where the file should be
		t.Fatal(err)
	}
	if err := Record(dir, entry("tap-pg", "acme", 0)); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Record: %v; want an error naming %s", err, path)
	}
}

func TestStuckLockTimesOutWithAClearError(t *testing.T) {
	dir := t.TempDir()
	holder, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	start := time.Now()
	_, err = OpenWith(dir, Options{Timeout: 300 * time.Millisecond})
	waited := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), holder.Path()) {
		t.Fatalf("second writer: %v; want a lock timeout naming %s", err, holder.Path())
	}
	// bbolt polls the lock every 50ms, so it may give up a poll early.
	if waited < 200*time.Millisecond || waited > 5*time.Second {
		t.Errorf("gave up after %s; want about the 300ms timeout", waited)
	}
}

const (
	childEnv  = "SYNCBOX_HISTORY_TEST_CHILD" // "<dir> <child number>"
	children  = 20
	perChild  = 50
	childName = "tap-concurrent"
)

// TestConcurrentProcessesAppend starts real processes (this test binary
// again) that append at the same time, each opening and closing the store
// per entry as syncbox runs do; bbolt's file lock must serialise them.
func TestConcurrentProcessesAppend(t *testing.T) {
	if spec := os.Getenv(childEnv); spec != "" {
		appendAsChild(t, spec)
		return
	}
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, children)
	outs := make([][]byte, children)
	for c := 0; c < children; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentProcessesAppend$", "-test.count=1")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", childEnv, dir, c))
			outs[c], errs[c] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for c, err := range errs {
		if err != nil {
			t.Fatalf("child %d: %v\n%s", c, err, outs[c])
		}
	}

	s, err := OpenWith(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.List(Filter{Name: childName})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range got {
		seen[e.Tenant+"/"+e.RunID] = true
	}
	if len(got) != children*perChild || len(seen) != children*perChild {
		t.Errorf("found %d entries (%d distinct); want %d", len(got), len(seen), children*perChild)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	if err != nil {
		t.Errorf("database check after concurrent appends: %v", err)
	}
}

func appendAsChild(t *testing.T, spec string) {
	dir, num, ok := strings.Cut(spec, " ")
	c, err := strconv.Atoi(num)
	if !ok || err != nil {
		t.Fatalf("bad %s %q", childEnv, spec)
	}
	for i := 0; i < perChild; i++ {
		e := entry(childName, fmt.Sprintf("tenant-%d", c%4), i)
		e.RunID = fmt.Sprintf("child-%d-run-%d", c, i)
		if err := Record(dir, e); err != nil {
			t.Fatalf("child %d entry %d: %v", c, i, err)
		}
	}
}

// A history cut short (a full disk) must be an error, not a SIGBUS when
// bbolt touches a mapped page past the end of the file.
func TestTruncatedHistoryIsAnErrorNotACrash(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if err := s.Append(Entry{At: time.Unix(int64(i), 0), RunID: fmt.Sprintf("r%d", i), Name: fmt.Sprintf("c%d", i%50), Tenant: "t",
			Attempt: 1, LimitBytes: 1 << 30, PeakBytes: 1 << 29, Outcome: "succeeded"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	path := filepath.Join(dir, FileName)
	fi, _ := os.Stat(path)
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(dir, "c1", "t"); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("Load of a truncated history: %v, want a 'truncated' error", err)
	}
}
