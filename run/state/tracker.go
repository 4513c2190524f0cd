package state

// This file holds the pipeline rule: a tap's STATE only means "emitted";
// the checkpoint advances when the target prints a STATE, which (Singer
// and Airbyte alike) says every record before it was committed, and so
// every STATE the tap sent before it too.

import (
	"errors"
	"fmt"
)

// ErrUnmatched is wrapped by Confirm's error when the target printed a
// state the tap did not send (or not since the last confirmation).
var ErrUnmatched = errors.New("the target confirmed a state the tap did not send")

// MaxPending bounds the tap's unconfirmed state messages a Tracker keeps
// one by one; older ones are folded into one state, which a later
// confirmation commits with them. Confirming a folded message by itself
// is then not possible: only a newer one (or ConfirmAll) commits it.
const MaxPending = 4096

// Tracker holds the confirmed state and the tap's STATE messages its
// target has not confirmed yet. It is not safe for concurrent use.
type Tracker struct {
	confirmed *State
	folded    *State   // confirmed + pending messages dropped from the queue; nil if none
	pending   [][]byte // compacted, oldest first
	decoded   []any    // pending, decoded once (comparable form), for Confirm
	bytes     int      // of pending
	last      any      // decoded last confirmed message, to recognise a repeated echo
}

// NewTracker starts from confirmed, the state persisted so far (the
// Tracker owns it from now on).
func NewTracker(confirmed *State) *Tracker { return &Tracker{confirmed: confirmed} }

// Confirmed returns the confirmed state: persist its Bytes after a
// Confirm that advanced. The caller must not modify it; Clone it to keep.
func (t *Tracker) Confirmed() *State { return t.confirmed }

// Pending returns how many of the tap's messages await confirmation.
func (t *Tracker) Pending() int { return len(t.pending) }

// Sent records a STATE message the tap sent (the form Apply takes). It is
// checked as Apply would check it, so a message the state could not hold
// is refused here, before the target confirms it.
func (t *Tracker) Sent(msg []byte) error {
	p := t.confirmed.proto
	var raw []byte
	if p == Singer {
		v, err := parseSinger(msg)
		if err != nil {
			return err
		}
		raw = v
	} else {
		m, err := parseAirbyte(msg)
		if err != nil {
			return err
		}
		raw = m.raw
	}
	if len(raw) > t.confirmed.limits.Bytes {
		return fmt.Errorf("%w: a state message of %d bytes, the limit %d", ErrTooLarge, len(raw), t.confirmed.limits.Bytes)
	}
	for len(t.pending) > 0 && (len(t.pending) >= MaxPending || t.bytes+len(raw) > t.confirmed.limits.Bytes) {
		if err := t.fold(); err != nil {
			return err
		}
	}
	v, _ := decodeLoose(raw)
	t.pending = append(t.pending, raw)
	t.decoded = append(t.decoded, t.comparable(v))
	t.bytes += len(raw)
	return nil
}

func (t *Tracker) fold() error {
	if t.folded == nil {
		t.folded = t.confirmed.Clone()
	}
	m := t.pending[0]
	if err := t.folded.Apply(m); err != nil {
		return fmt.Errorf("fold an unconfirmed state: %w", err)
	}
	t.pending, t.decoded, t.bytes = t.pending[1:], t.decoded[1:], t.bytes-len(m)
	return nil
}

// Confirm takes a STATE the target printed (the form Apply takes). It
// finds the oldest pending message the echo stands for (Equivalent, and
// for Airbyte ignoring the destinationStats a destination adds), and
// commits it with every message sent before it, applying the tap's bytes,
// never the echo's. It reports whether the confirmed state advanced: a
// repeated echo of the last confirmed message does nothing. An echo that
// matches nothing returns ErrUnmatched and changes nothing.
func (t *Tracker) Confirm(echo []byte) (bool, error) {
	e, ok := decodeLoose(echo)
	if !ok {
		return false, fmt.Errorf("the target's state message is not valid JSON")
	}
	e = t.comparable(e)
	// A repeat of the last confirmed state first: loosely equal numbers
	// (big integers as doubles) must not let a re-echo commit the next
	// pending state, whose records the target may not have.
	if t.last != nil && strictEqual(t.last, e) {
		return false, nil
	}
	// The exact message first, then one a JavaScript destination could have
	// re-serialized into this echo; the oldest of either.
	for _, eq := range []func(a, b any) bool{strictEqual, looseEqual} {
		for i, v := range t.decoded {
			if eq(v, e) {
				return true, t.commit(i+1, v)
			}
		}
		if t.last != nil && eq(t.last, e) {
			return false, nil
		}
	}
	return false, fmt.Errorf("%w (%d pending)", ErrUnmatched, len(t.pending))
}

// ConfirmAll commits every pending message: the target exited 0 after
// reading all of its input, so it committed everything it was sent.
func (t *Tracker) ConfirmAll() error {
	if len(t.pending) == 0 && t.folded == nil {
		return nil
	}
	var last any
	if n := len(t.pending); n > 0 {
		last, _ = decodeLoose(t.pending[n-1])
		last = t.comparable(last)
	}
	return t.commit(len(t.pending), last)
}

// commit applies the folded state and pending[:n] to a copy of the
// confirmed state and, if all apply, makes it the confirmed state.
func (t *Tracker) commit(n int, last any) error {
	base := t.folded
	if base == nil {
		base = t.confirmed
	}
	next := base.Clone() // so that a failed Apply leaves everything as it was
	for _, m := range t.pending[:n] {
		if err := next.Apply(m); err != nil {
			return fmt.Errorf("commit a confirmed state: %w", err)
		}
	}
	t.confirmed, t.folded = next, nil
	for _, m := range t.pending[:n] {
		t.bytes -= len(m)
	}
	t.pending, t.decoded = t.pending[n:], t.decoded[n:]
	if last != nil {
		t.last = last
	}
	return nil
}

// comparable drops what a destination may add to the state it echoes.
func (t *Tracker) comparable(v any) any {
	if t.confirmed.proto != Airbyte {
		return v
	}
	if m, ok := v.(map[string]any); ok {
		if _, has := m["destinationStats"]; has {
			c := make(map[string]any, len(m))
			for k, x := range m {
				if k != "destinationStats" {
					c[k] = x
				}
			}
			return c
		}
	}
	return v
}
