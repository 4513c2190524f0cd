package report

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

type series struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*`)
)

// parseExposition checks text against the Prometheus text format (0.0.4)
// as node_exporter's textfile collector reads it: HELP and TYPE once per
// metric and before its samples, label values with only \\, \" and \n
// escapes, a float value, no duplicate series. It returns the samples.
func parseExposition(text string) ([]series, error) {
	var out []series
	typed := map[string]string{}
	helped := map[string]bool{}
	seen := map[string]bool{}
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("text does not end in a newline")
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			f := strings.SplitN(rest, " ", 3)
			if len(f) < 3 || !metricName.MatchString(f[1]) {
				return nil, fmt.Errorf("line %d: bad comment %q", n, line)
			}
			switch f[0] {
			case "HELP":
				if helped[f[1]] {
					return nil, fmt.Errorf("line %d: second HELP for %s", n, f[1])
				}
				helped[f[1]] = true
			case "TYPE":
				if _, dup := typed[f[1]]; dup {
					return nil, fmt.Errorf("line %d: second TYPE for %s", n, f[1])
				}
				switch f[2] {
				case "gauge", "counter", "untyped":
				default:
					return nil, fmt.Errorf("line %d: type %q", n, f[2])
				}
				typed[f[1]] = f[2]
			}
			continue
		}
		s := series{labels: map[string]string{}}
		s.name = metricName.FindString(line)
		if s.name == "" {
			return nil, fmt.Errorf("line %d: no metric name in %q", n, line)
		}
		if _, ok := typed[s.name]; !ok {
			return nil, fmt.Errorf("line %d: sample of %s before its TYPE", n, s.name)
		}
		rest := line[len(s.name):]
		if strings.HasPrefix(rest, "{") {
			rest = rest[1:]
			for !strings.HasPrefix(rest, "}") {
				ln := labelName.FindString(rest)
				if ln == "" || !strings.HasPrefix(rest[len(ln):], `="`) {
					return nil, fmt.Errorf("line %d: bad label at %q", n, rest)
				}
				rest = rest[len(ln)+2:]
				var v strings.Builder
				for {
					if rest == "" {
						return nil, fmt.Errorf("line %d: unterminated label value", n)
					}
					c := rest[0]
					rest = rest[1:]
					if c == '"' {
						break
					}
					if c == '\\' {
						if rest == "" {
							return nil, fmt.Errorf("line %d: dangling escape", n)
						}
						switch rest[0] {
						case '\\', '"':
							v.WriteByte(rest[0])
						case 'n':
							v.WriteByte('\n')
						default:
							return nil, fmt.Errorf("line %d: bad escape \\%c", n, rest[0])
						}
						rest = rest[1:]
						continue
					}
					v.WriteByte(c)
				}
				if _, dup := s.labels[ln]; dup {
					return nil, fmt.Errorf("line %d: label %s twice", n, ln)
				}
				s.labels[ln] = v.String()
				rest = strings.TrimPrefix(rest, ",")
			}
			rest = rest[1:]
		}
		f := strings.Fields(rest)
		if !strings.HasPrefix(rest, " ") || len(f) < 1 || len(f) > 2 {
			return nil, fmt.Errorf("line %d: want ' value [timestamp]' in %q", n, rest)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value: %w", n, err)
		}
		s.value = v
		key := line[:len(line)-len(rest)]
		if seen[key] {
			return nil, fmt.Errorf("line %d: duplicate series %s", n, key)
		}
		seen[key] = true
		out = append(out, s)
	}
	return out, nil
}

