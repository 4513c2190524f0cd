// Package state is a PLACEHOLDER for the lead's integration work; the real
// package comes from the issue-11-state branch. Singer: replace; Airbyte:
// merge per stream descriptor.
package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

type Protocol int

const (
	Singer Protocol = iota
	Airbyte
)

type State struct {
	proto   Protocol
	singer  json.RawMessage
	streams map[string]json.RawMessage
	order   []string
}

func New(p Protocol) *State { return &State{proto: p, streams: map[string]json.RawMessage{}} }

func (s *State) Load(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "{}" {
		return nil
	}
	if !json.Valid(b) {
		return fmt.Errorf("not valid JSON")
	}
	if s.proto == Singer {
		s.singer = append(json.RawMessage(nil), b...)
		return nil
	}
	if b[0] == '[' {
		var msgs []json.RawMessage
		if err := json.Unmarshal(b, &msgs); err != nil {
			return err
		}
		for _, m := range msgs {
			if err := s.Apply(m); err != nil {
				return err
			}
		}
		return nil
	}
	return s.Apply(b)
}

func (s *State) Apply(msg []byte) error {
	if s.proto == Singer {
		s.singer = append(json.RawMessage(nil), msg...)
		return nil
	}
	var m struct {
		Type   string `json:"type"`
		Stream *struct {
			D struct {
				Name      string  `json:"name"`
				Namespace *string `json:"namespace"`
			} `json:"stream_descriptor"`
		} `json:"stream"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return err
	}
	key := "legacy"
	switch {
	case m.Type == "GLOBAL":
		s.streams = map[string]json.RawMessage{}
		key = "global"
	case m.Stream != nil:
		ns := ""
		if m.Stream.D.Namespace != nil {
			ns = *m.Stream.D.Namespace
		}
		key = "stream:" + ns + "\x00" + m.Stream.D.Name
	}
	s.streams[key] = append(json.RawMessage(nil), msg...)
	return nil
}

func (s *State) Empty() bool {
	if s.proto == Singer {
		return len(s.singer) == 0
	}
	return len(s.streams) == 0
}

func (s *State) Bytes() []byte {
	if s.proto == Singer {
		return s.singer
	}
	if len(s.streams) == 0 {
		return nil
	}
	keys := make([]string, 0, len(s.streams))
	for k := range s.streams {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []byte("[")
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, s.streams[k]...)
	}
	return append(out, ']')
}

func (s *State) Clone() *State {
	c := New(s.proto)
	c.singer = s.singer
	for k, v := range s.streams {
		c.streams[k] = v
	}
	return c
}
