package cmd

import (
	"strings"
	"testing"
	"time"
)

func TestAStoreThatIsDownIsExit6WithTheURLAndNoPassword(t *testing.T) {
	root := t.TempDir()
	url := "postgres://syncbox:s3cret@/syncbox?host=" + root // no server listens there
	for _, args := range [][]string{
		{"run", "--store", url, "--memory", "64MiB", "--", "/bin/true"},
		{"history", "--store", url},
		{"recommend", "--name", "x", "--store", url},
	} {
		t0 := time.Now()
		_, stderr, code := runSB(t, root, "", args...)
		if code != 6 {
			t.Errorf("%s: exit %d, want 6; %s", args[0], code, stderr)
		}
		if strings.Contains(stderr, "s3cret") || !strings.Contains(stderr, "postgres://syncbox:xxxxx@/syncbox?host="+root) {
			t.Errorf("%s: stderr %q leaks the password or does not name the store", args[0], stderr)
		}
		if d := time.Since(t0); d > 15*time.Second {
			t.Errorf("%s: took %s to give up", args[0], d)
		}
	}
	_, stderr, code := runSB(t, root, "", "run", "--store", "mysql://u:pw@host/db", "--", "/bin/true")
	if code != 2 || strings.Contains(stderr, "pw@") {
		t.Errorf("a non-postgres store: exit %d, want 2; %s", code, stderr)
	}
}

func TestSchedulerResourcesCoverConnectorAndRunner(t *testing.T) {
	for _, c := range []struct {
		limit    int64
		quantity string
	}{
		{1 << 30, "1088Mi"},
		{960 << 20, "1Gi"},
		{100<<20 + 1, "165Mi"}, // rounded up to whole MiB
	} {
		r := forScheduler(c.limit)
		if r.MemoryLimit != c.quantity || r.MemoryRequest != c.quantity || r.MemoryLimitBytes != r.MemoryRequestBytes ||
			r.MemoryLimitBytes < c.limit+RunnerOverheadBytes || r.ConnectorLimitBytes != c.limit {
			t.Errorf("forScheduler(%d) = %+v; want %s", c.limit, r, c.quantity)
		}
	}
	if q := k8sQuantity(1536); q != "1536" {
		t.Errorf("k8sQuantity(1536) = %s", q)
	}
}
