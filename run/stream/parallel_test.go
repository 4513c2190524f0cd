package stream

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestParallelMatchesSerial: the helper goroutine changes nothing.
func TestParallelMatchesSerial(t *testing.T) {
	c, _ := singerCorpus(2 << 20)
	var in bytes.Buffer
	for i, l := range bytes.SplitAfter(c, []byte("\n")) {
		in.Write(l)
		switch i % 97 {
		case 5:
			in.WriteString("{broken\n\n")
		case 11:
			in.WriteString(`{"type":"RECORD","stream":"users","record":{"id":` + fmt.Sprint(i) + `,"blob":"` + strings.Repeat("z", 3000) + `","o":{"k":["` + strings.Repeat("y", 2000) + `"]}}}` + "\n")
		case 13:
			in.WriteString(`{"type":"RECORD","record":{"stream":"ab","data":{"id":1,"v":"` + strings.Repeat("é", 1500) + `"},"meta":{"changes":[]}}}` + "\n")
		case 17:
			in.WriteString(`{"type":"RECORD","stream":"users","record":{"id":1},"record":{"id":2}}` + "\n")
		case 19:
			in.WriteString(`{"type":"RECORD","record":{"stream":"ab","data":{"id":1},"data":{"id":2}}}` + "\n")
		}
	}
	run := func(serial bool) (string, string, string, Stats) {
		var out, flags, warn bytes.Buffer
		var states []string
		s := New(Config{MaxFieldSize: 1000, MaxRecordSize: 4000, Oversize: Truncate, Flags: &flags, Warn: &warn,
			OnState: func(v []byte) error { states = append(states, string(v)); return nil }})
		s.serial = serial
		if err := s.Run(&out, onlyReader{bytes.NewReader(in.Bytes())}); err != nil {
			t.Fatal(err)
		}
		return out.String(), flags.String(), warn.String() + strings.Join(states, ","), s.Snapshot()
	}
	o1, f1, w1, s1 := run(true)
	o2, f2, w2, s2 := run(false)
	if o1 != o2 || f1 != f2 || w1 != w2 || !reflect.DeepEqual(s1, s2) {
		t.Fatalf("parallel differs from serial:\n%+v\n%+v", s1, s2)
	}
	if s1.InvalidLines == 0 || s1.Flagged == 0 || s1.States == 0 || s1.EmptyLines == 0 ||
		!strings.Contains(w1, `duplicate member "record"`) || !strings.Contains(w1, `duplicate member "record.data"`) {
		t.Fatalf("test input too tame: %+v", s1)
	}
	mustValidLines(t, o1)
}
