package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzScan checks, for any input and limits: no panic; the in-memory and
// spooled paths agree; every output line is valid JSON; a line is forwarded
// only if encoding/json finds it valid; without limits the output is the
// valid lines byte-exact; with limits every changed record equals its input
// except for the fields its lineage lists.
func FuzzScan(f *testing.F) {
	seeds := []string{
		`{"type":"SCHEMA","stream":"s","schema":{},"key_properties":["id"]}` + "\n" +
			`{"type":"RECORD","stream":"s","record":{"id":1,"v":"abcdefghijklmnopqrstuvwxyz","o":{"a":["xxxxxxxxxxxxxxxxxxxxxxx",1]}}}` + "\n",
		`{"type":"RECORD","record":{"stream":"s","data":{"id":1,"v":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\"\\\\"},"meta":{"changes":[]}}}` + "\n",
		`{"type":"STATE","value":{"a":1}}` + "\n" + `{"type":"STATE","state":{"type":"GLOBAL"}}` + "\n",
		"{nope\n[1,2]\n\n  \n" + `{"type":"RECORD","stream":"s","record":{"a":"😀😀😀😀😀😀😀😀😀"}}`,
		`{"type":"RECORD","stream":"s","record":{"a":-1.5e+10,"b":true,"c":null,"d":[{},[]],"e":"x\ty"}}` + "\n",
		`{"type":"RECORD","stream":"s","record":{"a":"` + strings.Repeat(`\ud83d\ude00`, 10) + `"},"meta":{"x":1}}` + "\n",
		`{"type":"LOG","log":{"level":"INFO","message":"hi"}}` + "\n" + `{"type":"RECORD","stream":"s","record":{"a":01}}` + "\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint16(10+i*3), uint16(40+i*7), uint8(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, fieldLimit, recordLimit uint16, act uint8) {
		cfg := Config{Protocol: Protocol(act>>3) % 3, MaxFieldSize: int64(fieldLimit % 200), MaxRecordSize: int64(recordLimit % 400),
			Oversize: Action(act % 5), Keys: map[string][]string{"s": {"id"}}}
		if act&0x80 != 0 {
			cfg.MaxFieldSize, cfg.MaxRecordSize = 0, 0
		}
		run := func(cfg Config, in []byte) (string, string, Stats, error) {
			var out, flags bytes.Buffer
			cfg.Flags = &flags
			s := New(cfg)
			err := s.Run(&out, bytes.NewReader(in))
			var pe *PolicyError
			if err != nil && !errors.As(err, &pe) {
				t.Fatalf("unexpected error %v", err)
			}
			return out.String(), flags.String(), s.Snapshot(), err
		}
		out, flags, _, err := run(cfg, data)
		small := cfg
		small.Window = 64
		out2, flags2, _, err2 := run(small, data)
		if out != out2 || flags != flags2 || (err == nil) != (err2 == nil) {
			t.Fatalf("memory and spool paths differ:\n%q\n%q\n%s\n%s", out, out2, flags, flags2)
		}
		for _, l := range strings.SplitAfter(out, "\n") {
			if l != "" && (!strings.HasSuffix(l, "\n") || !json.Valid([]byte(l))) {
				t.Fatalf("invalid output line %q", l)
			}
		}
		if err != nil {
			return
		}
		lines := bytes.Split(data, []byte("\n"))
		if len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		if cfg.MaxFieldSize == 0 && cfg.MaxRecordSize == 0 {
			// Each forwarded line is an input line, byte-exact, in order.
			var want strings.Builder
			for _, l := range lines {
				o, _, st, _ := run(cfg, l)
				if o != "" {
					if o != string(l)+"\n" || !json.Valid(l) {
						t.Fatalf("line %q forwarded as %q", l, o)
					}
					want.WriteString(o)
				} else if json.Valid(l) && st.EmptyLines == 0 && bytes.HasPrefix(bytes.TrimLeft(l, " \t\r"), []byte("{")) && cfg.Protocol == Auto {
					var m map[string]json.RawMessage
					if json.Unmarshal(l, &m) == nil && string(m["type"]) != `"RECORD"` && string(m["type"]) != `"STATE"` && string(m["type"]) != `"SCHEMA"` {
						t.Fatalf("valid object line %q not forwarded", l)
					}
				}
			}
			if want.String() != out {
				t.Fatalf("output %q is not the forwarded lines %q", out, want.String())
			}
			return
		}
		// With limits: a changed record differs only in listed fields.
		for _, l := range lines {
			o, _, _, err := run(cfg, l)
			if err != nil || o == "" || o == string(l)+"\n" {
				continue
			}
			checkChanged(t, l, []byte(o))
		}
	})
}

type fuzzMsg struct {
	Stream string
	Record map[string]any
	Meta   *struct {
		Changes []struct{ Field, Change, Reason string }
	}
}

func checkChanged(t *testing.T, in, out []byte) {
	t.Helper()
	var a, b fuzzMsg
	if json.Unmarshal(in, &a) != nil || json.Unmarshal(out, &b) != nil {
		t.Fatalf("changed record does not decode: %q -> %q", in, out)
	}
	payloadA, payloadB := a.Record, b.Record
	metaOut := member(out, "meta")
	if data, ok := a.Record["data"].(map[string]any); ok && a.Stream == "" {
		payloadA = data
		payloadB, _ = b.Record["data"].(map[string]any)
		metaOut = member(member(out, "record"), "meta")
	}
	// The lineage is read by exact key: encoding/json matches struct
	// fields case-insensitively, so an input member such as "ChAnges"
	// after the real "changes" would hide it.
	var meta struct {
		Changes []struct{ Field, Change, Reason string }
	}
	json.Unmarshal(member(metaOut, "changes"), &meta.Changes)
	if len(meta.Changes) == 0 {
		t.Fatalf("changed record without lineage: %q -> %q", in, out)
	}
	for k, va := range payloadA {
		if reflect.DeepEqual(va, payloadB[k]) {
			continue
		}
		listed := false
		for _, c := range meta.Changes {
			if c.Field == k || strings.HasPrefix(c.Field, k+".") || strings.HasPrefix(c.Field, k+"[") {
				listed = true
			}
		}
		if !listed && !strings.ContainsAny(k, `\."[`) {
			t.Fatalf("field %q changed but not listed: %q -> %q", k, in, out)
		}
	}
}

// member returns the member key of the JSON object raw (exact match; the
// last one if repeated), or nil.
func member(raw []byte, key string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m[key]
}
