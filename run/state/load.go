package state

// This file reads a state file back: the form Bytes writes, and the forms
// older files have.

import (
	"encoding/json"
	"fmt"
)

// messageMembers are the members of an AirbyteStateMessage. A lone object
// whose members are all among them is a message; any other object is a
// legacy state blob (the `data` of a LEGACY message, as the platform once
// stored it).
var messageMembers = map[string]bool{
	"type": true, "stream": true, "global": true, "data": true,
	"sourceStats": true, "destinationStats": true,
}

// Load replaces the state with the one in b, a state file's contents.
// Singer: one JSON value (empty or null: no state). Airbyte: the array of
// state messages Bytes writes; or one state message (as syncbox wrote
// before it kept the array); or one legacy state blob, held as a LEGACY
// message; empty, null, {} and [] are no state. An array is held to the
// form Bytes writes: STREAM messages with distinct descriptors, or one
// GLOBAL, or one LEGACY message. On error the state is unchanged.
func (s *State) Load(b []byte) error {
	fresh := NewLimited(s.proto, s.limits)
	if err := fresh.load(b); err != nil {
		return err
	}
	*s = *fresh
	return nil
}

func (s *State) load(b []byte) error {
	raw, err := checkJSON(b)
	if err == errEmpty {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if s.proto == Singer {
		if len(raw) > s.limits.Bytes {
			return fmt.Errorf("state file: %w: %d bytes, the limit %d", ErrTooLarge, len(raw), s.limits.Bytes)
		}
		s.setSingle("", raw)
		return nil
	}
	switch jsonKind(raw) {
	case "null":
		return nil
	case "an array":
		return s.loadArray(raw)
	case "an object":
		return s.loadObject(raw)
	}
	return fmt.Errorf("state file: want an array of Airbyte state messages, got %s", jsonKind(raw))
}

func (s *State) loadObject(raw []byte) error {
	m, err := object(raw, "state file")
	if err != nil {
		return err
	}
	if len(m) == 0 {
		return nil
	}
	blob := false
	for k := range m {
		if !messageMembers[k] {
			blob = true
			break
		}
	}
	if blob {
		raw = append(append([]byte(`{"type":"LEGACY","data":`), raw...), '}')
	}
	msg, err := parseAirbyte(raw)
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := s.applyAirbyte(msg); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

func (s *State) loadArray(raw []byte) error {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if len(items) > s.limits.Streams {
		return fmt.Errorf("state file: %w: %d state messages, the limit %d", ErrTooLarge, len(items), s.limits.Streams)
	}
	var first Kind
	where := map[Descriptor]int{}
	for i, it := range items {
		msg, err := parseAirbyte(it)
		if err != nil {
			return fmt.Errorf("state file, message %d: %w", i, err)
		}
		k := msg.info.Kind
		switch {
		case i == 0:
			first = k
		case k != first:
			return fmt.Errorf("state file, message %d: a %s message after %s ones (a state holds one type)", i, k, first)
		case k != Stream:
			return fmt.Errorf("state file, message %d: a second %s message (a state holds one)", i, k)
		}
		if k == Stream {
			d := msg.info.Streams[0]
			if j, dup := where[d]; dup {
				return fmt.Errorf("state file, message %d: stream %s again (first in message %d)", i, d, j)
			}
			where[d] = i
		}
		if err := s.applyAirbyte(msg); err != nil {
			return fmt.Errorf("state file, message %d: %w", i, err)
		}
	}
	return nil
}
