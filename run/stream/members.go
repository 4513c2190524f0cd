package stream

// This file finds, while a line is tokenized, a message member syncbox
// reads that the line repeats or spells with escapes ("rec\u006frd"): the
// policy checks one spelling, and a consumer that keeps the first one (or
// decodes the name) would get another that nothing checked, or lineage
// that is not there. classify.go makes such a line a bad line. Each object
// role keeps a bit per name, so the cost is constant per member whatever
// the number of members.

import "bytes"

// readMembers are the members syncbox reads, per object role: the root's,
// Airbyte's record.stream, namespace, data and meta, and the "changes" of
// the lineage objects (Singer's meta, Airbyte's record.meta), which lineage
// appends to. At most 16 names each (a uint16 of bits).
var readMembers = [...][]string{
	roleRoot:    {"type", "stream", "record", "value", "state", "meta", "key_properties", "trace"},
	roleRecord:  {"stream", "namespace", "data", "meta"},
	roleMeta:    {"changes"},
	roleRecMeta: {"changes"},
	roleData:    nil, // payload fields may repeat: each one is checked
}

// rolePath names an object role in a bad line's reason.
var rolePath = [...]string{roleRoot: "", roleRecord: "record.", roleMeta: "meta.", roleRecMeta: "record.meta.", roleData: "record.data."}

// maxEscName bounds the raw bytes of a key decoded to see whether it is an
// escaped spelling of a read member ("key_properties" with every character
// escaped as \uXXXX is 84 bytes; a decoded key is never longer than raw).
const maxEscName = 6 * len("key_properties")

// memberFault is the first read member of an object that repeats or is
// spelled with escapes; name "" if none.
type memberFault struct {
	name    string
	escaped bool
}

// memberFaults are a line's faults, per object role.
type memberFaults [len(readMembers)]memberFault

// reason is the bad line's reason for a fault in an object of role.
func (f memberFault) reason(role byte) string {
	if f.escaped {
		return `member "` + rolePath[role] + f.name + `" written with escapes`
	}
	return `duplicate member "` + rolePath[role] + f.name + `"`
}

// nameLens has, per role, bit n set if a read name is n bytes long: most
// keys (a Singer payload's fields) are told apart by their length alone.
var nameLens = func() (m [len(readMembers)]uint32) {
	for role, names := range readMembers {
		for _, n := range names {
			m[role] |= 1 << len(n)
		}
	}
	return m
}()

// minEscName is the shortest escaped spelling of a read name: 4 letters,
// one of them as \uXXXX (a letter has no shorter escape).
const minEscName = 4 + len(`\u0000`) - 1

// noteMember records the member key (raw content) of an object of role,
// of a length that may be a read member's, plain (nameLens) or escaped
// (minEscName to maxEscName): setKey asks. It returns the key's index in
// readMembers[role] as written (-1 for an escaped spelling, which is no
// read member's: it is a fault).
func (t *tokenizer) noteMember(role byte, key []byte) int {
	escaped := false
	if n := len(key); n >= minEscName && bytes.IndexByte(key, '\\') >= 0 {
		var buf [maxEscName]byte
		key, escaped = appendUnescaped(buf[:0], key), true
	}
	i := readIndex(role, key)
	if i < 0 {
		return -1
	}
	t.seeMember(role, i, escaped)
	if escaped {
		return -1
	}
	return i
}

// seeMember notes readMembers[role][i] as seen in the current object of
// role, or as its fault if it was seen before or is spelled with escapes
// (the first fault of a role is the one reported).
func (t *tokenizer) seeMember(role byte, i int, escaped bool) {
	if bit := uint16(1) << i; (t.seen[role]&bit != 0 || escaped) && t.faults[role].name == "" {
		t.faults[role], t.faulty = memberFault{name: readMembers[role][i], escaped: escaped}, true
	} else {
		t.seen[role] |= bit
	}
}

// readIndex is the index of key in readMembers[role], -1 if it is not
// there: a switch on constant strings, which compiles to compares of
// lengths and words (a loop over the names cost a memequal call each).
// TestReadIndexMatchesReadMembers keeps the two in step.
func readIndex(role byte, key []byte) int {
	switch role {
	case roleRoot:
		switch string(key) {
		case "type":
			return 0
		case "stream":
			return 1
		case "record":
			return 2
		case "value":
			return 3
		case "state":
			return 4
		case "meta":
			return 5
		case "key_properties":
			return 6
		case "trace":
			return 7
		}
	case roleRecord:
		switch string(key) {
		case "stream":
			return 0
		case "namespace":
			return 1
		case "data":
			return 2
		case "meta":
			return 3
		}
	case roleMeta, roleRecMeta:
		if string(key) == "changes" {
			return 0
		}
	}
	return -1
}
