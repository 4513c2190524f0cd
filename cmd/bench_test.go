package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"syncbox/run/report"
	"syncbox/testdata/corpus"
	"syncbox/testdata/testenv"
)

// BenchmarkRunTrueOverhead is the start-to-exit figure: the median
// wall time of `syncbox run -- /bin/true`, runs 100 ms apart (admission, container, report
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
		// Spaced out like cron's runs: back-to-back starts would find the
		// kernel's cgroup-migration grace period already paid.
		time.Sleep(100 * time.Millisecond)
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
	mb, mp := testenv.Median(box), testenv.Median(plain)
	b.ReportMetric(ms(mb), "syncbox-ms")
	b.ReportMetric(ms(mp), "exec-ms")
	b.ReportMetric(ms(mb-mp), "added-ms")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkStreamThroughput moves a generated Singer corpus through
// `syncbox run -- /bin/cat corpus` with inspection on (field and record
// limits set, nothing oversized), and, on the same file, through
// `cat | cat` (the pipe limit), `syncbox run --protocol raw` and an
// encoding/json map decode loop. Best of three runs each, in MB/s.
func BenchmarkStreamThroughput(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	dir := b.TempDir()
	mb := 256
	if s, err := strconv.Atoi(os.Getenv("SYNCBOX_BENCH_MB")); err == nil {
		mb = s
	}
	data, records := corpus.Singer(mb << 20)
	path := filepath.Join(dir, "corpus.jsonl")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	size := float64(len(data))
	env := append(os.Environ(), "SYNCBOX_RUN_DIR="+filepath.Join(dir, "run"), "SYNCBOX_HOME="+filepath.Join(dir, "home"))
	best := func(name string, run func() error) float64 {
		var top float64
		for i := 0; i < 3; i++ {
			t0 := time.Now()
			if err := run(); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			top = max(top, size/1e6/time.Since(t0).Seconds())
		}
		b.ReportMetric(top, name+"-MB/s")
		return top
	}
	shell := func(script string) func() error {
		return func() error {
			cmd := exec.Command("/bin/sh", "-c", script)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		}
	}
	pipe := best("cat|cat", shell("cat "+path+" | cat > /dev/null"))
	box := fmt.Sprintf("%s run -q --memory 512MiB --bind %s ", syncboxBin, path)
	scan := best("syncbox", shell(box+"--protocol singer --max-field-size 16MiB --max-record-size 64MiB -- /bin/cat "+path+" > /dev/null"))
	best("syncbox-raw", shell(box+"--protocol raw -- /bin/cat "+path+" > /dev/null"))
	best("encoding/json", func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
		for {
			var m map[string]any
			if err := dec.Decode(&m); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
		}
	})
	b.ReportMetric(scan/pipe, "syncbox/pipe")
	b.ReportMetric(scan*1e6/size*float64(records)/1e6, "syncbox-Mrecords/s")
}

// BenchmarkRunnerRSSWithGiantField streams one record whose field is 1 GiB
// through syncbox with a field limit and a rejects dir, and reports the
// runner's own peak RSS from its report.
func BenchmarkRunnerRSSWithGiantField(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	dir := b.TempDir()
	rep := filepath.Join(dir, "report.json")
	cmd := exec.Command(syncboxBin, "run", "-q", "--memory", "3GiB", "--max-field-size", "16MiB", "--rejects-dir", filepath.Join(dir, "rejects"),
		"--report", rep, "--", testenv.Connector(b, "tap-demo"), "-records", "10", "-giant-bytes", strconv.Itoa(1<<30))
	cmd.Env = append(os.Environ(), "SYNCBOX_RUN_DIR="+filepath.Join(dir, "run"), "SYNCBOX_HOME="+filepath.Join(dir, "home"))
	t0 := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	r, err := report.ReadFile(rep)
	if err != nil {
		b.Fatal(err)
	}
	if r.Records.Flagged.Count != 1 || r.Records.Flagged.Largest.Size < 1<<30 {
		b.Fatalf("the giant value was not flagged: %+v", r.Records.Flagged)
	}
	b.ReportMetric(float64(r.Runner.PeakRSSBytes)/(1<<20), "runner-peak-RSS-MiB")
	b.ReportMetric(float64(1<<30)/1e6/time.Since(t0).Seconds(), "MB/s")
}
