package container

import (
	"fmt"
	"os"
	"testing"
	"time"

	"syncbox/testdata/testenv"
)

// Every run's cgroup carries the same CPU weight, so CPU is shared per run,
// not per process: a run of eight busy processes gets about as much as a
// neighbour run of one (scheduled per process, the one would get a ninth).
func TestABusyRunCannotStarveANeighbour(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	start := func(name string, procs int) *Container {
		c, err := Start(Paths{Root: root}, Spec{ID: fmt.Sprintf("%s%d", name, os.Getpid()), Env: []string{"PATH=" + DefaultPath},
			Args: []string{"/bin/sh", "-c", fmt.Sprintf("for i in $(seq %d); do (while :; do :; done) & done; wait", procs)}}, IO{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Kill(); c.Wait(); c.Destroy() })
		return c
	}
	hog, one := start("hog", 8), start("one", 1)
	cpu := func(c *Container) float64 {
		s, err := c.Cgroup().Read()
		if err != nil {
			t.Fatal(err)
		}
		return s.CPUSeconds
	}
	time.Sleep(300 * time.Millisecond) // both running at full tilt
	h0, o0 := cpu(hog), cpu(one)
	time.Sleep(1500 * time.Millisecond)
	h, o := cpu(hog)-h0, cpu(one)-o0
	t.Logf("over 1.5 s: 8-process run %.2f CPU s, 1-process run %.2f CPU s", h, o)
	if o < 0.4*h {
		t.Errorf("the one-process run got %.2f CPU s against %.2f: starved", o, h)
	}
}
