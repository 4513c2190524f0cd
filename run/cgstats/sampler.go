// Package cgstats samples a run's cgroup memory usage (and task count)
// over the run into a bounded timeline, so syncbox can report how memory
// grew and why a connector was OOM-killed. The timeline's policy (how
// often, how many points, what survives merging) is here; what the kernel's
// files hold and where they are is package cgroup's, read through
// cgroup.Cgroup like everything else that reads a run's figures.
//
// It only reads; it never creates, changes or removes a cgroup.
package cgstats

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"syncbox/run/cgroup"
)

// MaxPoints bounds a Timeline so a report stays small for any run length.
const MaxPoints = 200

// Point is memory usage at a time since the sampler started. It encodes as
// the JSON pair [seconds, bytes] the report uses.
type Point struct {
	Seconds float64
	Bytes   int64
}

// MarshalJSON encodes p as [seconds, bytes], seconds to the millisecond.
func (p Point) MarshalJSON() ([]byte, error) {
	ms := float64(int64(p.Seconds*1000+0.5)) / 1000
	return json.Marshal([2]any{ms, p.Bytes})
}

// UnmarshalJSON decodes [seconds, bytes].
func (p *Point) UnmarshalJSON(b []byte) error {
	var pair [2]json.Number
	if err := json.Unmarshal(b, &pair); err != nil {
		return fmt.Errorf("timeline point %s: want [seconds, bytes]: %w", b, err)
	}
	s, err := pair[0].Float64()
	if err != nil {
		return fmt.Errorf("timeline point %s: seconds: %w", b, err)
	}
	n, err := pair[1].Int64()
	if err != nil {
		return fmt.Errorf("timeline point %s: bytes: %w", b, err)
	}
	p.Seconds, p.Bytes = s, n
	return nil
}

// Timeline is what a Sampler saw over a run.
type Timeline struct {
	// Points holds at most MaxPoints points. Each is the highest sample in
	// its time bucket (at that sample's own time), so a spike between
	// points is never averaged away.
	Points []Point
	// Interval is the final bucket width; it doubles each time the
	// timeline fills up.
	Interval time.Duration
	// MaxUsageBytes and MaxPids are the highest values sampled. The kernel's
	// own high-water marks (Sample.PeakBytes) are at least as high.
	MaxUsageBytes int64
	MaxPids       int64
	Samples       int
	Duration      time.Duration
	// ReadErrors counts failed samples: expected once the cgroup is removed
	// at the end of a run, so they do not stop the sampler.
	ReadErrors int
	LastErr    error
}

// Sampler reads a cgroup's memory usage (and task count) in its own
// goroutine, from Start until Stop: every FastInterval while the run is
// young, then ever less often (a five-hundredth of its age) up to the
// interval given to NewSampler. A connector that allocates fast is OOM-killed
// within 0.1 s; sampled only every 100 ms, its timeline was one point and
// none of the growth.
type Sampler struct {
	r     *cgroup.Cgroup
	every time.Duration

	mu       sync.Mutex
	start    time.Time
	last     Point
	tl       Timeline
	buckets  []int64 // bucket index of each point in tl.Points
	started  bool
	stopped  bool
	stopCh   chan struct{}
	finished chan struct{}
}

// FastInterval is how often a young run is sampled. A sample reads two
// small cgroup files: 65 µs measured on a container's v1 cgroup on a loaded
// 2-core host, so this rate costs the runner about 3% of a core for the
// first second, 0.7% at 5 s, and 0.07% from 50 s on (every 100 ms).
const FastInterval = 2 * time.Millisecond

// NewSampler returns a Sampler whose samples come at most every interval
// (100 ms if every is not positive) once the run is old enough.
func NewSampler(r *cgroup.Cgroup, every time.Duration) *Sampler {
	if every <= 0 {
		every = 100 * time.Millisecond
	}
	return &Sampler{
		r:        r,
		every:    every,
		tl:       Timeline{Interval: min(FastInterval, every), Points: make([]Point, 0, MaxPoints)},
		buckets:  make([]int64, 0, MaxPoints),
		stopCh:   make(chan struct{}),
		finished: make(chan struct{}),
	}
}

// period is the wait before the next sample at a run's age: FastInterval
// for the first second, then age/500 (10 ms at 5 s), never above every.
func (s *Sampler) period(age time.Duration) time.Duration {
	return min(max(age/500, FastInterval), s.every)
}

// Start takes a first sample at once, then samples until Stop. Calling it
// again, or after Stop, does nothing.
func (s *Sampler) Start() {
	s.mu.Lock()
	if s.started || s.stopped {
		s.mu.Unlock()
		return
	}
	s.started = true
	s.start = time.Now()
	s.mu.Unlock()
	go s.loop()
}