func find(ss []series, name string, labels ...string) (float64, bool) {
	for _, s := range ss {
		if s.name != name {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if match {
			return s.value, true
		}
	}
	return 0, false
}

func readMetrics(t *testing.T, path string) []series {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := parseExposition(string(b))
	if err != nil {
		t.Fatalf("%v in:\n%s", err, b)
	}
	return ss
}

func TestMetricsParseAndEscape(t *testing.T) {
	r := fullReport()
	r.Name = "tap \"demo\"\\x\nnext"
	path := filepath.Join(t.TempDir(), "syncbox.prom")
	if err := r.WriteMetrics(path); err != nil {
		t.Fatal(err)
	}
	ss := readMetrics(t, path)
	for _, s := range ss {
		if s.labels["name"] != r.Name || s.labels["tenant"] != "acme" {
			t.Fatalf("%s labels %q did not survive escaping", s.name, s.labels)
		}
	}
	want := map[string]float64{
		"syncbox_run_success":            0,
		"syncbox_run_exit_code":          3,
		"syncbox_run_duration_seconds":   61.5,
		"syncbox_run_memory_peak_bytes":  float64(256 * mib),
		"syncbox_run_memory_limit_bytes": float64(256 * mib),
		"syncbox_run_records":            12000,
		"syncbox_run_flagged_values":     4,
		"syncbox_run_memory_oom_kills":   2, // two OOM-killed attempts
		"syncbox_run_attempts":           2,
	}
	for name, v := range want {
		if got, ok := find(ss, name); !ok || got != v {
			t.Errorf("%s = %v (present %v); want %v", name, got, ok, v)
		}
	}
	ones := 0
	for _, o := range AllOutcomes() {
		v, ok := find(ss, "syncbox_run_outcome", "outcome", string(o))
		if !ok {
			t.Errorf("no syncbox_run_outcome series for %s", o)
		}
		if v == 1 {
			ones++
			if o != OOMKilled {
				t.Errorf("outcome %s is 1", o)
			}
		}
	}
	if ones != 1 {
		t.Errorf("%d outcomes set; want exactly 1", ones)
	}
}

// The last success time must outlive failed runs, or an alert on it would
// reset every time a connector fails.
func TestLastSuccessSurvivesFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tap.prom")
	end := time.Date(2026, 11, 20, 12, 0, 0, 500e6, time.UTC)
	const metric = "syncbox_run_last_success_timestamp_seconds"

	failed := fullReport()
	if err := failed.WriteMetrics(path); err != nil {
		t.Fatal(err)
	}
	if v, ok := find(readMetrics(t, path), metric); !ok || v != 0 {
		t.Errorf("never succeeded: %s = %v, %v; want 0", metric, v, ok)
	}

	ok := fullReport()
	ok.Outcome, ok.ExitCode, ok.EndedAt, ok.OOM = Succeeded, ExitOK, end, nil
	if err := ok.WriteMetrics(path); err != nil {
		t.Fatal(err)
	}
	want := float64(end.UnixMilli()) / 1000
	if v, _ := find(readMetrics(t, path), metric); v != want {
		t.Errorf("after success: %v; want %v", v, want)
	}

	failed.EndedAt = end.Add(time.Hour)
	if err := failed.WriteMetrics(path); err != nil {
		t.Fatal(err)
	}
	ss := readMetrics(t, path)
	if v, _ := find(ss, metric); v != want {
		t.Errorf("after a failure: %v; want the earlier success %v", v, want)
	}
	if v, _ := find(ss, "syncbox_run_success"); v != 0 {
		t.Error("syncbox_run_success not 0 after a failure")
	}
	if v, _ := find(ss, "syncbox_run_end_timestamp_seconds"); v != want+3600 {
		t.Errorf("end timestamp %v", v)
	}
}

func TestParseExpositionRejectsBadLines(t *testing.T) {
	for _, bad := range []string{
		"x 1\n", // no TYPE
		"# TYPE x gauge\nx{a=\"1\"} one\n",
		"# TYPE x gauge\nx{a=\"\\t\"} 1\n",
		"# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",
		"# TYPE x gauge\nx{a=1} 1\n",
		"# TYPE x gauge\nx 1",
	} {
		if _, err := parseExposition(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
