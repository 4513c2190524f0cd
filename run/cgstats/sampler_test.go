package cgstats

import (
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"syncbox/run/cgroup"
)

// A day of 100 ms samples must stay within MaxPoints, in time order, and
// keep a one-sample spike.
func TestTimelineBoundedAndKeepsSpike(t *testing.T) {
	s := NewSampler(nil, 100*time.Millisecond)
	const n = 24 * 60 * 60 * 10
	const spikeAt = 654321
	for i := range n {
		usage := 100*mib + int64(i)
		if i == spikeAt {
			usage = 900 * mib
		}
		s.add(time.Duration(i)*100*time.Millisecond, usage, 3)
		if len(s.tl.Points) > MaxPoints {
			t.Fatalf("after %d samples the timeline has %d points", i+1, len(s.tl.Points))
		}
	}
	tl := s.tl
	if len(tl.Points) < MaxPoints/2 {
		t.Errorf("only %d points kept; merging should leave at least half of %d", len(tl.Points), MaxPoints)
	}
	found := false
	for i, p := range tl.Points {
		if i > 0 && p.Seconds <= tl.Points[i-1].Seconds {
			t.Fatalf("points out of order at %d: %v after %v", i, p, tl.Points[i-1])
		}
		if p.Bytes == 900*mib {
			found = true
			if want := float64(spikeAt) / 10; p.Seconds != want {
				t.Errorf("spike at %.1fs; want its own time %.1fs", p.Seconds, want)
			}
		}
	}
	if !found {
		t.Error("the 900 MiB spike was lost in downsampling")
	}
	if tl.MaxUsageBytes != 900*mib || tl.MaxPids != 3 {
		t.Errorf("max usage %d, max pids %d", tl.MaxUsageBytes, tl.MaxPids)
	}
	if tl.Interval < 24*time.Hour/MaxPoints {
		t.Errorf("interval %v cannot cover a day in %d points", tl.Interval, MaxPoints)
	}
}

func TestPointJSONIsAPair(t *testing.T) {
	b, err := json.Marshal([]Point{{Seconds: 1.23456, Bytes: 1 << 40}})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "[[1.235,1099511627776]]" {
		t.Errorf("got %s", b)
	}
	var back []Point
	if err := json.Unmarshal(b, &back); err != nil || back[0].Bytes != 1<<40 || back[0].Seconds != 1.235 {
		t.Errorf("round trip: %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`[["x",1]]`), &back); err == nil {
		t.Error("accepted a non-numeric point")
	}
}

// The sampler reads real files that change under it, as a cgroup's do.
func TestSamplerFollowsUsageFile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "memory.current", "1000\n")
	write(t, dir, "pids.current", "2\n")
	s := NewSampler(cgroup.NewV2(dir), 10*time.Millisecond)
	s.Start()
	s.Start() // harmless
	var wg sync.WaitGroup
	wg.Go(func() { // concurrent readers, for -race
		for range 50 {
			_ = s.Last()
			_ = s.Peak()
			time.Sleep(time.Millisecond)
		}
	})
	waitFor(t, func() bool { return s.Last().Bytes == 1000 })
	write(t, dir, "memory.current", strconv.Itoa(5000)+"\n")
	write(t, dir, "pids.current", "7\n")
	waitFor(t, func() bool { return s.Peak() == 5000 })
	write(t, dir, "memory.current", "3000\n")
	waitFor(t, func() bool { return s.Last().Bytes == 3000 })
	wg.Wait()
	tl := s.Stop()
	if tl.MaxUsageBytes != 5000 || tl.MaxPids != 7 || s.PeakPids() != 7 {
		t.Errorf("max usage %d pids %d; want 5000 and 7", tl.MaxUsageBytes, tl.MaxPids)
	}
	if len(tl.Points) < 2 || tl.Samples < 3 || tl.ReadErrors != 0 || tl.Duration <= 0 {
		t.Errorf("timeline %+v", tl)
	}
	if again := s.Stop(); again.Samples != tl.Samples {
		t.Error("a second Stop sampled again")
	}
}

func TestSamplerCountsErrorsAfterCgroupGoes(t *testing.T) {
	s := NewSampler(cgroup.NewV2(t.TempDir()), time.Millisecond)
	s.Start()
	time.Sleep(5 * time.Millisecond)
	tl := s.Stop()
	if tl.ReadErrors == 0 || tl.LastErr == nil || len(tl.Points) != 0 {
		t.Errorf("reading a missing cgroup: %+v", tl)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSamplerStopBeforeStart(t *testing.T) {
	s := NewSampler(cgroup.NewV2(t.TempDir()), time.Millisecond)
	if tl := s.Stop(); tl.Samples != 0 {
		t.Errorf("Stop without Start sampled: %+v", tl)
	}
	s.Start() // must not leave a goroutine sampling forever
	time.Sleep(5 * time.Millisecond)
	if s.Stop().Samples != 0 {
		t.Error("Start after Stop started sampling")
	}
}
