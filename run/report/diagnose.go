package report

import (
	"fmt"
	"strings"

	"github.com/dustin/go-humanize"

	"syncbox/limits"
	"syncbox/run/cgstats"
)

// Growth is how memory rose before an OOM kill: it tells a person whether
// the connector accumulates (more memory fixes it for now; checkpoint more
// often for good) or hits one huge value or batch (more memory, or a
// smaller value, fixes it).
type Growth string

// Growth values. Unknown is a timeline that shows no climb at all (fewer
// than 3 points, or flat): calling that a spike would claim what no sample
// saw.
const (
	GrowthSteady  Growth = "steady"
	GrowthSpike   Growth = "spike"
	GrowthUnknown Growth = "unknown"
)

// Thresholds of the growth rule; see classifyGrowth.
const (
	lateWindow   = 0.2 // the last 20% of the run's sampled time
	spikeShare   = 0.5 // more than half the growth
	minGrowthPts = 3   // fewer points cannot show a climb
)

// InFlight is a value that was being streamed when the connector died.
type InFlight struct {
	FieldPath string `json:"field_path"`
	Bytes     int64  `json:"bytes"`
}

// OOM is the diagnosis of an OOM kill, the report's "oom" object.
type OOM struct {
	// Container is "target" when a pipeline's target was killed; empty
	// for the connector (the tap).
	Container             string    `json:"container,omitempty"`
	Stream                string    `json:"stream,omitempty"`      // in flight while memory grew; empty: before the first record
	LastStream            string    `json:"last_stream,omitempty"` // the last stream read, when it is another one
	RecordsSinceState     int64     `json:"records_since_state"`
	BytesSinceState       int64     `json:"bytes_since_state"`
	LargestInFlight       *InFlight `json:"largest_in_flight,omitempty"`
	Growth                Growth    `json:"growth"`
	RecommendedLimitBytes int64     `json:"recommended_limit_bytes"`
	Explanation           string    `json:"explanation"`
}

// DiagnoseInput is what Diagnose needs to know about an OOM-killed run.
type DiagnoseInput struct {
	LimitBytes int64 // the limit the run had; 0 if none (killed by the host's OOM killer)
	PeakBytes  int64 // highest usage seen (kernel high-water mark or sampled)
	Timeline   []cgstats.Point
	Stream     string // the stream being read when the connector died
	// Streams says which stream was being read when, as the run went:
	// the diagnosis names the one in flight while memory grew, which is
	// not always the last one read.
	Streams []StreamSpan
	// Records and bytes emitted since the last STATE message: the work a
	// retry will redo, and what the connector may be holding in memory.
	RecordsSinceState int64
	BytesSinceState   int64
	InFlight          *InFlight // a value being streamed at the time, if any
	// Target says the killed container was a pipeline's target: the
	// sentence names it and its own flag, --target-memory.
	Target bool
}

// StreamSpan: from Seconds into the run on, Stream was being read.
type StreamSpan struct {
	Seconds float64
	Stream  string
}

// growthStream is the stream being read at the steepest rise of the
// timeline (where the memory went), or "" when that cannot be told.
func growthStream(tl []cgstats.Point, spans []StreamSpan) string {
	if len(tl) < 2 || len(spans) == 0 {
		return ""
	}
	best, at := int64(0), -1.0
	for i := 1; i < len(tl); i++ {
		if d := tl[i].Bytes - tl[i-1].Bytes; d > best {
			best, at = d, tl[i].Seconds
		}
	}
	if at < 0 {
		return ""
	}
	name := ""
	for _, sp := range spans {
		if sp.Seconds > at {
			break
		}
		name = sp.Stream
	}
	return name
}

// Diagnose explains an OOM kill and recommends a limit. It is pure: the
// same input always gives the same diagnosis.
func Diagnose(in DiagnoseInput) *OOM {
	// The killed cgroup really reached its limit even if sampling missed
	// the last climb, so the bump starts from whichever is higher.
	rec := limits.OOMBump(max(in.PeakBytes, in.LimitBytes))
	o := &OOM{
		Stream:                in.Stream,
		LastStream:            in.Stream,
		RecordsSinceState:     in.RecordsSinceState,
		BytesSinceState:       in.BytesSinceState,
		Growth:                classifyGrowth(in.Timeline),
		RecommendedLimitBytes: rec,
	}
	if in.InFlight != nil {
		v := *in.InFlight
		o.LargestInFlight = &v
	}
	if g := growthStream(in.Timeline, in.Streams); g != "" && in.InFlight == nil {
		o.Stream = g // where the memory went, not merely the last stream read
	}
	if o.LastStream == o.Stream {
		o.LastStream = ""
	}
	o.Explanation = explain(in, o)
	return o
}

