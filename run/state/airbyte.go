package state

// This file reads one AirbyteStateMessage: its type, the descriptors it
// names, and the checks that make the held state one a source reads back.

import (
	"encoding/json"
	"fmt"
	"slices"
)

// airbyteMsg is a checked state message.
type airbyteMsg struct {
	raw  []byte // compacted
	info Message
}

// object decodes raw as a JSON object with exact (case-sensitive) member
// names; a repeated member keeps its last value, as Python's json and
// Jackson read it.
func object(raw []byte, where string) (map[string]json.RawMessage, error) {
	if k := jsonKind(raw); k != "an object" {
		return nil, fmt.Errorf("%s: want an object, got %s", where, k)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return m, nil
}

// present reports whether member k exists and is not null.
func present(m map[string]json.RawMessage, k string) bool {
	v, ok := m[k]
	return ok && jsonKind(v) != "null"
}

// optionalObject checks that member k, if present and not null, is an object.
func optionalObject(m map[string]json.RawMessage, k, where string) error {
	if present(m, k) && jsonKind(m[k]) != "an object" {
		return fmt.Errorf("%s.%s: want an object, got %s", where, k, jsonKind(m[k]))
	}
	return nil
}

func parseAirbyte(msg []byte) (airbyteMsg, error) {
	raw, err := checkJSON(msg)
	if err != nil {
		return airbyteMsg{}, fmt.Errorf("airbyte state message: %w", err)
	}
	m, err := object(raw, "airbyte state message")
	if err != nil {
		return airbyteMsg{}, err
	}
	kind := Legacy // the spec: "If not set, assume the state object is type LEGACY"
	if present(m, "type") {
		t, err := jsonString(m["type"], "state message type")
		if err != nil {
			return airbyteMsg{}, err
		}
		kind = Kind(t)
	}
	out := airbyteMsg{raw: raw, info: Message{Kind: kind}}
	switch kind {
	case Stream:
		if !present(m, "stream") {
			return airbyteMsg{}, fmt.Errorf("a STREAM state message without its stream")
		}
		d, err := streamState(m["stream"], "stream")
		if err != nil {
			return airbyteMsg{}, fmt.Errorf("STREAM state message: %w", err)
		}
		out.info.Streams = []Descriptor{d}
	case Global:
		if !present(m, "global") {
			return airbyteMsg{}, fmt.Errorf("a GLOBAL state message without its global")
		}
		ds, err := globalState(m["global"])
		if err != nil {
			return airbyteMsg{}, fmt.Errorf("GLOBAL state message: %w", err)
		}
		out.info.Streams = ds
	case Legacy:
		if jsonKind(m["data"]) != "an object" {
			return airbyteMsg{}, fmt.Errorf("a LEGACY state message needs a data object, got %s", jsonKind(m["data"]))
		}
	default:
		return airbyteMsg{}, fmt.Errorf("state message type %q: want STREAM, GLOBAL or LEGACY", kind)
	}
	return out, nil
}

// streamState checks an AirbyteStreamState and returns its descriptor.
func streamState(raw json.RawMessage, where string) (Descriptor, error) {
	m, err := object(raw, where)
	if err != nil {
		return Descriptor{}, err
	}
	if !present(m, "stream_descriptor") {
		return Descriptor{}, fmt.Errorf("%s: no stream_descriptor", where)
	}
	// A source parses stream_state as an object (AirbyteStateBlob).
	if err := optionalObject(m, "stream_state", where); err != nil {
		return Descriptor{}, err
	}
	where += ".stream_descriptor"
	dm, err := object(m["stream_descriptor"], where)
	if err != nil {
		return Descriptor{}, err
	}
	var d Descriptor
	if !present(dm, "name") {
		return Descriptor{}, fmt.Errorf("%s: no name", where)
	}
	if d.Name, err = jsonString(dm["name"], where+".name"); err != nil {
		return Descriptor{}, err
	}
	if present(dm, "namespace") {
		if d.Namespace, err = jsonString(dm["namespace"], where+".namespace"); err != nil {
			return Descriptor{}, err
		}
		d.HasNamespace = true
	}
	return d, nil
}

// globalState checks an AirbyteGlobalState and returns the descriptors of
// its stream_states, first occurrence order, without repeats.
func globalState(raw json.RawMessage) ([]Descriptor, error) {
	m, err := object(raw, "global")
	if err != nil {
		return nil, err
	}
	if err := optionalObject(m, "shared_state", "global"); err != nil {
		return nil, err
	}
	if k := jsonKind(m["stream_states"]); k != "an array" {
		return nil, fmt.Errorf("global.stream_states: want an array, got %s", k)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(m["stream_states"], &items); err != nil {
		return nil, fmt.Errorf("global.stream_states: %w", err)
	}
	ds := make([]Descriptor, 0, len(items))
	seen := make(map[Descriptor]bool, len(items))
	for i, it := range items {
		d, err := streamState(it, fmt.Sprintf("global.stream_states[%d]", i))
		if err != nil {
			return nil, err
		}
		if !seen[d] {
			seen[d] = true
			ds = append(ds, d)
		}
	}
	return slices.Clip(ds), nil
}
