package cmd

import (
	"path/filepath"
	"testing"

	"syncbox/run/report"
	"syncbox/testdata/testenv"
)

// A connector that allocates fast is OOM-killed within about 0.1 s. Sampled
// every 100 ms its timeline was [[0, 4 MB]] and still called a "spike"; now
// the climb is recorded, ends at the peak it died at, and reads as steady.
func TestAFastOOMRecordsItsGrowthAndEndsAtThePeak(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	rep := filepath.Join(root, "r.json")
	_, errOut, code := runSB(t, root, "", "run", "-q", "--memory", "64MiB", "--report", rep,
		"--", testenv.Connector(t, "memhog"), "-mib", "200", "-step-mib", "2", "-delay", "2ms")
	if code != report.ExitOOM {
		t.Fatalf("exit %d, want %d: %s", code, report.ExitOOM, errOut)
	}
	r := readReport(t, rep)
	tl := r.Memory.Timeline
	if len(tl) < 10 {
		t.Fatalf("%d timeline points for a 0.1 s climb, want at least 10: %v", len(tl), tl)
	}
	last := tl[len(tl)-1]
	for _, p := range tl {
		if p.Bytes > last.Bytes {
			t.Errorf("timeline ends at %d, below an earlier %d: it must end at the peak it died at", last.Bytes, p.Bytes)
			break
		}
	}
	if last.Bytes < 60<<20 || last.Bytes != r.Memory.PeakBytes {
		t.Errorf("last point %d, peak_bytes %d: want the peak at the 64 MiB limit", last.Bytes, r.Memory.PeakBytes)
	}
	if r.OOM == nil || r.OOM.Growth != report.GrowthSteady {
		t.Errorf("growth %v for an even 2 MiB / 2 ms climb, want steady; timeline %v", r.OOM, tl)
	}
}
