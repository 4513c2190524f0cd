package budget

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const mib = int64(1) << 20

func env(dir string, total, bytes int64, run string, extra ...string) map[string]string {
	m := map[string]string{
		"BUDGET_DIR":   dir,
		"BUDGET_TOTAL": strconv.FormatInt(total, 10),
		"BUDGET_MAX":   "0",
		"BUDGET_BYTES": strconv.FormatInt(bytes, 10),
		"BUDGET_RUN":   run,
		"BUDGET_HOLD":  "forever",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

func open(t *testing.T, dir string, total int64, maxConcurrent int) *Ledger {
	t.Helper()
	l, err := Open(dir, total, maxConcurrent)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func acquire(t *testing.T, l *Ledger, run string, bytes int64) *Reservation {
	t.Helper()
	r, err := l.Acquire(context.Background(), Request{RunID: run, Bytes: bytes}, AcquireOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Release() })
	return r
}

func status(t *testing.T, l *Ledger) Status {
	t.Helper()
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Twenty separate processes asking for three times the budget in total:
// the ledger, sampled throughout and cross-checked by a tally the helpers
// keep themselves, never admits more than the budget, admits several at once,
// admits in arrival order, and everyone finishes.
func TestConcurrentRunsStayWithinBudgetInArrivalOrder(t *testing.T) {
	dir := t.TempDir()
	var sizes []int64
	var sum int64
	for i := range 20 {
		s := []int64{96, 160, 224, 128, 64}[i%5] * mib
		sizes = append(sizes, s)
		sum += s
	}
	total := sum / 3
	l := open(t, dir, total, 0)
	witness := filepath.Join(dir, "witness")
	grants := filepath.Join(dir, "grants")

	stop := make(chan struct{})
	var samples, maxRunning int
	var sampleErrs []string
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			st, err := l.Status()
			if err != nil {
				sampleErrs = append(sampleErrs, err.Error())
				return
			}
			samples++
			maxRunning = max(maxRunning, st.Running)
			if st.Reserved > total {
				sampleErrs = append(sampleErrs, fmt.Sprintf("reserved %d > budget %d", st.Reserved, total))
			}
			// FIFO: everything admitted arrived before everything still queued.
			var maxRun, minQueued uint64 = 0, ^uint64(0)
			for _, e := range st.Entries {
				if e.State == StateRunning {
					maxRun = max(maxRun, e.Ticket)
				} else {
					minQueued = min(minQueued, e.Ticket)
				}
			}
			if maxRun > minQueued {
				sampleErrs = append(sampleErrs, fmt.Sprintf("ticket %d running while ticket %d queued", maxRun, minQueued))
			}
			time.Sleep(2 * time.Millisecond)
		}
	})

	var hs []*helper
	for i, s := range sizes {
		hold := time.Duration(30+rand.IntN(120)) * time.Millisecond
		hs = append(hs, startHelper(t, env(dir, total, s, fmt.Sprintf("run-%02d", i),
			"BUDGET_HOLD", hold.String(), "BUDGET_WITNESS", witness, "BUDGET_LOG", grants)))
	}
	for _, h := range hs {
		if err := h.wait(t, 40*time.Second); err != nil {
			t.Errorf("helper %d: %v", h.cmd.Process.Pid, err)
		}
	}
	close(stop)
	wg.Wait()

	for _, e := range sampleErrs {
		t.Error(e)
	}
	t.Logf("%d samples, up to %d running at once", samples, maxRunning)
	if samples < 10 {
		t.Errorf("only %d samples", samples)
	}

	b, err := os.ReadFile(witness)
	if err != nil {
		t.Fatal(err)
	}
	var cur, n, maxCur, maxN int64
	if _, err := fmt.Sscan(string(b), &cur, &n, &maxCur, &maxN); err != nil {
		t.Fatal(err)
	}
	if cur != 0 || n != 0 {
		t.Errorf("witness still shows %d bytes held by %d", cur, n)
	}
	if maxCur > total {
		t.Errorf("witness saw %d bytes held at once, budget %d", maxCur, total)
	}
	if maxN < 2 {
		t.Errorf("at most %d held at once, although several requests fit together", maxN)
	}

	// Admission order (by admission time, stamped under the ledger lock) must be ticket order.
	b, err = os.ReadFile(grants)
	if err != nil {
		t.Fatal(err)
	}
	type grant struct{ ticket, at int64 }
	var gs []grant
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var g grant
		if _, err := fmt.Sscan(line, &g.ticket, &g.at); err != nil {
			t.Fatalf("grant line %q: %v", line, err)
		}
		gs = append(gs, g)
	}
	if len(gs) != len(sizes) {
		t.Fatalf("%d admissions, want %d", len(gs), len(sizes))
	}
	// Runs admitted by one ledger update share a timestamp; that update goes
	// through the queue in ticket order, so ties sort by ticket.
	slices.SortFunc(gs, func(a, b grant) int {
		if a.at != b.at {
			return cmp.Compare(a.at, b.at)
		}
		return cmp.Compare(a.ticket, b.ticket)
	})
	for i := 1; i < len(gs); i++ {
		if gs[i].ticket < gs[i-1].ticket {
			t.Errorf("ticket %d admitted after ticket %d: not arrival order", gs[i-1].ticket, gs[i].ticket)
		}
	}

	st := status(t, l)
	if len(st.Entries) != 0 || st.Reserved != 0 || st.Free != total {
		t.Errorf("after all runs: %+v", st)
	}
	if des, _ := os.ReadDir(filepath.Join(dir, "budget", "entries")); len(des) != 0 {
		t.Errorf("%d entry lock files left behind", len(des))
	}
}

