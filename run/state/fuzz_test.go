package state

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzApply feeds newline-separated state messages to a State and checks
// the invariants after each: Parse agrees with Apply; a refused message
// changes nothing; Bytes is valid JSON that Load reads back to the same
// Bytes; Empty agrees with Bytes.
func FuzzApply(f *testing.F) {
	for _, seed := range []string{
		sm("users", "", `{"id":1}`) + "\n" + sm("users", `"a"`, `{"id":2}`) + "\n" + sm("users", "null", `{"id":3}`),
		gm(`{"lsn":1}`, ss("a", "{}"), ss("a", `{"x":1}`)) + "\n" + sm("b", `""`, "{}"),
		`{"data":{"x":1}}` + "\n" + `{"type":"LEGACY","data":{}}` + "\n" + `{"type":"STREAM"}`,
		`{"type":"STREAM","stream":{"stream_descriptor":{"name":"\ud83d\ude00","namespace":"\u0000"}}}`,
		`{"type":"STREAM","stream":{"stream_descriptor":{"name":"\ud800"}}}` + "\n[]\n{}\nnull",
		`{"bookmarks":{"users":{"id":1}}}` + "\n1e999\n\"x\"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, p := range []Protocol{Airbyte, Singer} {
			s := NewLimited(p, Limits{Streams: 8, Bytes: 4096})
			for _, msg := range bytes.Split([]byte(in), []byte("\n")) {
				before := s.Bytes()
				_, perr := Parse(p, msg)
				err := s.Apply(msg)
				if (err == nil) != (perr == nil) {
					t.Fatalf("%v: Apply(%q) = %v but Parse = %v", p, msg, err, perr)
				}
				after := s.Bytes()
				if err != nil && !bytes.Equal(before, after) {
					t.Fatalf("%v: refused Apply(%q) changed %s to %s", p, msg, before, after)
				}
				if !json.Valid(after) {
					t.Fatalf("%v: Bytes %q is not valid JSON", p, after)
				}
				if empty := s.Empty(); p == Airbyte && empty != bytes.Equal(after, []byte("[]")) {
					t.Fatalf("%v: Empty %v with Bytes %s", p, empty, after)
				}
				r := NewLimited(p, Limits{Streams: 8, Bytes: 4096})
				if err := r.Load(after); err != nil {
					t.Fatalf("%v: Load(%s): %v", p, after, err)
				}
				if got := r.Bytes(); !bytes.Equal(got, after) {
					t.Fatalf("%v: Load(Bytes) gave\n%s\nwant\n%s", p, got, after)
				}
			}
		}
	})
}

// FuzzLoad: whatever a state file holds, Load either refuses it and keeps
// the state, or holds a state whose Bytes read back to themselves.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		arr(sm("a", "", "{}"), sm("a", `"n"`, "{}")), `{"users":1}`, `{"data":{}}`, "", "{}", "[]", "null",
		arr(gm("{}"), sm("a", "", "{}")), `[{"type":"GLOBAL","global":{"stream_states":[]}}]`, `"x"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, p := range []Protocol{Airbyte, Singer} {
			s := New(p)
			if p == Airbyte {
				apply(t, s, sm("keep", "", "{}"))
			} else {
				apply(t, s, `{"keep":1}`)
			}
			before := s.Bytes()
			if err := s.Load([]byte(in)); err != nil {
				if !bytes.Equal(s.Bytes(), before) {
					t.Fatalf("%v: refused Load(%q) changed the state", p, in)
				}
				continue
			}
			b := s.Bytes()
			r := New(p)
			if err := r.Load(b); err != nil || !bytes.Equal(r.Bytes(), b) {
				t.Fatalf("%v: Load(%q) holds %s, which reads back as %s (%v)", p, in, b, r.Bytes(), err)
			}
		}
	})
}
