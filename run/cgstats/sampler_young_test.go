package cgstats

import (
	"strconv"
	"testing"
	"time"

	"syncbox/run/cgroup"
)

// A connector that grows for 100 ms and dies: sampled every 100 ms this
// left one point. The young run is sampled every few ms, so the growth is
// there to see, in order, within MaxPoints.
func TestAYoungRunIsSampledFastEnoughToShowGrowthWithin100ms(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "memory.current", "0\n")
	s := NewSampler(cgroup.NewV2(dir), 100*time.Millisecond)
	s.Start()
	start := time.Now()
	for time.Since(start) < 100*time.Millisecond {
		write(t, dir, "memory.current", strconv.FormatInt(int64(time.Since(start)/time.Millisecond)*mib, 10)+"\n")
		time.Sleep(500 * time.Microsecond)
	}
	tl := s.Stop()
	if len(tl.Points) < 10 {
		t.Fatalf("%d points in 100 ms of growth, want at least 10: %v", len(tl.Points), tl.Points)
	}
	// Count the climb, not the share of rising steps: on a loaded machine
	// the writer above is descheduled for stretches, and the samples taken
	// meanwhile see a flat line that is really there.
	rises := 0
	for i := 1; i < len(tl.Points); i++ {
		if tl.Points[i].Bytes > tl.Points[i-1].Bytes {
			rises++
		}
	}
	if rises < 8 {
		t.Errorf("only %d of %d steps rise in a steadily growing run, want at least 8: %v", rises, len(tl.Points), tl.Points)
	}
}

// The tick slows as the run ages, so a long run is not read 500 times a
// second, and never below the interval asked for.
func TestSamplingSlowsWithAgeUpToTheInterval(t *testing.T) {
	s := NewSampler(nil, 100*time.Millisecond)
	for age, want := range map[time.Duration]time.Duration{
		0: FastInterval, 500 * time.Millisecond: FastInterval, 5 * time.Second: 10 * time.Millisecond,
		time.Minute: 100 * time.Millisecond, time.Hour: 100 * time.Millisecond,
	} {
		if got := s.period(age); got != want {
			t.Errorf("period at %v = %v, want %v", age, got, want)
		}
	}
}

// After an OOM kill memory.current has dropped; the timeline still ends at
// the kernel's high-water mark, the usage the connector died at.
func TestTimelineEndsAtThePeakWhenOOMKilled(t *testing.T) {
	for _, killed := range []bool{true, false} {
		dir := t.TempDir()
		for name, v := range map[string]string{"memory.current": "40000000\n", "memory.peak": "0\n", "memory.max": "67108864\n",
			"memory.stat": "anon 1\n", "memory.events": "oom 0\noom_kill 0\n", "cpu.stat": "usage_usec 1\n", "pids.current": "1\n"} {
			write(t, dir, name, v)
		}
		s := NewSampler(cgroup.NewV2(dir), 100*time.Millisecond)
		s.Start()
		waitFor(t, func() bool { return s.Peak() == 40000000 })
		// Death: usage freed, the kernel's high-water mark at the limit.
		write(t, dir, "memory.current", "300000\n")
		waitFor(t, func() bool { return s.Last().Bytes == 300000 })
		write(t, dir, "memory.peak", "67108864\n")
		if killed {
			write(t, dir, "memory.events", "oom 1\noom_kill 1\n")
		}
		time.Sleep(5 * time.Millisecond)
		tl := s.Stop()
		last := tl.Points[len(tl.Points)-1]
		if killed && last.Bytes != 67108864 {
			t.Errorf("OOM-killed: timeline ends at %d, want the peak 67108864: %v", last.Bytes, tl.Points)
		}
		if killed {
			// The reclaim after the kill is not connector behaviour.
			for _, p := range tl.Points {
				if p.Bytes == 300000 {
					t.Errorf("OOM-killed: the post-mortem fall is in the timeline: %v", tl.Points)
				}
			}
		}
		if !killed && last.Bytes != 300000 {
			t.Errorf("not killed: timeline ends at %d, want the last usage 300000", last.Bytes)
		}
	}
}
