package state

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// sm is a STREAM state message; ns is the namespace member's JSON ("" for
// no namespace member at all).
func sm(name, ns, blob string) string {
	d := fmt.Sprintf(`{"name":%q}`, name)
	if ns != "" {
		d = fmt.Sprintf(`{"name":%q,"namespace":%s}`, name, ns)
	}
	return fmt.Sprintf(`{"type":"STREAM","stream":{"stream_descriptor":%s,"stream_state":%s}}`, d, blob)
}

func gm(shared string, streams ...string) string {
	return fmt.Sprintf(`{"type":"GLOBAL","global":{"shared_state":%s,"stream_states":[%s]}}`, shared, strings.Join(streams, ","))
}

// ss is an AirbyteStreamState (an element of a GLOBAL's stream_states).
func ss(name, blob string) string {
	return fmt.Sprintf(`{"stream_descriptor":{"name":%q},"stream_state":%s}`, name, blob)
}

func arr(msgs ...string) string { return "[" + strings.Join(msgs, ",") + "]" }

func TestAirbyteRules(t *testing.T) {
	legacy := `{"type":"LEGACY","data":{"users":{"cursor":"2026-01-01"}}}`
	for _, tc := range []struct {
		name string
		msgs []string
		want string
		kind Kind
	}{
		{"per-stream states of different streams are all kept (issue 11: users then orders)",
			[]string{sm("users", "", `{"id":10}`), sm("orders", "", `{"id":7}`)},
			arr(sm("orders", "", `{"id":7}`), sm("users", "", `{"id":10}`)), Stream},
		{"the newest state of a stream replaces its older one",
			[]string{sm("users", "", `{"id":10}`), sm("orders", "", `{"id":7}`), sm("users", "", `{"id":20}`)},
			arr(sm("orders", "", `{"id":7}`), sm("users", "", `{"id":20}`)), Stream},
		{"same name in different namespaces are different streams",
			[]string{sm("users", `"b"`, `{"id":2}`), sm("users", `"a"`, `{"id":1}`), sm("users", "", `{"id":0}`), sm("users", `"a"`, `{"id":3}`)},
			arr(sm("users", "", `{"id":0}`), sm("users", `"a"`, `{"id":3}`), sm("users", `"b"`, `{"id":2}`)), Stream},
		{"an absent and a null namespace are the same stream",
			[]string{sm("users", "", `{"id":1}`), sm("users", "null", `{"id":2}`)},
			arr(sm("users", "null", `{"id":2}`)), Stream},
		{"an empty namespace is a namespace of its own",
			[]string{sm("users", "", `{"id":1}`), sm("users", `""`, `{"id":2}`)},
			arr(sm("users", "", `{"id":1}`), sm("users", `""`, `{"id":2}`)), Stream},
		{"names are compared decoded: a and \\u0061 are one stream",
			[]string{sm("a", "", `{"id":1}`), `{"type":"STREAM","stream":{"stream_descriptor":{"name":"\u0061"},"stream_state":{"id":2}}}`},
			arr(`{"type":"STREAM","stream":{"stream_descriptor":{"name":"\u0061"},"stream_state":{"id":2}}}`), Stream},
		{"GLOBAL replaces per-stream states (a source reads a GLOBAL only alone)",
			[]string{sm("users", "", `{"id":1}`), sm("orders", "", `{"id":1}`), gm(`{"lsn":5}`, ss("users", `{"id":2}`))},
			arr(gm(`{"lsn":5}`, ss("users", `{"id":2}`))), Global},
		{"a newer GLOBAL replaces the older one, streams it no longer carries included",
			[]string{gm(`{"lsn":5}`, ss("users", `{}`), ss("orders", `{}`)), gm(`{"lsn":9}`, ss("users", `{"id":3}`))},
			arr(gm(`{"lsn":9}`, ss("users", `{"id":3}`))), Global},
		{"a STREAM state after a GLOBAL replaces it",
			[]string{gm(`{"lsn":5}`, ss("users", `{}`)), sm("users", "", `{"id":4}`)},
			arr(sm("users", "", `{"id":4}`)), Stream},
		{"LEGACY is kept as the message it came in",
			[]string{sm("users", "", `{"id":1}`), legacy},
			arr(legacy), Legacy},
		{"a message without type is LEGACY and kept without one",
			[]string{`{"data":{"x":1}}`},
			arr(`{"data":{"x":1}}`), Legacy},
		{"a null type is LEGACY",
			[]string{`{"type":null,"data":{"x":1}}`},
			arr(`{"type":null,"data":{"x":1}}`), Legacy},
		{"STREAM after LEGACY replaces it",
			[]string{legacy, sm("users", "", `{"id":1}`)},
			arr(sm("users", "", `{"id":1}`)), Stream},
		{"members are exact: Type is not type",
			[]string{`{"Type":"GLOBAL","data":{"x":1}}`},
			arr(`{"Type":"GLOBAL","data":{"x":1}}`), Legacy},
		{"a repeated member counts once, the last (as Python and Jackson read it)",
			[]string{`{"type":"GLOBAL","type":"STREAM","stream":{"stream_descriptor":{"name":"u"}}}`},
			arr(`{"type":"GLOBAL","type":"STREAM","stream":{"stream_descriptor":{"name":"u"}}}`), Stream},
		{"unknown members, stats and big numbers are kept exactly, whitespace dropped",
			[]string{"{\"type\":\"STREAM\", \"stream\":{\"stream_descriptor\":{\"name\":\"u\"},\"stream_state\":{\"c\":123456789012345678901234567890.5e-3}},\"sourceStats\":{\"recordCount\":3.0},\"x-extra\":[1, 2]}"},
			arr(`{"type":"STREAM","stream":{"stream_descriptor":{"name":"u"},"stream_state":{"c":123456789012345678901234567890.5e-3}},"sourceStats":{"recordCount":3.0},"x-extra":[1,2]}`), Stream},
		{"a stream state may be null or absent",
			[]string{`{"type":"STREAM","stream":{"stream_descriptor":{"name":"u"}}}`, sm("v", "", "null")},
			arr(`{"type":"STREAM","stream":{"stream_descriptor":{"name":"u"}}}`, sm("v", "", "null")), Stream},
		{"a surrogate pair in a name is fine and equals the character",
			[]string{sm("\U0001F600", "", `{"id":1}`), `{"type":"STREAM","stream":{"stream_descriptor":{"name":"\ud83d\ude00"}}}`},
			arr(`{"type":"STREAM","stream":{"stream_descriptor":{"name":"\ud83d\ude00"}}}`), Stream},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Airbyte)
			apply(t, s, tc.msgs...)
			if got := string(s.Bytes()); got != tc.want {
				t.Errorf("Bytes\n got %s\nwant %s", got, tc.want)
			}
			if s.Kind() != tc.kind || s.Empty() {
				t.Errorf("Kind %q Empty %v, want %q and not empty", s.Kind(), s.Empty(), tc.kind)
			}
			// The persisted form reads back as the same state.
			r := New(Airbyte)
			if err := r.Load(s.Bytes()); err != nil {
				t.Fatalf("Load(Bytes()): %v", err)
			}
			if got := string(r.Bytes()); got != tc.want {
				t.Errorf("after Load(Bytes())\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestAirbyteEmpty(t *testing.T) {
	s := New(Airbyte)
	if !s.Empty() || string(s.Bytes()) != "[]" || s.Kind() != "" || s.Streams() != nil {
		t.Fatalf("new state: Empty %v Bytes %s Kind %q Streams %v", s.Empty(), s.Bytes(), s.Kind(), s.Streams())
	}
}

func TestAirbyteRefusesHostileMessagesAndKeepsTheState(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`[` + sm("u", "", "{}") + `]`, "want an object, got an array"},
		{`"STREAM"`, "want an object, got a string"},
		{`42`, "want an object, got a number"},
		{`null`, "want an object, got null"},
		{``, "empty"},
		{`{"type":"STREAM"`, "not valid JSON"},
		{sm("u", "", "{}") + `{}`, "not valid JSON"},
		{"{\"type\":\"STREAM\",\"stream\":{\"stream_descriptor\":{\"name\":\"\xc3\"}}}", "not valid UTF-8 (byte 56)"},
		{`{"type":"PER_STREAM","stream":{}}`, `type "PER_STREAM": want STREAM, GLOBAL or LEGACY`},
		{`{"type":"stream","stream":{}}`, `type "stream"`},
		{`{"type":1}`, "state message type: want a string, got a number"},
		{`{"type":"STREAM"}`, "a STREAM state message without its stream"},
		{`{"type":"STREAM","stream":null}`, "a STREAM state message without its stream"},
		{`{"type":"STREAM","stream":[]}`, "stream: want an object, got an array"},
		{`{"type":"STREAM","stream":{"stream_state":{}}}`, "stream: no stream_descriptor"},
		{`{"type":"STREAM","stream":{"stream_descriptor":"users"}}`, "stream.stream_descriptor: want an object, got a string"},
		{`{"type":"STREAM","stream":{"stream_descriptor":{"namespace":"a"}}}`, "stream.stream_descriptor: no name"},
		{`{"type":"STREAM","stream":{"stream_descriptor":{"name":7}}}`, "stream.stream_descriptor.name: want a string, got a number"},
		{`{"type":"STREAM","stream":{"stream_descriptor":{"name":"u","namespace":true}}}`, "stream.stream_descriptor.namespace: want a string, got a boolean"},
		{`{"type":"STREAM","stream":{"stream_descriptor":{"name":"u"},"stream_state":[1]}}`, "stream.stream_state: want an object, got an array"},
		{`{"type":"STREAM","stream":{"stream_descriptor":{"name":"\ud800"}}}`, `unpaired surrogate \ud800`},
		{`{"type":"STREAM","stream":{"stream_descriptor":{"name":"\udc00x"}}}`, `unpaired surrogate \udc00`},
		{`{"type":"STREAM","stream":{"stream_descriptor":{"name":"u","namespace":"\ud800\u0041"}}}`, `namespace: unpaired surrogate \ud800`},
		{`{"type":"GLOBAL"}`, "a GLOBAL state message without its global"},
		{`{"type":"GLOBAL","global":{"shared_state":{}}}`, "global.stream_states: want an array, got nothing"},
		{`{"type":"GLOBAL","global":{"stream_states":{}}}`, "global.stream_states: want an array, got an object"},
		{`{"type":"GLOBAL","global":{"shared_state":"x","stream_states":[]}}`, "global.shared_state: want an object, got a string"},
		{`{"type":"GLOBAL","global":{"stream_states":[` + ss("a", "{}") + `,{"stream_state":{}}]}}`, "global.stream_states[1]: no stream_descriptor"},
		{`{"type":"GLOBAL","global":{"stream_states":[7]}}`, "global.stream_states[0]: want an object, got a number"},
		{`{"type":"LEGACY"}`, "a LEGACY state message needs a data object, got nothing"},
		{`{"data":"x"}`, "a LEGACY state message needs a data object, got a string"},
		{`{}`, "a LEGACY state message needs a data object, got nothing"},
	} {
		s := New(Airbyte)
		before := arr(sm("keep", `"ns"`, `{"id":1}`))
		apply(t, s, sm("keep", `"ns"`, `{"id":1}`))
		err := s.Apply([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Apply(%s) = %v, want an error with %q", tc.in, err, tc.want)
		}
		if _, perr := Parse(Airbyte, []byte(tc.in)); perr == nil || (err != nil && perr.Error() != err.Error()) {
			t.Errorf("Parse(%s) = %v, want Apply's error %v", tc.in, perr, err)
		}
		if got := string(s.Bytes()); got != before {
			t.Errorf("Apply(%s) failed but changed the state to %s", tc.in, got)
		}
	}
}

func TestParseTellsWhichStreamsAMessageTouches(t *testing.T) {
	u := Descriptor{Name: "users"}
	ua := Descriptor{Name: "users", Namespace: "a", HasNamespace: true}
	for _, tc := range []struct {
		p    Protocol
		msg  string
		kind Kind
		want []Descriptor
	}{
		{Airbyte, sm("users", "", "{}"), Stream, []Descriptor{u}},
		{Airbyte, sm("users", "null", "{}"), Stream, []Descriptor{u}},
		{Airbyte, sm("users", `"a"`, "{}"), Stream, []Descriptor{ua}},
		{Airbyte, `{"type":"GLOBAL","global":{"stream_states":[` + ss("users", "{}") + `,{"stream_descriptor":{"name":"users","namespace":"a"}},` + ss("users", `{"x":1}`) + `]}}`, Global, []Descriptor{u, ua}},
		{Airbyte, `{"type":"GLOBAL","global":{"stream_states":[]}}`, Global, []Descriptor{}},
		{Airbyte, `{"data":{}}`, Legacy, nil},
		{Singer, `{"bookmarks":{"users":{}}}`, "", nil},
	} {
		m, err := Parse(tc.p, []byte(tc.msg))
		if err != nil {
			t.Fatalf("Parse(%s): %v", tc.msg, err)
		}
		if m.Kind != tc.kind || !slices.Equal(m.Streams, tc.want) || (tc.want == nil) != (m.Streams == nil) {
			t.Errorf("Parse(%s) = %+v, want %s %v", tc.msg, m, tc.kind, tc.want)
		}
	}
	if got := ua.String(); got != "a.users" {
		t.Errorf("String() = %q", got)
	}
}

func TestStreamsListsWhatTheStateCovers(t *testing.T) {
	s := New(Airbyte)
	apply(t, s, sm("b", "", "{}"), sm("a", `"x"`, "{}"), sm("a", "", "{}"))
	want := []Descriptor{{Name: "a"}, {Name: "b"}, {Name: "a", Namespace: "x", HasNamespace: true}}
	if got := s.Streams(); !slices.Equal(got, want) {
		t.Fatalf("Streams() = %v, want %v", got, want)
	}
	apply(t, s, gm("{}", ss("g", "{}")))
	if got := s.Streams(); !slices.Equal(got, []Descriptor{{Name: "g"}}) {
		t.Fatalf("Streams() of a GLOBAL = %v", got)
	}
	apply(t, s, `{"data":{}}`)
	if got := s.Streams(); got != nil {
		t.Fatalf("Streams() of a LEGACY = %v", got)
	}
}

func TestAirbyteLimits(t *testing.T) {
	s := NewLimited(Airbyte, Limits{Streams: 3, Bytes: 1000})
	apply(t, s, sm("a", "", "{}"), sm("b", "", "{}"), sm("c", "", "{}"))
	before := string(s.Bytes())
	for _, msg := range []string{
		sm("d", "", "{}"),
		gm("{}", ss("a", "{}"), ss("b", "{}"), ss("c", "{}"), ss("d", "{}")),
		sm("a", "", `{"pad":"`+strings.Repeat("x", 1000)+`"}`),
		`{"data":{"pad":"` + strings.Repeat("x", 1000) + `"}}`,
	} {
		if err := s.Apply([]byte(msg)); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Apply(%.60s...) = %v, want ErrTooLarge", msg, err)
		}
		if string(s.Bytes()) != before {
			t.Fatalf("a refused Apply changed the state")
		}
	}
	// Updating a stream it holds, or switching to another kind, is fine.
	apply(t, s, sm("a", "", `{"id":2}`), gm("{}", ss("a", "{}"), ss("b", "{}"), ss("c", "{}")), sm("z", "", "{}"))
	if got, want := string(s.Bytes()), arr(sm("z", "", "{}")); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestAirbyteManyStreams: at the default limit of streams, in random
// order, the state holds every one in order, and one more is refused.
func TestAirbyteManyStreams(t *testing.T) {
	n := DefaultMaxStreams
	if testing.Short() {
		n = 1000
	}
	s := NewLimited(Airbyte, Limits{Streams: n})
	perm := make([]int, n)
	for i := range perm {
		perm[i] = (i * 7919) % n // 7919 is prime and does not divide n
	}
	for i, p := range perm {
		if err := s.Apply([]byte(sm(fmt.Sprintf("s%06d", p), "", `{"i":1}`))); err != nil {
			t.Fatal(err)
		}
		if i%(n/10) == 0 {
			s.Bytes() // sorting in between must not lose streams
		}
	}
	if err := s.Apply([]byte(sm("one-more", "", "{}"))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("stream %d: %v, want ErrTooLarge", n+1, err)
	}
	ds := s.Streams()
	if len(ds) != n {
		t.Fatalf("%d streams held, want %d", len(ds), n)
	}
	for i, d := range ds {
		if want := fmt.Sprintf("s%06d", i); d.Name != want {
			t.Fatalf("stream %d is %s, want %s", i, d.Name, want)
		}
	}
}
