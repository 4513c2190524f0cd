package state

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func sent(t *testing.T, tr *Tracker, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if err := tr.Sent([]byte(m)); err != nil {
			t.Fatalf("Sent(%s): %v", m, err)
		}
	}
}

func confirm(t *testing.T, tr *Tracker, echo string, wantAdvance bool) {
	t.Helper()
	adv, err := tr.Confirm([]byte(echo))
	if err != nil || adv != wantAdvance {
		t.Fatalf("Confirm(%s) = %v, %v; want %v, nil", echo, adv, err, wantAdvance)
	}
}

func TestTrackerSingerAdvancesOnlyOnTheTargetsState(t *testing.T) {
	tr := NewTracker(New(Singer))
	sent(t, tr, `{"n":1}`, `{"n":2}`, `{"n":3}`)
	if !tr.Confirmed().Empty() {
		t.Fatalf("confirmed %s before the target said anything", tr.Confirmed().Bytes())
	}
	confirm(t, tr, `{ "n": 2 }`, true)
	if got := string(tr.Confirmed().Bytes()); got != `{"n":2}` || tr.Pending() != 1 {
		t.Fatalf("confirmed %s, %d pending; want {\"n\":2}, 1", got, tr.Pending())
	}
	confirm(t, tr, `{"n":2}`, false) // the same echo again
	confirm(t, tr, `{"n":3}`, true)
	if got := string(tr.Confirmed().Bytes()); got != `{"n":3}` || tr.Pending() != 0 {
		t.Fatalf("confirmed %s, %d pending", got, tr.Pending())
	}
}

// An echo of a later message commits the earlier ones too: records before
// it, and so the states between them, were committed. A destination that
// echoes only its last state (airbyte-faros-destination in dry_run) still
// confirms every stream.
func TestTrackerAirbyteEchoCommitsEveryEarlierState(t *testing.T) {
	tr := NewTracker(New(Airbyte))
	a1, b1, a2 := sm("a", `"x"`, `{"c":1}`), sm("b", "", `{"c":1}`), sm("a", `"x"`, `{"c":2}`)
	sent(t, tr, a1, b1, a2)
	confirm(t, tr, b1, true)
	if got, want := string(tr.Confirmed().Bytes()), arr(b1, a1); got != want {
		t.Fatalf("after the echo of b1\n got %s\nwant %s", got, want)
	}
	confirm(t, tr, a2, true)
	if got, want := string(tr.Confirmed().Bytes()), arr(b1, a2); got != want {
		t.Fatalf("after the echo of a2\n got %s\nwant %s", got, want)
	}
}

func TestTrackerKeepsTheTapsBytesNotTheEchos(t *testing.T) {
	tr := NewTracker(New(Airbyte))
	tap := `{"type":"STREAM","stream":{"stream_descriptor":{"name":"u","namespace":"n"},"stream_state":{"cursor":99990000000000000003}},"sourceStats":{"recordCount":2.0}}`
	// As a JavaScript destination echoes it, plus the stats a Java one adds.
	echo := `{"sourceStats":{"recordCount":2},"stream":{"stream_descriptor":{"name":"u","namespace":"n"},"stream_state":{"cursor":99990000000000000000}},"type":"STREAM","destinationStats":{"recordCount":2}}`
	sent(t, tr, tap)
	confirm(t, tr, echo, true)
	if got := string(tr.Confirmed().Bytes()); got != "["+tap+"]" {
		t.Fatalf("confirmed %s, want the tap's bytes", got)
	}
}

func TestTrackerRefusesAnEchoItCannotMatch(t *testing.T) {
	st := New(Airbyte)
	apply(t, st, sm("a", "", `{"c":0}`))
	tr := NewTracker(st)
	sent(t, tr, sm("a", "", `{"c":1}`))
	for _, echo := range []string{sm("a", "", `{"c":7}`), sm("a", `"other"`, `{"c":1}`), `{"a":`} {
		adv, err := tr.Confirm([]byte(echo))
		if adv || err == nil {
			t.Errorf("Confirm(%s) = %v, %v; want an error", echo, adv, err)
		}
		if !strings.HasPrefix(echo, `{"a":`) && !errors.Is(err, ErrUnmatched) {
			t.Errorf("Confirm(%s): %v, want ErrUnmatched", echo, err)
		}
	}
	if got := string(tr.Confirmed().Bytes()); got != arr(sm("a", "", `{"c":0}`)) || tr.Pending() != 1 {
		t.Fatalf("refused echoes changed the state: %s, %d pending", got, tr.Pending())
	}
}

