package report

import (
	"reflect"
	"strings"
	"testing"

	"syncbox/limits"
	"syncbox/run/cgstats"
)

const mib = int64(1) << 20

// line builds n points from 0 to dur seconds with usage from(t).
func line(n int, dur float64, from func(frac float64) int64) []cgstats.Point {
	pts := make([]cgstats.Point, n)
	for i := range pts {
		f := float64(i) / float64(n-1)
		pts[i] = cgstats.Point{Seconds: f * dur, Bytes: from(f)}
	}
	return pts
}

func linear(lo, hi int64) func(float64) int64 {
	return func(f float64) int64 { return lo + int64(f*float64(hi-lo)) }
}

func TestClassifyGrowth(t *testing.T) {
	cases := []struct {
		name string
		tl   []cgstats.Point
		want Growth
	}{
		{"linear climb to the limit", line(200, 600, linear(20*mib, 256*mib)), GrowthSteady},
		{"linear climb, short run", line(12, 1.2, linear(5*mib, 64*mib)), GrowthSteady},
		{"noisy sawtooth climb", line(100, 60, func(f float64) int64 {
			return 30*mib + int64(f*200*float64(mib)) + int64(int(f*100)%3)*mib
		}), GrowthSteady},
		{"flat then climbs in the last 15%", line(100, 100, func(f float64) int64 {
			if f < 0.85 {
				return 50 * mib
			}
			return 50*mib + int64((f-0.85)/0.15*206*float64(mib))
		}), GrowthSpike},
		{"one jump mid-run", line(100, 100, func(f float64) int64 {
			if f < 0.5 {
				return 40 * mib
			}
			return 250 * mib
		}), GrowthSpike},
		{"two samples", line(2, 0.1, linear(1*mib, 64*mib)), GrowthUnknown},
		{"no points", nil, GrowthUnknown},
		{"flat: the rise was never sampled", line(50, 5, linear(64*mib, 64*mib)), GrowthUnknown},
	}
	for _, c := range cases {
		if got := classifyGrowth(c.tl); got != c.want {
			t.Errorf("%s: growth %q; want %q", c.name, got, c.want)
		}
	}
}

func TestDiagnose(t *testing.T) {
	steady := line(200, 600, linear(20*mib, 256*mib))
	cases := []struct {
		name    string
		in      DiagnoseInput
		growth  Growth
		rec     int64
		mention []string
	}{
		{
			name: "steady accumulation",
			in: DiagnoseInput{LimitBytes: 256 * mib, PeakBytes: 256 * mib, Timeline: steady,
				Stream: "orders", RecordsSinceState: 12000, BytesSinceState: 34_000_000},
			growth: GrowthSteady,
			rec:    368 * mib, // 256+100 MiB, rounded up to 16 MiB
			mention: []string{`The connector used its whole 256 MiB limit`, `stream "orders"`,
				"12,000 records, 34 MB, since the last checkpoint", "grew steadily", "--memory 368MiB or --memory auto."},
		},
		{
			name: "a huge value in flight",
			in: DiagnoseInput{LimitBytes: 1 << 30, PeakBytes: 1 << 30,
				Timeline: line(100, 50, func(f float64) int64 {
					if f < 0.9 {
						return 100 * mib
					}
					return 1 << 30
				}),
				Stream: "documents", RecordsSinceState: 1, BytesSinceState: 2048,
				InFlight: &InFlight{FieldPath: "body.attachment", Bytes: 700 * mib}},
			growth: GrowthSpike,
			rec:    1280 * mib, // 1.2 GiB, rounded up to 64 MiB
			mention: []string{"1 GiB limit", `700 MiB value at "body.attachment" in stream "documents"`,
				"1 record of 2.0 kB", "jumped suddenly", "--memory 1280MiB"},
		},
		{
			name: "sampling missed the last climb: recommend from the limit",
			in: DiagnoseInput{LimitBytes: 512 * mib, PeakBytes: 300 * mib, Timeline: steady[:50],
				Stream: "users"},
			growth:  GrowthSteady,
			rec:     limits.OOMBump(512 * mib),
			mention: []string{"512 MiB limit", `"users"`, "no records since the last checkpoint"},
		},
		{
			name:    "killed before any record, no limit",
			in:      DiagnoseInput{PeakBytes: 3 << 30},
			growth:  GrowthUnknown,
			rec:     limits.OOMBump(3 << 30),
			mention: []string{"ran the machine out of memory at 3 GiB", "before it emitted any record", "--memory 3712MiB"},
		},
	}
	for _, c := range cases {
		got := Diagnose(c.in)
		if got.Growth != c.growth {
			t.Errorf("%s: growth %q; want %q", c.name, got.Growth, c.growth)
		}
		if got.RecommendedLimitBytes != c.rec {
			t.Errorf("%s: recommended %d MiB; want %d MiB", c.name, got.RecommendedLimitBytes>>20, c.rec>>20)
		}
		if got.RecommendedLimitBytes <= c.in.LimitBytes || got.RecommendedLimitBytes <= c.in.PeakBytes {
			t.Errorf("%s: recommended %d is not above limit %d and peak %d", c.name, got.RecommendedLimitBytes, c.in.LimitBytes, c.in.PeakBytes)
		}
		for _, m := range c.mention {
			if !strings.Contains(got.Explanation, m) {
				t.Errorf("%s: explanation %q does not mention %q", c.name, got.Explanation, m)
			}
		}
		if strings.Count(got.Explanation, ". ") > 0 || !strings.HasSuffix(got.Explanation, ".") {
			t.Errorf("%s: explanation is not one sentence: %q", c.name, got.Explanation)
		}
		if got.Stream != c.in.Stream || got.RecordsSinceState != c.in.RecordsSinceState || got.BytesSinceState != c.in.BytesSinceState {
			t.Errorf("%s: context not carried: %+v", c.name, got)
		}
		if !reflect.DeepEqual(got, Diagnose(c.in)) {
			t.Errorf("%s: Diagnose is not deterministic", c.name)
		}
	}
}