// classifyGrowth reads the shape of the usage timeline before the kill.
// With G the rise from the first point to the highest point, it is a spike
// unknown if the timeline has fewer than 3 points or no rise at all (the
// climb happened before the first sample), and otherwise a spike if
//   - one step between consecutive points is at least half of G (one jump), or
//   - more than half of G came in the last 20% of the sampled time;
//
// otherwise memory climbed roughly in proportion to time, and it is steady.
func classifyGrowth(tl []cgstats.Point) Growth {
	if len(tl) < minGrowthPts {
		return GrowthUnknown
	}
	first, last := tl[0], tl[len(tl)-1]
	peak, maxJump := first.Bytes, int64(0)
	for i, p := range tl {
		peak = max(peak, p.Bytes)
		if i > 0 {
			maxJump = max(maxJump, p.Bytes-tl[i-1].Bytes)
		}
	}
	growth := peak - first.Bytes
	if growth <= 0 {
		return GrowthUnknown
	}
	if float64(maxJump) >= spikeShare*float64(growth) {
		return GrowthSpike
	}
	cut := first.Seconds + (1-lateWindow)*(last.Seconds-first.Seconds)
	before := first.Bytes
	for _, p := range tl {
		if p.Seconds > cut {
			break
		}
		before = max(before, p.Bytes)
	}
	if float64(peak-before) > spikeShare*float64(growth) {
		return GrowthSpike
	}
	return GrowthSteady
}

// explain writes the one sentence a person reads to decide what to do.
func explain(in DiagnoseInput, o *OOM) string {
	var b strings.Builder
	who, flag := "The connector", "--memory"
	if in.Target {
		who, flag = "The target", "--target-memory"
	}
	if in.LimitBytes > 0 {
		fmt.Fprintf(&b, "%s used its whole %s limit and was killed", who, readableSize(in.LimitBytes))
	} else {
		fmt.Fprintf(&b, "%s ran the machine out of memory at %s and was killed", who, readableSize(in.PeakBytes))
	}
	if in.Target {
		fmt.Fprintf(&b, " loading the records it was sent; rerun with %s %s or %s auto.", flag, FlagSize(o.RecommendedLimitBytes), flag)
		return b.String()
	}
	switch {
	case o.LargestInFlight != nil && in.Stream != "":
		fmt.Fprintf(&b, " while streaming a %s value at %q in stream %q", readableSize(o.LargestInFlight.Bytes), o.LargestInFlight.FieldPath, in.Stream)
	case o.LargestInFlight != nil:
		fmt.Fprintf(&b, " while streaming a %s value at %q", readableSize(o.LargestInFlight.Bytes), o.LargestInFlight.FieldPath)
	case o.Stream != "" && o.LastStream != "":
		fmt.Fprintf(&b, " after memory grew while stream %q was being read (the last record read was from %q)", o.Stream, o.LastStream)
	case o.Stream != "":
		fmt.Fprintf(&b, " while reading stream %q", o.Stream)
	default:
		b.WriteString(" before it emitted any record")
	}
	b.WriteString(" (")
	switch {
	case in.RecordsSinceState == 0:
		b.WriteString("no records since the last checkpoint")
	case in.RecordsSinceState == 1:
		fmt.Fprintf(&b, "1 record of %s since the last checkpoint", humanize.Bytes(uint64(max(in.BytesSinceState, 0))))
	default:
		fmt.Fprintf(&b, "%s records, %s, since the last checkpoint", humanize.Comma(in.RecordsSinceState), humanize.Bytes(uint64(max(in.BytesSinceState, 0))))
	}
	switch o.Growth {
	case GrowthSteady:
		b.WriteString("; memory grew steadily")
	case GrowthSpike:
		b.WriteString("; memory jumped suddenly")
	}
	fmt.Fprintf(&b, "); rerun with --memory %s or --memory auto.", FlagSize(o.RecommendedLimitBytes))
	return b.String()
}

// FlagSize writes n the way the --memory flag takes it, exactly ("400MiB",
// "2GiB"), unlike limits.FormatSize which rounds for reading.
func FlagSize(n int64) string {
	const mib, gib = int64(1) << 20, int64(1) << 30
	switch {
	case n > 0 && n%gib == 0:
		return fmt.Sprintf("%dGiB", n/gib)
	case n > 0 && n%mib == 0:
		return fmt.Sprintf("%dMiB", n/mib)
	}
	return fmt.Sprintf("%d", n)
}

// readableSize prints round sizes exactly ("1 GiB", not "1.0 GiB") and
// others as limits.FormatSize does.
func readableSize(n int64) string {
	const mib, gib = int64(1) << 20, int64(1) << 30
	switch {
	case n > 0 && n%gib == 0:
		return fmt.Sprintf("%d GiB", n/gib)
	case n > 0 && n < gib && n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	}
	return limits.FormatSize(n)
}
