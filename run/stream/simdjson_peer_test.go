package stream

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// simdjsonPeerEnv names the binary `make simdjson-peer` builds from
// testdata/peers/simdjson (simdjson's C++ parser; `make bench` sets it).
const simdjsonPeerEnv = "SYNCBOX_SIMDJSON_PEER"

// simdjsonPeer runs simdjson's C++ parser as a process, one round per run
// (its own timing, which leaves out loading the file), on a copy of the
// corpus written once, and keeps each measure's best.
type simdjsonPeer struct {
	bin, corpus string
	bytes       int
	lines       int
	version     string // simdjson's, and the kernel it chose
	best        map[string]float64
}

// newSimdjsonPeer is nil when bin is empty (the environment names none).
func newSimdjsonPeer(tb testing.TB, bin string, corpus []byte, lines int) *simdjsonPeer {
	if bin == "" {
		return nil
	}
	path := filepath.Join(tb.TempDir(), "corpus.jsonl")
	if err := os.WriteFile(path, corpus, 0o600); err != nil {
		tb.Fatalf("simdjson peer: writing the corpus: %v", err)
	}
	return &simdjsonPeer{bin: bin, corpus: path, bytes: len(corpus), lines: lines, best: map[string]float64{}}
}

// round runs the peer once and fails unless it read the whole corpus and
// found every line valid, by each of its measures: a peer that rejected
// or skipped a line did less work, and its speed would mean nothing.
func (p *simdjsonPeer) round() error {
	var stderr bytes.Buffer
	cmd := exec.Command(p.bin, p.corpus)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("simdjson peer %s: %w: %s", p.bin, err, strings.TrimSpace(stderr.String()))
	}
	kv := map[string]string{}
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = v
		}
	}
	num := func(k string) (float64, error) {
		v, ok := kv[k]
		if !ok {
			return 0, fmt.Errorf("simdjson peer printed no %s in:\n%s", k, out)
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("simdjson peer's %s: %w", k, err)
		}
		return f, nil
	}
	for k, want := range map[string]int{
		"bytes": p.bytes, "lines": p.lines, "parse-many-docs": p.lines,
		"dom-invalid": 0, "parse-many-invalid": 0, "stage1-invalid": 0,
	} {
		got, err := num(k)
		if err != nil {
			return err
		}
		if got != float64(want) {
			return fmt.Errorf("simdjson peer: %s=%v, want %d", k, got, want)
		}
	}
	for _, k := range []string{"dom-MB/s", "parse-many-MB/s", "stage1-MB/s"} {
		v, err := num(k)
		if err != nil {
			return err
		}
		if v <= 0 {
			return fmt.Errorf("simdjson peer: %s=%v", k, v)
		}
		p.best[k] = max(p.best[k], v)
	}
	p.version = kv["version"] + "/" + kv["implementation"]
	return nil
}
