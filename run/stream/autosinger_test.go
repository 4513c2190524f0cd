package stream

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestAutoSingerRecordSkippedAlike: under Auto, a "record" after a root
// "stream" string is validated whole (tokenizer.autoSinger); the output,
// flags and statistics are those of the member-by-member tokenizing, on
// the fixtures, the corpus, Singer and Airbyte lines with members in
// either order, hostile mixes of both shapes, and mutations of them, with
// and without limits.
func TestAutoSingerRecordSkippedAlike(t *testing.T) {
	var inputs [][]byte
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "stream", "*.jsonl"))
	for _, f := range files {
		if strings.Count(filepath.Base(f), ".") > 1 {
			continue // a golden file
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, b)
	}
	c, _ := singerCorpus(64 << 10)
	inputs = append(inputs, c)
	shapes := strings.Join([]string{
		`{"type":"RECORD","stream":"s","record":{"id":1,"v":"` + strings.Repeat("x", 300) + `"}}`,
		`{"type":"RECORD","record":{"id":1,"v":"` + strings.Repeat("x", 300) + `"},"stream":"s"}`,
		`{"type":"RECORD","stream":"s","record":{"stream":"t","data":{"id":2},"meta":{"changes":[]},"emitted_at":1}}`,
		`{"type":"RECORD","record":{"stream":"t","namespace":"n","data":{"id":2,"v":"` + strings.Repeat("y", 300) + `"}}}`,
		`{"type":"RECORD","stream":7,"record":{"stream":"t","data":{"id":2}}}`,
		`{"type":"RECORD","stream":"s","record":{"stream":"a","stream":"b","data":{},"data":{}}}`,
		`{"type":"RECORD","stream":"s","stream":"s2","record":{"id":1}}`,
		`{"type":"RECORD","stream":"s","record":{"id":1},"meta":{"changes":[]}}`,
		`{"type":"STATE","stream":"s","record":{"x":1},"value":{"a":1}}`,
		`{"type":"RECORD","stream":"s","record":[1,2]}`,
		`{"type":"RECORD","stream":"s","record":{"id":1,"bad":01}}`,
		`{"type":"RECORD", "stream": "s", "record": {"id": 1, "v": "\u00e9"}}`,
	}, "\n") + "\n"
	inputs = append(inputs, []byte(shapes))
	r := rand.New(rand.NewPCG(21, 22))
	lines := strings.Split(strings.TrimSpace(shapes), "\n")
	var mut bytes.Buffer
	for range 3000 {
		mut.Write(mutate(r, []byte(lines[r.IntN(len(lines))])))
		mut.WriteByte('\n')
	}
	inputs = append(inputs, mut.Bytes())
	for _, limits := range [][2]int64{{0, 0}, {100, 400}, {16 << 20, 64 << 20}} {
		for i, in := range inputs {
			run := func(auto bool) (string, string, Stats) {
				var out, flags bytes.Buffer
				s := New(Config{Protocol: Auto, MaxFieldSize: limits[0], MaxRecordSize: limits[1], Flags: &flags})
				s.tok.autoSinger = auto
				if err := s.Run(&out, bytes.NewReader(in)); err != nil {
					t.Fatal(err)
				}
				return out.String(), flags.String(), s.Snapshot()
			}
			o1, f1, s1 := run(true)
			o2, f2, s2 := run(false)
			if o1 != o2 || f1 != f2 || !reflect.DeepEqual(s1, s2) {
				t.Fatalf("input %d, limits %v: whole and member by member differ:\nout %q\nout %q\nflags %q\nflags %q\nstats %+v\nstats %+v",
					i, limits, o1, o2, f1, f2, s1, s2)
			}
		}
	}
}
