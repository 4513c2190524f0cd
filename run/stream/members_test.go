package stream

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A message that repeats a member syncbox reads, or spells one with
// escapes, is a bad line: a consumer that keeps the first (or the other)
// one would get a value nothing checked.
func TestDuplicateMembersAreBadLines(t *testing.T) {
	big := `"` + strings.Repeat("x", 5000) + `"`
	good := `{"type":"RECORD","stream":"s","record":{"a":1}}` + "\n"
	abRec := func(members string) string {
		return `{"type":"RECORD","record":{"stream":"s",` + members + `,"emitted_at":1}}` + "\n"
	}
	tests := []struct {
		name   string
		proto  Protocol
		line   string
		reason string
	}{
		{"record, big first", Auto, `{"type":"RECORD","stream":"s","record":{"a":` + big + `},"record":{"a":1}}` + "\n", `duplicate member \"record\"`},
		{"record, big last", Singer, `{"type":"RECORD","stream":"s","record":{"a":1},"record":{"a":` + big + `}}` + "\n", `duplicate member \"record\"`},
		{"type STATE after RECORD", Auto, `{"type":"RECORD","stream":"s","record":{"a":` + big + `},"type":"STATE","value":{"b":1}}` + "\n", `duplicate member \"type\"`},
		{"type RECORD after STATE", Auto, `{"type":"STATE","value":{"a":1},"type":"RECORD","stream":"s","record":{"a":` + big + `}}` + "\n", `duplicate member \"type\"`},
		{"stream", Singer, `{"type":"RECORD","stream":"s","stream":"t","record":{"id":1}}` + "\n", `duplicate member \"stream\"`},
		{"value", Singer, `{"type":"STATE","value":{"a":1},"value":{"a":2}}` + "\n", `duplicate member \"value\"`},
		{"key_properties", Singer, `{"type":"SCHEMA","stream":"s","schema":{},"key_properties":["id"],"key_properties":[]}` + "\n", `duplicate member \"key_properties\"`},
		{"meta", Singer, `{"type":"RECORD","stream":"s","record":{"a":1},"meta":{},"meta":{}}` + "\n", `duplicate member \"meta\"`},
		{"meta.changes", Auto, `{"type":"RECORD","stream":"s","record":{"a":` + big + `},"meta":{"changes":[],"changes":[]}}` + "\n", `duplicate member \"meta.changes\"`},
		{"escaped meta.changes", Singer, `{"type":"RECORD","stream":"s","record":{"a":` + big + `},"meta":{"ch\u0061nges":[]}}` + "\n", `member \"meta.changes\" written with escapes`},
		{"escaped record", Auto, `{"type":"RECORD","stream":"s","record":{"a":1},"rec\u006frd":{"a":` + big + `}}` + "\n", `member \"record\" written with escapes`},
		{"escaped type alone", Auto, `{"t\u0079pe":"RECORD","stream":"s","record":{"a":` + big + `}}` + "\n", `member \"type\" written with escapes`},
		{"airbyte data", Airbyte, abRec(`"data":{"a":` + big + `},"data":{"a":1}`), `duplicate member \"record.data\"`},
		{"airbyte stream", Auto, abRec(`"data":{"a":1},"stream":"t"`), `duplicate member \"record.stream\"`},
		{"airbyte namespace", Airbyte, abRec(`"namespace":"a","data":{"a":1},"namespace":"b"`), `duplicate member \"record.namespace\"`},
		{"airbyte meta", Airbyte, abRec(`"data":{"a":1},"meta":{},"meta":{"changes":[]}`), `duplicate member \"record.meta\"`},
		{"airbyte meta.changes", Airbyte, abRec(`"data":{"a":` + big + `},"meta":{"changes":[{"field":"b"}],"changes":[]}`), `duplicate member \"record.meta.changes\"`},
		{"airbyte escaped data", Airbyte, abRec(`"data":{"a":1},"d\u0061ta":{"a":` + big + `}`), `member \"record.data\" written with escapes`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.line + good
			if tc.proto == Airbyte {
				in = tc.line
			}
			rej := t.TempDir()
			r := scan(t, Config{Protocol: tc.proto, MaxFieldSize: 1000, RejectsDir: rej}, in)
			if r.err != nil || r.stats.InvalidLines != 1 || strings.Contains(r.out, strings.TrimSuffix(tc.line, "\n")) {
				t.Fatalf("err %v stats %+v out %.200q", r.err, r.stats, r.out)
			}
			if !strings.Contains(r.flags, `"reason":"`+tc.reason+`","action":"rejected","rejects":"invalid.line1.json"`) ||
				!strings.Contains(r.warn, "line 1 (input offset 0): "+strings.ReplaceAll(tc.reason, `\"`, `"`)) {
				t.Fatalf("flags %s\nwarn %s", r.flags, r.warn)
			}
			if b, err := os.ReadFile(filepath.Join(rej, "invalid.line1.json")); err != nil || string(b) != strings.TrimSuffix(tc.line, "\n") {
				t.Fatalf("rejects file: %v, %.100q", err, b)
			}
			r = scanOnce(t, Config{Protocol: tc.proto, Strict: true}, in)
			var pe *PolicyError
			if !errors.As(r.err, &pe) || pe.Line != 1 {
				t.Fatalf("strict: err %v", r.err)
			}
		})
	}
}

