package state

import (
	"errors"
	"strings"
	"testing"
)

// apply applies msgs in order and fails the test on the first error.
func apply(t *testing.T, s *State, msgs ...string) {
	t.Helper()
	for i, m := range msgs {
		if err := s.Apply([]byte(m)); err != nil {
			t.Fatalf("Apply(msg %d %s): %v", i, m, err)
		}
	}
}

func TestSingerStateIsTheLastValueWholesale(t *testing.T) {
	s := New(Singer)
	if !s.Empty() || string(s.Bytes()) != "{}" {
		t.Fatalf("new state: Empty %v, Bytes %s", s.Empty(), s.Bytes())
	}
	apply(t, s, `{"bookmarks":{"users":{"id":1},"orders":{"id":7}}}`, "{ \"bookmarks\" : {\"users\":{\"id\":12345678901234567890123}}\n}")
	if got, want := string(s.Bytes()), `{"bookmarks":{"users":{"id":12345678901234567890123}}}`; got != want {
		t.Fatalf("Bytes = %s, want %s (replaced wholesale, number kept exactly, compacted)", got, want)
	}
	if s.Empty() || s.Kind() != "" {
		t.Fatalf("Empty %v Kind %q", s.Empty(), s.Kind())
	}
	apply(t, s, `null`)
	if !s.Empty() || string(s.Bytes()) != "{}" {
		t.Fatalf("after a null value: Empty %v, Bytes %s", s.Empty(), s.Bytes())
	}
	apply(t, s, `[1,"two"]`)
	if string(s.Bytes()) != `[1,"two"]` {
		t.Fatalf("a non-object value is kept as sent, got %s", s.Bytes())
	}
}

func TestSingerRefusesWhatATapCannotReadBack(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, "empty"},
		{`{"a":`, "not valid JSON"},
		{`{"a":1} {"b":2}`, "not valid JSON"},
		{"{\"a\":\"\xff\"}", "not valid UTF-8 (byte 6)"},
	} {
		s := New(Singer)
		apply(t, s, `{"keep":1}`)
		err := s.Apply([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Apply(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
		if string(s.Bytes()) != `{"keep":1}` {
			t.Errorf("Apply(%q) failed but changed the state to %s", tc.in, s.Bytes())
		}
	}
}

func TestSingerLimit(t *testing.T) {
	s := NewLimited(Singer, Limits{Bytes: 10})
	apply(t, s, `{"a":1}`)
	err := s.Apply([]byte(`{"a":"0123456789"}`))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Apply over the byte limit: %v, want ErrTooLarge", err)
	}
	if string(s.Bytes()) != `{"a":1}` {
		t.Fatalf("refused Apply changed the state: %s", s.Bytes())
	}
}

func TestCloneIsIndependent(t *testing.T) {
	s := New(Airbyte)
	apply(t, s, sm("a", "", `{"n":1}`))
	c := s.Clone()
	apply(t, s, sm("a", "", `{"n":2}`), sm("b", "", `{"n":1}`))
	if got := string(c.Bytes()); got != "["+sm("a", "", `{"n":1}`)+"]" {
		t.Fatalf("clone changed with the original: %s", got)
	}
	apply(t, c, sm("c", "", `{}`))
	if strings.Contains(string(s.Bytes()), `"c"`) {
		t.Fatalf("original changed with the clone: %s", s.Bytes())
	}
}

func TestBytesIsTheCallersToKeep(t *testing.T) {
	for _, p := range []Protocol{Singer, Airbyte} {
		s := New(p)
		msg := `{"x":1}`
		if p == Airbyte {
			msg = sm("a", "", `{"x":1}`)
		}
		apply(t, s, msg)
		b := s.Bytes()
		want := string(b)
		for i := range b {
			b[i] = 'X'
		}
		if string(s.Bytes()) != want {
			t.Fatalf("%v: writing into Bytes' result changed the state", p)
		}
	}
}