func (s *Sampler) loop() {
	defer close(s.finished)
	s.sample()
	t := time.NewTimer(s.period(0))
	defer t.Stop()
	for {
		select {
		case <-s.stopCh:
			return
		case <-t.C:
			s.sample()
			t.Reset(s.period(time.Since(s.start)))
		}
	}
}

// Stop takes a last sample, stops sampling and returns the timeline. It may
// be called more than once, and without Start.
func (s *Sampler) Stop() Timeline {
	s.mu.Lock()
	started, stopped := s.started, s.stopped
	s.stopped = true
	s.mu.Unlock()
	if started && !stopped {
		close(s.stopCh)
		<-s.finished
		s.final()
		s.mu.Lock()
		s.tl.Duration = time.Since(s.start)
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tl := s.tl
	tl.Points = append([]Point(nil), s.tl.Points...)
	return tl
}

// Last returns the most recent usage sample.
func (s *Sampler) Last() Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Peak returns the highest usage sampled so far.
func (s *Sampler) Peak() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tl.MaxUsageBytes
}

// PeakPids returns the highest task count sampled so far.
func (s *Sampler) PeakPids() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tl.MaxPids
}

// final takes the last sample. After an OOM kill the usage drops while the
// kernel reclaims the killed processes' memory, so the timeline would end
// low, as if the connector had died of something else, and a classifier
// would see the fall and the kill as a jump. So for an OOM kill the samples
// after the highest one (the reclaim) are dropped and the timeline ends at
// the kernel's high-water mark, the usage at the moment of death, timed at
// the first sample that saw the fall (the kill came before it).
func (s *Sampler) final() {
	s.sample()
	if s.r == nil {
		return
	}
	smp, err := s.r.Read()
	if err != nil || smp.OOMKills == 0 {
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	peak := max(smp.PeakBytes, s.tl.MaxUsageBytes)
	death := now.Sub(s.start)
	if pts := s.tl.Points; len(pts) > 0 {
		top := 0
		for k, p := range pts {
			if p.Bytes >= pts[top].Bytes {
				top = k
			}
		}
		if top+1 < len(pts) {
			death = time.Duration(pts[top+1].Seconds * float64(time.Second))
		}
		s.tl.Points, s.buckets = pts[:top+1], s.buckets[:top+1]
	}
	s.add(death, peak, smp.PidsCurrent)
}

// sample reads outside the lock so Last and Peak never wait on a file read.
func (s *Sampler) sample() {
	usage, err := s.r.ReadUsage()
	var pids int64
	if err == nil {
		pids, err = s.r.ReadPids()
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tl.Samples++
	if err != nil {
		s.tl.ReadErrors++
		s.tl.LastErr = err
		return
	}
	s.add(now.Sub(s.start), usage, pids)
}

// add records one sample; the caller holds s.mu.
func (s *Sampler) add(at time.Duration, usage, pids int64) {
	p := Point{Seconds: at.Seconds(), Bytes: usage}
	s.last = p
	s.tl.MaxUsageBytes = max(s.tl.MaxUsageBytes, usage)
	s.tl.MaxPids = max(s.tl.MaxPids, pids)

	b := int64(at / s.tl.Interval)
	if n := len(s.buckets); n > 0 && s.buckets[n-1] == b {
		if usage > s.tl.Points[n-1].Bytes {
			s.tl.Points[n-1] = p
		}
		return
	}
	for len(s.tl.Points) >= MaxPoints {
		s.halve()
		b = int64(at / s.tl.Interval)
		if n := len(s.buckets); n > 0 && s.buckets[n-1] == b {
			if usage > s.tl.Points[n-1].Bytes {
				s.tl.Points[n-1] = p
			}
			return
		}
	}
	s.tl.Points = append(s.tl.Points, p)
	s.buckets = append(s.buckets, b)
}

// halve doubles the bucket width and merges points that now share a bucket,
// keeping the higher one, so memory stays bounded and peaks survive.
func (s *Sampler) halve() {
	s.tl.Interval *= 2
	out := 0
	for i, p := range s.tl.Points {
		b := s.buckets[i] / 2
		if out > 0 && s.buckets[out-1] == b {
			if p.Bytes > s.tl.Points[out-1].Bytes {
				s.tl.Points[out-1] = p
			}
			continue
		}
		s.tl.Points[out] = p
		s.buckets[out] = b
		out++
	}
	s.tl.Points = s.tl.Points[:out]
	s.buckets = s.buckets[:out]
}
