package state

import (
	"errors"
	"strings"
	"testing"
)

func TestLoadAcceptsEveryFormAStateFileHas(t *testing.T) {
	u1, o1 := sm("users", "", `{"id":1}`), sm("orders", `"shop"`, `{"id":2}`)
	for _, tc := range []struct {
		name, file, want string
		empty            bool
		kind             Kind
	}{
		{"the array Bytes writes", arr(u1, o1) + "\n", arr(u1, o1), false, Stream},
		{"an array in another order, pretty-printed", "[\n  " + o1 + ",\n  " + u1 + "\n]\n", arr(u1, o1), false, Stream},
		{"one GLOBAL in an array", arr(gm("{}", ss("a", "{}"))), arr(gm("{}", ss("a", "{}"))), false, Global},
		{"one state message, as syncbox wrote it before", u1, arr(u1), false, Stream},
		{"one GLOBAL message", gm(`{"lsn":1}`), arr(gm(`{"lsn":1}`)), false, Global},
		{"one LEGACY message without type", `{"data":{"users":5}}`, arr(`{"data":{"users":5}}`), false, Legacy},
		{"a legacy state blob", `{"users":{"cursor":"2026-01-01"},"type":"x"}`, arr(`{"type":"LEGACY","data":{"users":{"cursor":"2026-01-01"},"type":"x"}}`), false, Legacy},
		{"{}", "{}\n", "[]", true, ""},
		{"[]", "[]", "[]", true, ""},
		{"null", "null", "[]", true, ""},
		{"an empty file", "", "[]", true, ""},
		{"only whitespace", " \n\t\n", "[]", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Airbyte)
			apply(t, s, sm("old", "", "{}")) // Load replaces what was held
			if err := s.Load([]byte(tc.file)); err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := string(s.Bytes()); got != tc.want {
				t.Errorf("Bytes\n got %s\nwant %s", got, tc.want)
			}
			if s.Empty() != tc.empty || s.Kind() != tc.kind {
				t.Errorf("Empty %v Kind %q, want %v %q", s.Empty(), s.Kind(), tc.empty, tc.kind)
			}
		})
	}
}

func TestLoadRefusesAFileASourceWouldMisreadAndKeepsTheState(t *testing.T) {
	u1 := sm("users", "", `{"id":1}`)
	for _, tc := range []struct{ file, want string }{
		{`"users"`, "state file: want an array of Airbyte state messages, got a string"},
		{`12`, "got a number"},
		{`[1]`, "state file, message 0: airbyte state message: want an object, got a number"},
		{arr(u1, `{"type":"STREAM"}`), "state file, message 1: a STREAM state message without its stream"},
		{arr(u1, gm("{}")), "state file, message 1: a GLOBAL message after STREAM ones"},
		{arr(gm("{}"), u1), "state file, message 1: a STREAM message after GLOBAL ones"},
		{arr(gm("{}"), gm("{}")), "state file, message 1: a second GLOBAL message"},
		{arr(`{"data":{}}`, `{"type":"LEGACY","data":{}}`), "state file, message 1: a second LEGACY message"},
		{arr(u1, sm("orders", "", "{}"), sm("users", "null", "{}")), "state file, message 2: stream users again (first in message 0)"},
		{`{"type":"STREAM"}`, "state file: a STREAM state message without its stream"},
		{`{"type":"FULL","data":{}}`, `state file: state message type "FULL"`},
		{`[` + u1, "state file: not valid JSON"},
		{"\xfe", "state file: not valid UTF-8 (byte 0)"},
	} {
		s := New(Airbyte)
		apply(t, s, sm("keep", "", "{}"))
		err := s.Load([]byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) = %v, want an error with %q", tc.file, err, tc.want)
		}
		if got := string(s.Bytes()); got != arr(sm("keep", "", "{}")) {
			t.Errorf("Load(%s) failed but changed the state to %s", tc.file, got)
		}
	}
}

func TestLoadLimits(t *testing.T) {
	s := NewLimited(Airbyte, Limits{Streams: 2})
	err := s.Load([]byte(arr(sm("a", "", "{}"), sm("b", "", "{}"), sm("c", "", "{}"))))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Load of 3 streams with a limit of 2: %v, want ErrTooLarge", err)
	}
	s = NewLimited(Singer, Limits{Bytes: 4})
	if err := s.Load([]byte(`{"a":1}`)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Singer Load over the byte limit: %v", err)
	}
}

func TestSingerLoad(t *testing.T) {
	for _, tc := range []struct {
		file, want string
		empty      bool
	}{
		{"{\"bookmarks\": {\"users\": {\"id\": 3}}}\n", `{"bookmarks":{"users":{"id":3}}}`, false},
		{"", "{}", true},
		{"null\n", "{}", true},
		{"{}", "{}", false},
	} {
		s := New(Singer)
		if err := s.Load([]byte(tc.file)); err != nil {
			t.Fatalf("Load(%q): %v", tc.file, err)
		}
		if string(s.Bytes()) != tc.want || s.Empty() != tc.empty {
			t.Errorf("Load(%q): Bytes %s Empty %v, want %s %v", tc.file, s.Bytes(), s.Empty(), tc.want, tc.empty)
		}
	}
	s := New(Singer)
	if err := s.Load([]byte(`{"a":`)); err == nil || !strings.Contains(err.Error(), "state file: not valid JSON") {
		t.Fatalf("Load of broken JSON: %v", err)
	}
}
