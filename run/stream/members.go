package stream

// This file finds, while a line is tokenized, a message member syncbox
// reads that the line repeats or spells with escapes ("rec\u006frd"): the
// policy checks one spelling, and a consumer that keeps the first one (or
// decodes the name) would get another that nothing checked. classify.go
// makes such a line a bad line. Each object keeps a bit per name, so the
// cost is constant per member whatever the number of members.

import "bytes"

// readMembers are the members syncbox reads: at the root, and under the
// root's "record" (Airbyte's record.stream, namespace, data, meta). At most
// 16 names each (seen is a uint16).
var readMembers = [...][]string{
	roleRoot:   {"type", "stream", "record", "value", "state", "meta", "key_properties", "trace"},
	roleRecord: {"stream", "namespace", "data", "meta"},
}

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

// reason is the bad line's reason; prefix is "" for the root, "record."
// under record.
func (f memberFault) reason(prefix string) string {
	if f.escaped {
		return `member "` + prefix + f.name + `" written with escapes`
	}
	return `duplicate member "` + prefix + f.name + `"`
}

// noteMember records the member key (raw content) of an object of role
// root or record.
func (t *tokenizer) noteMember(role byte, key []byte) {
	seen, fault := &t.seenRoot, &t.rootFault
	if role == roleRecord {
		seen, fault = &t.seenRec, &t.recFault
	}
	names := readMembers[role]
	escaped := false
	var buf [maxEscName]byte
	if len(key) >= len(`\u0000`)+3 && len(key) <= maxEscName && bytes.IndexByte(key, '\\') >= 0 {
		// A read name has at least 4 letters, and a letter needs \uXXXX.
		key, escaped = appendUnescaped(buf[:0], key), true
	}
	for i, n := range names {
		if n != string(key) {
			continue
		}
		if bit := uint16(1) << i; (*seen&bit != 0 || escaped) && fault.name == "" {
			*fault = memberFault{name: n, escaped: escaped}
		} else {
			*seen |= bit
		}
		return
	}
}