// The same state sent twice with another stream's between: the echo is
// taken to mean the first (the conservative reading).
func TestTrackerMatchesTheOldestEqualMessage(t *testing.T) {
	tr := NewTracker(New(Airbyte))
	a, b := sm("a", "", `{"c":1}`), sm("b", "", `{"c":1}`)
	sent(t, tr, a, b, a)
	confirm(t, tr, a, true)
	if got := string(tr.Confirmed().Bytes()); got != arr(a) || tr.Pending() != 2 {
		t.Fatalf("confirmed %s with %d pending; want only a, 2 pending", got, tr.Pending())
	}
}

func TestTrackerConfirmAll(t *testing.T) {
	tr := NewTracker(New(Airbyte))
	sent(t, tr, sm("a", "", `{"c":1}`), sm("b", "", `{"c":1}`))
	if err := tr.ConfirmAll(); err != nil {
		t.Fatal(err)
	}
	if got := string(tr.Confirmed().Bytes()); got != arr(sm("a", "", `{"c":1}`), sm("b", "", `{"c":1}`)) || tr.Pending() != 0 {
		t.Fatalf("after ConfirmAll: %s, %d pending", got, tr.Pending())
	}
	confirm(t, tr, sm("b", "", `{"c":1}`), false) // a late echo of the last one
}

func TestTrackerSentRefusesWhatTheStateCouldNotHold(t *testing.T) {
	tr := NewTracker(New(Airbyte))
	if err := tr.Sent([]byte(`{"type":"STREAM"}`)); err == nil || tr.Pending() != 0 {
		t.Fatalf("Sent of a bad message: %v, %d pending", err, tr.Pending())
	}
}

// Beyond MaxPending unconfirmed messages the oldest are folded into one
// state: memory stays bounded, and a later echo still commits them.
func TestTrackerFoldsOldMessagesAndStillCommitsThem(t *testing.T) {
	tr := NewTracker(New(Airbyte))
	n := MaxPending + 50
	for i := range n {
		sent(t, tr, sm(fmt.Sprintf("s%05d", i), "", `{"c":1}`))
	}
	if tr.Pending() != MaxPending {
		t.Fatalf("%d pending, want at most %d", tr.Pending(), MaxPending)
	}
	// A folded message cannot be confirmed by itself.
	if _, err := tr.Confirm([]byte(sm("s00000", "", `{"c":1}`))); !errors.Is(err, ErrUnmatched) {
		t.Fatalf("Confirm of a folded message: %v, want ErrUnmatched", err)
	}
	confirm(t, tr, sm(fmt.Sprintf("s%05d", n-1), "", `{"c":1}`), true)
	if got := len(tr.Confirmed().Streams()); got != n || tr.Pending() != 0 {
		t.Fatalf("%d streams confirmed, %d pending; want %d, 0", got, tr.Pending(), n)
	}
}

// Review finding: a re-echo of the confirmed state must not commit the next
// pending one when big integer cursors compare equal as doubles.
func TestRepeatedEchoWithBigCursorsDoesNotAdvance(t *testing.T) {
	tr := NewTracker(New(Singer))
	for _, m := range []string{`{"c":1234567890123456700}`, `{"c":1234567890123456701}`} {
		if err := tr.Sent([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := tr.Confirm([]byte(`{"c":1234567890123456700}`)); err != nil {
			t.Fatal(err)
		}
	}
	if got := string(tr.Confirmed().Bytes()); got != `{"c":1234567890123456700}` {
		t.Fatalf("confirmed %s after two echoes of the first state; the second was never confirmed", got)
	}
}
