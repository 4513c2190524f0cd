// Command target-file is a small Singer target for tests and the demo: it
// appends each stream's records to DIR/STREAM.jsonl in batches, fsyncs a
// batch before it prints the STATE that followed it (bare, as singer-sdk
// targets print states), and loses its uncommitted batch when it crashes,
// as a real target does. --crash-after N makes it crash after the Nth
// record it reads, to test that nobody else's checkpoint runs ahead of it.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", "", "directory for STREAM.jsonl files (required)")
	batch := flag.Int("batch", 100, "records per commit")
	crashAfter := flag.Int("crash-after", 0, "crash after reading this many records (0 = never)")
	crashHow := flag.String("crash", "exit", "how to crash: exit (code 1) or oom (allocate until killed)")
	crashOnce := flag.String("crash-once", "", "crash only if this marker `FILE` does not exist yet, and create it")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "target-file: --dir is required")
		os.Exit(2)
	}
	if err := recoverTorn(*dir); err != nil {
		fail("%v", err)
	}
	t := &target{dir: *dir, batch: *batch, out: bufio.NewWriter(os.Stdout), pending: map[string][][]byte{}}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	seen := 0
	for lineNo := 1; ; lineNo++ {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var m struct {
				Type   string          `json:"type"`
				Stream string          `json:"stream"`
				Record json.RawMessage `json:"record"`
				Value  json.RawMessage `json:"value"`
				Meta   json.RawMessage `json:"meta"`
			}
			if jerr := json.Unmarshal(line, &m); jerr != nil {
				fail("line %d: not a Singer message: %v", lineNo, jerr)
			}
			switch m.Type {
			case "RECORD":
				seen++
				if *crashAfter > 0 && seen >= *crashAfter && firstCrash(*crashOnce) {
					crash(*crashHow)
				}
				t.pending[m.Stream] = append(t.pending[m.Stream], withMeta(m.Record, m.Meta))
				if t.n++; t.n >= t.batch {
					t.commit()
				}
			case "STATE":
				t.state = append([]byte(nil), m.Value...)
				if t.n == 0 {
					t.commit()
				}
			}
		}
		if err != nil {
			break
		}
	}
	t.commit()
	fmt.Fprintf(os.Stderr, "target-file: read %d records\n", seen)
}

type target struct {
	dir     string
	batch   int
	out     *bufio.Writer
	pending map[string][][]byte
	n       int
	state   []byte // received; printed once the records before it are on disk
}

// commit makes the pending records durable, then confirms the state.
func (t *target) commit() {
	for stream, recs := range t.pending {
		f, err := os.OpenFile(filepath.Join(t.dir, stream+".jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fail("%v", err)
		}
		w := bufio.NewWriter(f)
		for _, r := range recs {
			w.Write(r)
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			fail("%v", err)
		}
		if err := f.Sync(); err != nil {
			fail("%v", err)
		}
		f.Close()
	}
	t.pending, t.n = map[string][][]byte{}, 0
	if t.state != nil {
		t.out.Write(t.state)
		t.out.WriteByte('\n')
		t.out.Flush()
		t.state = nil
	}
}

// recoverTorn cuts each file back to its last whole line: a commit killed
// mid-write leaves a torn tail, which was never confirmed (the state is
// printed only after the fsync), as a database rolls back a transaction.
func recoverTorn(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return err
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if n := bytes.LastIndexByte(b, '\n') + 1; n < len(b) {
			if err := os.Truncate(name, int64(n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// withMeta keeps the message's meta (syncbox's lineage of changed values)
// beside the record, as a warehouse's _sdc_meta column would.
func withMeta(rec, meta json.RawMessage) []byte {
	rec = bytes.TrimSpace(rec)
	out := append([]byte(nil), rec...)
	if len(meta) == 0 || len(rec) < 2 || rec[0] != '{' {
		return out
	}
	out = bytes.TrimSuffix(out, []byte("}"))
	if len(bytes.TrimSpace(out)) > 1 {
		out = append(out, ',')
	}
	out = append(out, `"_sdc_meta":`...)
	out = append(out, meta...)
	return append(out, '}')
}

func firstCrash(marker string) bool {
	if marker == "" {
		return true
	}
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func crash(how string) {
	fmt.Fprintln(os.Stderr, "target-file: crashing as asked, losing the uncommitted batch")
	switch how {
	case "oom":
		var hog [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			hog = append(hog, b)
		}
	}
	os.Exit(1)
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "target-file: "+format+"\n", a...)
	os.Exit(1)
}
