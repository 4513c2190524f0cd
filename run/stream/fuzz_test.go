package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
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
		// Hostile shapes: a long key with an escape across the path cut,
		// deep nesting of keys, oversized numbers, duplicate keys.
		`{"type":"RECORD","stream":"s","record":{"` + strings.Repeat("k", 253) + `\u00e9\"x":"` + strings.Repeat("v", 300) + `"}}` + "\n",
		`{"type":"RECORD","stream":"s","record":{"d":` + strings.Repeat(`{"\u00e9\u00e9":`, 60) + `["0123456789abcdefghijk",123456789012345678901234]` + strings.Repeat("}", 60) + `}}` + "\n",
		`{"type":"RECORD","record":{"namespace":"n\u0001","stream":"s","data":{"v":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","v":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}}}` + "\n",
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
		for _, l := range strings.SplitAfter(flags, "\n") {
			if l != "" && !json.Valid([]byte(l)) {
				t.Fatalf("invalid flags line %q", l)
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

// FuzzStringMeasure checks the string walker against encoding/json: the
// decoded size of a valid string is the length encoding/json decodes it to
// (for valid UTF-8; invalid bytes count one each, passed byte-exact), and
// every cut (by decoded or raw budget) leaves a valid JSON string that
// decodes to a prefix of the whole, within the budget and at most one
// character short of it.
func FuzzStringMeasure(f *testing.F) {
	for _, s := range []string{"abc", `\u00e9\n\"\\`, "é€😀", `\ud83d\ude00\ud83d`, `\udc00x`, strings.Repeat(`a\u039a`, 50)} {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, content []byte, limit uint8) {
		quoted := append(append([]byte{'"'}, content...), '"')
		var full string
		if json.Unmarshal(quoted, &full) != nil {
			return
		}
		src := &memLine{b: quoted}
		n := int64(len(quoted))
		if utf8.Valid(content) {
			if got := decodedLen(src, 0, n); got != int64(len(full)) {
				t.Fatalf("decodedLen(%q) = %d, encoding/json: %d", content, got, len(full))
			}
		}
		lim := int64(limit)
		cut := truncCut(src, 0, n, lim)
		kept := append(append([]byte(nil), quoted[:cut]...), '"')
		var s string
		if err := json.Unmarshal(kept, &s); err != nil {
			t.Fatalf("truncCut(%q, %d) = %q: %v", content, lim, kept, err)
		}
		if dec := decodedLen(&memLine{b: kept}, 0, int64(len(kept))); dec > lim || cut < n-1 && lim-dec > 3 {
			t.Fatalf("truncCut(%q, %d) = %q: %d decoded bytes", content, lim, kept, dec)
		}
		if utf8.Valid(content) && !strings.HasPrefix(full, s) {
			t.Fatalf("truncCut(%q, %d) = %q: not a prefix of %q", content, lim, s, full)
		}
		raw := appendCut([]byte{'"'}, src, 1, n-1, lim)
		if int64(len(raw)) > lim+1 || json.Unmarshal(append(raw, '"'), &s) != nil || int64(len(raw)) < min(lim+1, n-1)-11 {
			t.Fatalf("appendCut(%q, %d) = %q", content, lim, raw)
		}
	})
}