func TestDiagnoseCopiesInFlight(t *testing.T) {
	in := &InFlight{FieldPath: "a", Bytes: 1}
	o := Diagnose(DiagnoseInput{LimitBytes: 64 * mib, InFlight: in})
	in.Bytes = 99
	if o.LargestInFlight.Bytes != 1 {
		t.Error("the diagnosis shares the caller's InFlight")
	}
}

func TestFlagSize(t *testing.T) {
	for n, want := range map[int64]string{400 * mib: "400MiB", 2 << 30: "2GiB", 1280 * mib: "1280MiB", 1000: "1000"} {
		if got := FlagSize(n); got != want {
			t.Errorf("FlagSize(%d) = %q; want %q", n, got, want)
		}
		if n >= mib {
			if back, err := limits.ParseSize(FlagSize(n)); err != nil || back != n {
				t.Errorf("ParseSize(FlagSize(%d)) = %d, %v", n, back, err)
			}
		}
	}
}

// The case: memory grew while one stream's records were in flight,
// and the connector died a little later reading another. The diagnosis
// names the stream where the memory went, and the last one read beside it.
func TestDiagnosisNamesTheStreamInFlightWhileMemoryGrew(t *testing.T) {
	tl := []cgstats.Point{{Seconds: 0, Bytes: 10 << 20}, {Seconds: 1, Bytes: 12 << 20}, {Seconds: 2, Bytes: 120 << 20},
		{Seconds: 3, Bytes: 124 << 20}, {Seconds: 4, Bytes: 128 << 20}}
	o := Diagnose(DiagnoseInput{LimitBytes: 128 << 20, PeakBytes: 128 << 20, Timeline: tl, Stream: "events",
		Streams: []StreamSpan{{0, "users"}, {1.5, "orders"}, {3.5, "events"}}})
	if o.Stream != "orders" || o.LastStream != "events" {
		t.Fatalf("stream %q, last %q; want orders (in flight during the climb) and events", o.Stream, o.LastStream)
	}
	if !strings.Contains(o.Explanation, `"orders"`) || !strings.Contains(o.Explanation, `"events"`) {
		t.Errorf("explanation %q", o.Explanation)
	}
	// With no spans the last stream read is all there is.
	if o := Diagnose(DiagnoseInput{LimitBytes: 128 << 20, Timeline: tl, Stream: "events"}); o.Stream != "events" || o.LastStream != "" {
		t.Errorf("without spans: %q %q", o.Stream, o.LastStream)
	}
}
