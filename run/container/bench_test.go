package container

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"syncbox/testdata/testenv"
)

// BenchmarkStartToExit measures create + start + wait + destroy of a
// container running /bin/true, against a plain fork+exec of /bin/true,
// and reports medians (the mean hides nothing here but noise).
func BenchmarkStartToExit(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	root := b.TempDir()
	const n = 40
	phases := map[string][]time.Duration{}
	add := func(k string, d time.Duration) { phases[k] = append(phases[k], d) }
	for i := 0; i < b.N*n; i++ {
		t0 := time.Now()
		c, err := Start(Paths{Root: root}, Spec{ID: fmt.Sprintf("bench%d", i), Args: []string{"/bin/true"},
			Env: []string{"PATH=" + DefaultPath}, MemoryBytes: 64 << 20}, IO{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		c.Wait()
		t2 := time.Now()
		if err := c.Destroy(); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		add("start", t1.Sub(t0))
		add("wait", t2.Sub(t1))
		add("destroy", t3.Sub(t2))
		add("total", t3.Sub(t0))

		e0 := time.Now()
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
		add("exec", time.Since(e0))
	}
	for _, k := range []string{"start", "wait", "destroy", "total", "exec"} {
		b.ReportMetric(float64(testenv.Median(phases[k]).Microseconds())/1000, k+"-ms")
	}
	b.ReportMetric(float64((testenv.Median(phases["total"])-testenv.Median(phases["exec"])).Microseconds())/1000, "added-ms")
}