// A runner SIGKILLed while holding its reservation (with a container-like
// child still alive) gives the memory back to the run queued behind it.
func TestKilledHolderIsReclaimed(t *testing.T) {
	dir := t.TempDir()
	total := 1024 * mib
	h := startHelper(t, env(dir, total, 768*mib, "holder", "BUDGET_SPAWN", "1"))
	h.expect(t, "acquired", 10*time.Second)
	gc, err := strconv.Atoi(h.expect(t, "grandchild", 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(gc, syscall.SIGKILL) })

	l := open(t, dir, total, 0)
	waiting := make(chan Waiting, 10)
	type result struct {
		r   *Reservation
		err error
	}
	got := make(chan result, 1)
	go func() {
		r, err := l.Acquire(context.Background(), Request{RunID: "next", Bytes: 512 * mib},
			AcquireOptions{Timeout: 20 * time.Second, OnWait: func(w Waiting) { waiting <- w }})
		got <- result{r, err}
	}()
	w := <-waiting
	if w.NeedBytes != 512*mib || w.FreeBytes != 256*mib || w.Ahead != 0 || w.Running != 1 {
		t.Errorf("waiting = %+v", w)
	}

	h.kill(t)
	if syscall.Kill(gc, 0) != nil {
		t.Fatal("grandchild died with the holder; the test would not show that it does not keep the lock")
	}
	killed := time.Now()
	select {
	case res := <-got:
		if res.err != nil {
			t.Fatal(res.err)
		}
		defer res.r.Release()
		// Well under fullCheckInterval: the holder's death itself woke the waiter.
		d := time.Since(killed)
		t.Logf("memory came back %s after the kill", d)
		if d > 600*time.Millisecond {
			t.Errorf("memory came back %s after the kill", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("dead holder's memory was not reclaimed within 5s")
	}
	st := status(t, l)
	if len(st.Entries) != 1 || st.Entries[0].RunID != "next" || st.Reserved != 512*mib {
		t.Errorf("status after reclaim: %+v", st)
	}
}

// A runner SIGKILLed while queued does not hold up the runs behind it.
func TestKilledWaiterDoesNotBlockQueue(t *testing.T) {
	dir := t.TempDir()
	total := 1024 * mib
	l := open(t, dir, total, 0)
	hold := acquire(t, l, "hold", total)

	first := startHelper(t, env(dir, total, 512*mib, "first"))
	if a := first.expect(t, "waiting", 10*time.Second); a != "0" {
		t.Fatalf("first waits behind %s runs", a)
	}
	second := startHelper(t, env(dir, total, 512*mib, "second", "BUDGET_HOLD", "0s"))
	if a := second.expect(t, "waiting", 10*time.Second); a != "1" {
		t.Fatalf("second waits behind %s runs, want 1", a)
	}
	first.kill(t)
	if a := second.expect(t, "waiting", 5*time.Second); a != "0" {
		t.Fatalf("after the first waiter died, second waits behind %s runs", a)
	}
	if err := hold.Release(); err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	second.expect(t, "acquired", 5*time.Second)
	if d := time.Since(released); d > time.Second {
		t.Errorf("second admitted %s after the release", d)
	}
	if err := second.wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := status(t, l); len(st.Entries) != 0 {
		t.Errorf("entries left: %+v", st.Entries)
	}
}

func TestTooLargeFailsAtOnce(t *testing.T) {
	l := open(t, t.TempDir(), 1024*mib, 0)
	start := time.Now()
	_, err := l.Acquire(context.Background(), Request{RunID: "big", Bytes: 2048 * mib}, AcquireOptions{Timeout: time.Minute})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("took %s", d)
	}
	for _, want := range []string{"big", "2.0 GiB", "1.0 GiB", "whole host memory budget"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if st := status(t, l); len(st.Entries) != 0 {
		t.Errorf("too-large request left entries: %+v", st.Entries)
	}
}

func TestNoWaitFailsAtOnceWhenShort(t *testing.T) {
	l := open(t, t.TempDir(), 1024*mib, 0)
	acquire(t, l, "hold", 768*mib)
	start := time.Now()
	_, err := l.Acquire(context.Background(), Request{RunID: "nowait", Bytes: 512 * mib}, AcquireOptions{NoWait: true})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("took %s", d)
	}
	if !strings.Contains(err.Error(), "512 MiB") || !strings.Contains(err.Error(), "256 MiB free") {
		t.Errorf("error %q does not say what was needed and what is free", err)
	}
	if st := status(t, l); len(st.Entries) != 1 {
		t.Errorf("failed NoWait left entries: %+v", st.Entries)
	}

	// With a run queued ahead, NoWait fails even if it would fit: no jumping the queue.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	queued := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx, Request{RunID: "queued", Bytes: 512 * mib},
			AcquireOptions{OnWait: func(Waiting) { once.Do(func() { close(queued) }) }})
		done <- err
	}()
	<-queued
	if _, err := l.Acquire(context.Background(), Request{RunID: "small", Bytes: 64 * mib}, AcquireOptions{NoWait: true}); !errors.Is(err, ErrBusy) {
		t.Errorf("small NoWait behind a queued run: err = %v, want ErrBusy", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: err = %v", err)
	}
	acquire(t, l, "small", 64*mib) // queue empty again: it fits
}