// What is not a member syncbox reads may repeat: a Singer payload's own
// fields (each one is checked), record.data's fields, unread members.
func TestRepeatedUnreadMembersPass(t *testing.T) {
	in := `{"type":"RECORD","stream":"s","record":{"data":1,"data":2,"stream":"x","stream":"y"},"time_extracted":"a","time_extracted":"b"}` + "\n" +
		`{"type":"RECORD","stream":"s","record":{"meta":{"changes":1,"changes":2}},"meta":{"changes":[],"other":1,"other":2}}` + "\n" +
		`{"type":"RECORD","record":{"stream":"s","data":{"a":1,"a":2},"emitted_at":1,"emitted_at":2}}` + "\n" +
		`{"type":"SCHEMA","stream":"s","schema":{},"schema":{},"key_properties":[]}` + "\n"
	r := scan(t, Config{MaxFieldSize: 1000}, in)
	if r.err != nil || r.out != in || r.stats.InvalidLines != 0 {
		t.Fatalf("err %v out %q warn %s", r.err, r.out, r.warn)
	}
}

// A duplicate beyond the recorded members (65,536) is still seen, and a
// root of that many members costs time in proportion to its bytes.
func TestDuplicateBeyondRecordedMembers(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type":"RECORD","stream":"s","record":{"a":1}`)
	for i := 0; i < maxVals+10; i++ {
		b.WriteString(`,"k":0`)
	}
	b.WriteString(`,"record":{"a":"` + strings.Repeat("x", 5000) + `"}}` + "\n")
	r := scan(t, Config{MaxFieldSize: 1000}, b.String())
	if r.stats.InvalidLines != 1 || r.out != "" || !strings.Contains(r.warn, `duplicate member "record"`) {
		t.Fatalf("stats %+v out %.100q warn %s", r.stats, r.out, r.warn)
	}
}

// readIndex's switch and the readMembers table name the same members.
func TestReadIndexMatchesReadMembers(t *testing.T) {
	for role := range readMembers {
		for i, n := range readMembers[role] {
			if got := readIndex(byte(role), []byte(n)); got != i {
				t.Errorf("role %d %q: index %d, want %d", role, n, got, i)
			}
		}
		for _, n := range []string{"", "x", "typ", "types", "records", "Type", "change", "data "} {
			if got := readIndex(byte(role), []byte(n)); got >= 0 {
				t.Errorf("role %d %q: index %d, want none", role, n, got)
			}
		}
	}
	// members() (classify.go) maps these indexes to message fields in
	// this order.
	if got, want := strings.Join(readMembers[roleRoot], ","), "type,stream,record,value,state,meta,key_properties,trace"; got != want {
		t.Errorf("root names %s, members() expects %s", got, want)
	}
	if got, want := strings.Join(readMembers[roleRecord], ","), "stream,namespace,data,meta"; got != want {
		t.Errorf("record names %s, members() expects %s", got, want)
	}
	// Each role's names fit its seen bits.
	for role, names := range readMembers {
		if len(names) > 16 {
			t.Errorf("role %d: %d names, at most 16 fit", role, len(names))
		}
	}
}
