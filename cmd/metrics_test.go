package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"syncbox/testdata/testenv"
)

// An OOM-killed first attempt and a successful retry: the metrics file says
// one OOM kill (it said 0, the last attempt's count), two attempts, success,
// and passes promtool's lint.
func TestMetricsFileSumsOOMKillsOverRetriesAndPassesLint(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	prom := filepath.Join(root, "tap.prom")
	_, errOut, code := runSB(t, root, "", "run", "-q", "--memory", "48MiB", "--retry-oom", "1", "--metrics-file", prom,
		"--", testenv.Connector(t, "memhog"), "-mib", "80", "-step-mib", "4", "-delay", "5ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("%v in:\n%s", err, b)
	}
	for name, want := range map[string]float64{"syncbox_run_memory_oom_kills": 1, "syncbox_run_attempts": 2, "syncbox_run_success": 1} {
		mf, ok := mfs[name]
		if !ok || len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetGauge().GetValue() != want {
			t.Errorf("%s: %v, want %v", name, mf, want)
		}
	}
	problems, err := promlint.New(strings.NewReader(string(b))).Lint()
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}