func TestQueueTimeout(t *testing.T) {
	l := open(t, t.TempDir(), 1024*mib, 0)
	acquire(t, l, "hold", 768*mib)
	var seen []Waiting
	start := time.Now()
	_, err := l.Acquire(context.Background(), Request{RunID: "late", Bytes: 512 * mib},
		AcquireOptions{Timeout: 300 * time.Millisecond, OnWait: func(w Waiting) { seen = append(seen, w) }})
	d := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d < 300*time.Millisecond || d > 2*time.Second {
		t.Errorf("timed out after %s, want 300ms", d)
	}
	if !strings.Contains(err.Error(), "late") || !strings.Contains(err.Error(), "512 MiB") {
		t.Errorf("error %q does not say which run and how much", err)
	}
	want := Waiting{NeedBytes: 512 * mib, FreeBytes: 256 * mib, Running: 1}
	if len(seen) != 1 || seen[0] != want {
		t.Errorf("OnWait saw %+v, want once %+v", seen, want)
	}
	if st := status(t, l); len(st.Entries) != 1 {
		t.Errorf("timed-out run left entries: %+v", st.Entries)
	}
}

func TestMaxConcurrent(t *testing.T) {
	l := open(t, t.TempDir(), 1024*mib, 2)
	a := acquire(t, l, "a", 100*mib)
	acquire(t, l, "b", 100*mib)
	var w Waiting
	got := make(chan *Reservation, 1)
	go func() {
		r, err := l.Acquire(context.Background(), Request{RunID: "c", Bytes: 100 * mib},
			AcquireOptions{Timeout: 10 * time.Second, OnWait: func(x Waiting) { w = x }})
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	select {
	case <-got:
		t.Fatal("third run admitted with max concurrent 2")
	case <-time.After(300 * time.Millisecond):
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r == nil {
			t.FailNow()
		}
		defer r.Release()
		if r.Queued() < 300*time.Millisecond {
			t.Errorf("Queued() = %s, want at least 300ms", r.Queued())
		}
		if w.Running != 2 || w.MaxConcurrent != 2 || w.FreeBytes != 824*mib {
			t.Errorf("waiting = %+v", w)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("third run not admitted after a slot freed")
	}
}

// Status has what ps shows, and Release is idempotent.
func TestStatusAndRelease(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 1024*mib, 0)
	before := time.Now()
	r, err := l.Acquire(context.Background(), Request{RunID: "r1", Name: "tap-x", Tenant: "acme", Bytes: 600 * mib, PID: 4242}, AcquireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Queued() != 0 {
		t.Errorf("Queued() = %s for an immediate admission", r.Queued())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	queued := make(chan struct{})
	var once sync.Once
	second := make(chan *Reservation, 1)
	go func() {
		r2, err := l.Acquire(ctx, Request{RunID: "r2", Name: "tap-y", Tenant: "beta", Bytes: 500 * mib},
			AcquireOptions{OnWait: func(Waiting) { once.Do(func() { close(queued) }) }})
		if err != nil {
			t.Error(err)
		}
		second <- r2
	}()
	<-queued

	st := status(t, l)
	if st.Total != 1024*mib || st.Reserved != 600*mib || st.Free != 424*mib || st.Running != 1 || st.Queued != 1 {
		t.Errorf("status totals: %+v", st)
	}
	if len(st.Entries) != 2 {
		t.Fatalf("entries: %+v", st.Entries)
	}
	e1, e2 := st.Entries[0], st.Entries[1]
	if e1.RunID != "r1" || e1.Name != "tap-x" || e1.Tenant != "acme" || e1.State != StateRunning || e1.Bytes != 600*mib || e1.PID != 4242 || e1.Since.Before(before.Add(-time.Second)) {
		t.Errorf("running entry: %+v", e1)
	}
	if e2.RunID != "r2" || e2.State != StateQueued || e2.PID != os.Getpid() || e2.Ticket <= e1.Ticket {
		t.Errorf("queued entry: %+v", e2)
	}

	if err := r.Release(); err != nil {
		t.Fatal(err)
	}
	if err := r.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	// Release admits the next run itself, so the ledger is right before the waiter polls.
	st = status(t, l)
	if len(st.Entries) != 1 || st.Entries[0].RunID != "r2" || st.Entries[0].State != StateRunning {
		t.Errorf("after release: %+v", st.Entries)
	}

	if _, err := l.Acquire(context.Background(), Request{RunID: "r2", Bytes: mib}, AcquireOptions{NoWait: true}); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("duplicate run id: err = %v", err)
	}
	if r2 := <-second; r2 != nil {
		if r2.Queued() <= 0 {
			t.Errorf("Queued() = %s for a run that waited", r2.Queued())
		}
		r2.Release()
	}
}

// A corrupt ledger is refused, naming the file, while live runs hold
// entries (their reservations would be lost), and reset once none do.
func TestCorruptLedger(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 1024*mib, 0)
	r := acquire(t, l, "live", 100*mib)
	file := filepath.Join(dir, "budget", "ledger.json")
	if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := l.Status()
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("Status on a corrupt ledger with a live entry: %v", err)
	}
	if err := r.Release(); err == nil {
		t.Error("Release on a corrupt ledger reported success")
	}
	// The entry's lock is gone now, so nobody can lose a reservation: reset.
	st := status(t, l)
	if len(st.Entries) != 0 || st.Free != 1024*mib {
		t.Errorf("after reset: %+v", st)
	}
	if _, err := os.Stat(file + ".corrupt"); err != nil {
		t.Errorf("corrupt ledger not kept for inspection: %v", err)
	}
	acquire(t, l, "after", 100*mib)
}

