package state

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Protocol says which rules a State follows.
type Protocol int

const (
	Singer Protocol = iota + 1
	Airbyte
)

func (p Protocol) String() string {
	switch p {
	case Singer:
		return "singer"
	case Airbyte:
		return "airbyte"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// Kind is the type of an Airbyte state message, or of the state held.
// Singer states and empty states have Kind "".
type Kind string

const (
	Stream Kind = "STREAM"
	Global Kind = "GLOBAL"
	Legacy Kind = "LEGACY"
)

// Limits bound what a State holds.
type Limits struct {
	Streams int // distinct STREAM descriptors (and stream_states of a GLOBAL)
	Bytes   int // total size of the held messages (Singer: of the value)
}

// The default Limits: far above real connectors (a database source with
// one stream per table has thousands) and small enough that a hostile
// connector cannot make the runner hold or rewrite gigabytes per STATE.
const (
	DefaultMaxStreams = 100_000
	DefaultMaxBytes   = 64 << 20
)

// ErrTooLarge is wrapped by errors from Apply and Load when a state would
// exceed its Limits.
var ErrTooLarge = errors.New("state too large")

// Descriptor identifies an Airbyte stream. It is comparable: equal
// descriptors are the same stream.
type Descriptor struct {
	Name         string
	Namespace    string
	HasNamespace bool // false: namespace absent or null
}

// String is for people (reports, messages): "namespace.name" or "name".
func (d Descriptor) String() string {
	if d.HasNamespace {
		return d.Namespace + "." + d.Name
	}
	return d.Name
}

// compare orders descriptors: no namespace first, then namespace, then name.
func (d Descriptor) compare(e Descriptor) int {
	if d.HasNamespace != e.HasNamespace {
		if d.HasNamespace {
			return 1
		}
		return -1
	}
	return cmp.Or(cmp.Compare(d.Namespace, e.Namespace), cmp.Compare(d.Name, e.Name))
}

// Message is what one state message is and which streams it touches.
type Message struct {
	Kind Kind // "" for Singer
	// Streams: the stream of a STREAM message, the stream_states of a
	// GLOBAL (in message order, duplicates removed). nil for LEGACY and
	// Singer, whose state covers all streams without naming them.
	Streams []Descriptor
}

// State is a connector's checkpoint under one protocol's rules.
type State struct {
	proto  Protocol
	limits Limits

	kind   Kind
	single []byte                // Singer value, or the GLOBAL/LEGACY message
	byDesc map[Descriptor][]byte // STREAM messages (compacted, never modified)
	order  []Descriptor          // keys of byDesc, sorted, except those in added:
	added  []Descriptor          // new since the last sort (sorted lazily)
	size   int                   // bytes held
}

// New returns an empty state with the default limits.
func New(p Protocol) *State { return NewLimited(p, Limits{}) }

// NewLimited returns an empty state with the given limits (a zero field
// takes the default).
func NewLimited(p Protocol, l Limits) *State {
	if p != Singer && p != Airbyte {
		panic(fmt.Sprintf("state: unknown protocol %d", int(p)))
	}
	if l.Streams <= 0 {
		l.Streams = DefaultMaxStreams
	}
	if l.Bytes <= 0 {
		l.Bytes = DefaultMaxBytes
	}
	return &State{proto: p, limits: l}
}

// Protocol returns the rules the state follows.
func (s *State) Protocol() Protocol { return s.proto }

// Kind returns the type of the Airbyte state held ("" when empty or Singer).
func (s *State) Kind() Kind { return s.kind }

// Empty reports whether no state is held (nothing loaded or applied, or
// only an empty one: a Singer null, an Airbyte [] or {}).
func (s *State) Empty() bool { return s.single == nil && len(s.byDesc) == 0 }

// Streams returns the descriptors of the STREAM entries held, in Bytes
// order, or the stream_states of a held GLOBAL; nil otherwise.
func (s *State) Streams() []Descriptor {
	switch s.kind {
	case Stream:
		return slices.Clone(s.sorted())
	case Global:
		m, err := parseAirbyte(s.single)
		if err != nil {
			return nil // cannot happen: it was parsed when applied
		}
		return m.info.Streams
	}
	return nil
}

// Bytes returns the JSON the connector reads and the state file holds:
// Singer, the value ({} when empty); Airbyte, the array of state messages
// ([] when empty). The same state always gives the same bytes. The result
// is the caller's to keep.
func (s *State) Bytes() []byte {
	if s.proto == Singer {
		if s.single == nil {
			return []byte("{}")
		}
		return bytes.Clone(s.single)
	}
	if s.single != nil {
		return slices.Concat([]byte("["), s.single, []byte("]"))
	}
	order := s.sorted()
	n := 1 + len(order)
	for _, d := range order {
		n += len(s.byDesc[d])
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, d := range order {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s.byDesc[d]...)
	}
	return append(b, ']')
}

// sorted returns the STREAM descriptors in Bytes order, merging those
// added since the last call: O(n + k log k) for k new ones, so a Bytes
// after each Apply costs about what writing its result costs.
func (s *State) sorted() []Descriptor {
	if len(s.added) == 0 {
		return s.order
	}
	slices.SortFunc(s.added, Descriptor.compare)
	merged := make([]Descriptor, 0, len(s.order)+len(s.added))
	i, j := 0, 0
	for i < len(s.order) && j < len(s.added) {
		if s.order[i].compare(s.added[j]) < 0 {
			merged = append(merged, s.order[i])
			i++
		} else {
			merged = append(merged, s.added[j])
			j++
		}
	}
	merged = append(append(merged, s.order[i:]...), s.added[j:]...)
	s.order, s.added = merged, nil
	return s.order
}

// Clone returns an independent copy.
func (s *State) Clone() *State {
	c := *s
	c.byDesc = maps.Clone(s.byDesc)
	c.order = slices.Clone(s.order)
	c.added = slices.Clone(s.added)
	return &c
}

// Apply applies one state message: Singer, the STATE message's `value`;
// Airbyte, the STATE message's `state` member (an AirbyteStateMessage).
// On error the state is unchanged.
func (s *State) Apply(msg []byte) error {
	if s.proto == Singer {
		v, err := parseSinger(msg)
		if err != nil {
			return err
		}
		if len(v) > s.limits.Bytes {
			return fmt.Errorf("%w: the state value is %d bytes, the limit %d", ErrTooLarge, len(v), s.limits.Bytes)
		}
		s.setSingle("", v)
		return nil
	}
	m, err := parseAirbyte(msg)
	if err != nil {
		return err
	}
	return s.applyAirbyte(m)
}

// Parse tells what a state message is and which streams it touches
// without applying it, with the errors Apply would give for its form.
func Parse(p Protocol, msg []byte) (Message, error) {
	if p == Singer {
		_, err := parseSinger(msg)
		return Message{}, err
	}
	m, err := parseAirbyte(msg)
	return m.info, err
}

func (s *State) setSingle(k Kind, b []byte) {
	s.kind, s.single, s.byDesc, s.order, s.added, s.size = k, b, nil, nil, nil, len(b)
	if b != nil && s.proto == Singer && bytes.Equal(b, []byte("null")) {
		s.single, s.size = nil, 0
	}
}

func (s *State) applyAirbyte(m airbyteMsg) error {
	if m.info.Kind != Stream {
		if n := len(m.info.Streams); n > s.limits.Streams {
			return fmt.Errorf("%w: a GLOBAL state with %d streams, the limit %d", ErrTooLarge, n, s.limits.Streams)
		}
		if len(m.raw) > s.limits.Bytes {
			return fmt.Errorf("%w: a %s state message of %d bytes, the limit %d", ErrTooLarge, m.info.Kind, len(m.raw), s.limits.Bytes)
		}
		s.setSingle(m.info.Kind, m.raw)
		return nil
	}
	d := m.info.Streams[0]
	// Another kind held is replaced: the merge starts from nothing.
	base, streams := s.size, len(s.byDesc)
	old, had := s.byDesc[d]
	if s.kind != Stream {
		base, streams, had = 0, 0, false
	}
	size := base + len(m.raw)
	if had {
		size -= len(old)
	} else if streams >= s.limits.Streams {
		return fmt.Errorf("%w: a state message for a new stream %s beyond the limit of %d streams", ErrTooLarge, d, s.limits.Streams)
	}
	if size > s.limits.Bytes {
		return fmt.Errorf("%w: stream %s would make the state %d bytes, the limit %d", ErrTooLarge, d, size, s.limits.Bytes)
	}
	if s.kind != Stream {
		s.setSingle(Stream, nil)
		s.byDesc = map[Descriptor][]byte{}
	}
	s.byDesc[d] = m.raw
	s.size = size
	if !had {
		s.added = append(s.added, d)
	}
	return nil
}
