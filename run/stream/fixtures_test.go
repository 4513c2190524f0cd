package stream

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/stream")

// TestFixtures runs the connector outputs in testdata/stream/*.jsonl with a
// 100-byte field limit, a 300-byte record limit and the null action, and
// compares output, flags and warnings with the golden files beside them.
func TestFixtures(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "stream")
	inputs, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	n := 0
	for _, in := range inputs {
		if strings.Count(filepath.Base(in), ".") > 1 {
			continue // a golden file
		}
		n++
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var out, flags, warn bytes.Buffer
			rej := t.TempDir()
			s := New(Config{MaxFieldSize: 100, MaxRecordSize: 300, Flags: &flags, Warn: &warn, RejectsDir: rej})
			if err := s.Run(&out, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			mustValidLines(t, out.String())
			base := strings.TrimSuffix(in, ".jsonl")
			for ext, got := range map[string][]byte{".out.jsonl": out.Bytes(), ".flags.jsonl": flags.Bytes(), ".warn.txt": warn.Bytes()} {
				if *update {
					os.WriteFile(base+ext, got, 0o644)
					continue
				}
				want, err := os.ReadFile(base + ext)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s differs (run with -update to rewrite):\n%s", base+ext, got)
				}
			}
			// Every rejects file named in the flags exists.
			for _, l := range strings.Split(flags.String(), "\n") {
				if i := strings.Index(l, `"rejects":"`); i >= 0 {
					name := strings.TrimSuffix(l[i+len(`"rejects":"`):], `"}`)
					if _, err := os.Stat(filepath.Join(rej, name)); err != nil {
						t.Errorf("rejects file: %v", err)
					}
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no fixtures")
	}
}
