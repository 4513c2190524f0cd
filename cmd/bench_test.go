package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// BenchmarkRunTrueOverhead is the start-to-exit figure: the median
// wall time of `syncbox run -- /bin/true` (admission, container, report
// figures, history, cleanup: everything a real run does) minus the median
// of a plain fork+exec of /bin/true.
func BenchmarkRunTrueOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	root := b.TempDir()
	const n = 41
	var box, plain []time.Duration
	for i := 0; i < b.N*n; i++ {
		cmd := exec.Command(syncboxBin, "run", "-q", "--memory", "64MiB", "--", "/bin/true")
		cmd.Env = append(os.Environ(), "SYNCBOX_RUN_DIR="+root, "SYNCBOX_HOME="+filepath.Join(root, "home"))
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		box = append(box, time.Since(t0))
		t0 = time.Now()
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
		plain = append(plain, time.Since(t0))
	}
	mb, mp := medianOf(box), medianOf(plain)
	b.ReportMetric(ms(mb), "syncbox-ms")
	b.ReportMetric(ms(mp), "exec-ms")
	b.ReportMetric(ms(mb-mp), "added-ms")
}

func medianOf(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