func TestOpenValidates(t *testing.T) {
	if _, err := Open(t.TempDir(), 0, 0); err == nil {
		t.Error("zero budget accepted")
	}
	if _, err := Open(t.TempDir(), mib, -1); err == nil {
		t.Error("negative max concurrent accepted")
	}
}

func TestDefaultBudget(t *testing.T) {
	n, err := memTotal(strings.NewReader("MemFree:  100 kB\nMemTotal:       24684092 kB\n"))
	if err != nil || n != 24684092*1024 {
		t.Errorf("memTotal = %d, %v", n, err)
	}
	if _, err := memTotal(strings.NewReader("MemFree: 1 kB\n")); err == nil {
		t.Error("meminfo without MemTotal accepted")
	}
	gib := int64(1) << 30
	for _, c := range []struct{ mem, want int64 }{
		{4 * gib, 3 * gib}, // 1 GiB reserve
		{64 * gib, 64*gib - int64(0.1*float64(64*gib))}, // 10% reserve
	} {
		if got, err := budgetFor(c.mem); err != nil || got != c.want {
			t.Errorf("budgetFor(%d) = %d, %v; want %d", c.mem, got, err, c.want)
		}
	}
	if _, err := budgetFor(gib); err == nil {
		t.Error("a 1 GiB machine got a budget")
	}

	got, err := DefaultBudget()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	mem, err := memTotal(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if got <= 0 || got >= mem-MinReserve+1 {
		t.Errorf("DefaultBudget() = %d on a machine with %d", got, mem)
	}
}

// One tenant's OOM storm (retries reserving more and more) used to take
// the whole budget and put every other tenant behind it. With a tenant
// share, the storm's extra request waits for its own runs, and another
// tenant's run starts at once.
func TestTenantShareKeepsOneTenantFromRefusingTheOthers(t *testing.T) {
	l := open(t, t.TempDir(), 1024*mib, 0)
	if err := l.SetTenantBudget(512 * mib); err != nil {
		t.Fatal(err)
	}
	storm, err := l.Acquire(context.Background(), Request{RunID: "storm-a1", Tenant: "storm", Bytes: 512 * mib}, AcquireOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	defer storm.Release()
	// The storm's retry asks for more: over its share, it waits.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	queued := make(chan struct{})
	var once sync.Once
	retry := make(chan error, 1)
	go func() {
		r, err := l.Acquire(ctx, Request{RunID: "storm-a2", Tenant: "storm", Bytes: 384 * mib},
			AcquireOptions{OnWait: func(Waiting) { once.Do(func() { close(queued) }) }})
		if r != nil {
			r.Release()
		}
		retry <- err
	}()
	select {
	case <-queued:
	case err := <-retry:
		t.Fatalf("the storm's retry was admitted beyond its tenant share (err %v)", err)
	}
	// Another tenant, arriving after the storm's retry, fits the machine: it starts now.
	calm, err := l.Acquire(context.Background(), Request{RunID: "calm", Tenant: "calm", Bytes: 384 * mib}, AcquireOptions{NoWait: true})
	if err != nil {
		t.Fatalf("another tenant was refused behind the storm: %v", err)
	}
	calm.Release()
	// A request larger than the share can never run.
	if _, err := l.Acquire(context.Background(), Request{RunID: "storm-big", Tenant: "storm", Bytes: 600 * mib},
		AcquireOptions{NoWait: true}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "share") {
		t.Errorf("over the tenant share: %v, want ErrTooLarge naming the share", err)
	}
	// The storm's retry starts once its own first attempt is gone.
	storm.Release()
	select {
	case err := <-retry:
		if err != nil {
			t.Errorf("the storm's retry: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the storm's retry was not admitted after its first attempt ended")
	}
	if err := l.SetTenantBudget(2048 * mib); err == nil {
		t.Error("a tenant share above the host budget was accepted")
	}
}
