package stream

// This file is the stream table: one entry per stream identity (Airbyte:
// namespace and name; Singer: name; decoded, whatever the escapes), with
// its key properties and counts.
// The table is bounded (Config.MaxStreams entries, maxTableBytes of names
// and keys); a line that would add a stream beyond it is a bad line, and a
// stream name or namespace longer than maxNameBytes is a bad line too.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	maxNameBytes  = 4096    // bytes of a stream name or namespace as written (escapes included)
	maxTableBytes = 8 << 20 // names, display names and key properties of all streams
)

type streamInfo struct {
	key     string              // table key: decoded namespace and name (streamKey)
	display string              // "namespace.name" decoded and made safe (safeText)
	keys    map[string]struct{} // decoded key property names
	keyCost int64
	records int64
	bytes   int64
}

// stream returns the stream of a message whose name is the string value
// name and namespace ns (nil or not a string: none). One stream is one
// decoded (namespace, name): "s" and "\u0073" are the same stream, with
// the same key properties and record numbers. It remembers where the
// line spells them (s.curName, s.curNS) for the flags.
func (s *Scanner) stream(name, ns *val) (*streamInfo, error) {
	if n := name.end - name.start - 2; n > maxNameBytes {
		return nil, fmt.Errorf("stream name of %d bytes is longer than %d bytes", n, maxNameBytes)
	}
	s.curName, s.curNS = span{name.start + 1, name.end - 1}, span{}
	if ns != nil && ns.kind == kString {
		if n := ns.end - ns.start - 2; n > maxNameBytes {
			return nil, fmt.Errorf("stream namespace of %d bytes is longer than %d bytes", n, maxNameBytes)
		}
		s.curNS = span{ns.start + 1, ns.end - 1}
	}
	ml, inMem := s.ld.(*memLine)
	if !inMem {
		return s.findStream()
	}
	// A line in memory: the streams of the last lines first, by their
	// spelling (one spelling is one decoded key; no namespace is the
	// empty one, as in the key).
	rawName, rawNS := ml.b[s.curName.start:s.curName.end], ml.b[s.curNS.start:s.curNS.end]
	wName, wNS := head8(ml.b, s.curName), head8(ml.b, s.curNS)
	for i := range s.recent {
		r := &s.recent[i]
		if r.wName != wName || r.wNS != wNS || len(r.name) != len(rawName) || len(r.ns) != len(rawNS) || r.si == nil {
			continue
		}
		// Names of at most eight bytes are equal if their heads are.
		if len(rawName) <= 8 && len(rawNS) <= 8 || string(r.name) == string(rawName) && string(r.ns) == string(rawNS) {
			return r.si, nil
		}
	}
	si, err := s.findStream()
	if err == nil && len(rawName)+len(rawNS) <= maxRecentName {
		r := &s.recent[s.recentNext]
		s.recentNext = (s.recentNext + 1) % len(s.recent)
		r.name, r.ns, r.si = append(r.name[:0], rawName...), append(r.ns[:0], rawNS...), si
		r.wName, r.wNS = wName, wNS
	}
	return si, err
}

// recentStream is a stream of a recent line, by its spelling there.
type recentStream struct {
	name, ns   []byte // raw content, as written
	wName, wNS uint64 // their first eight bytes (head8)
	si         *streamInfo
}

// head8 is the first eight bytes of line[sp.start:sp.end] (fewer if it is
// shorter, the rest zero), little-endian.
func head8(line []byte, sp span) uint64 {
	n := sp.end - sp.start
	if n <= 0 {
		return 0
	}
	if sp.start+8 <= int64(len(line)) {
		w := binary.LittleEndian.Uint64(line[sp.start:])
		if n < 8 {
			w &= 1<<(8*n) - 1
		}
		return w
	}
	var w uint64
	for i, c := range line[sp.start:min(sp.end, sp.start+8)] {
		w |= uint64(c) << (8 * i)
	}
	return w
}

// maxRecentName bounds the spellings kept in Scanner.recent.
const maxRecentName = 256

// findStream is stream() for the name and namespace at s.curName and
// s.curNS, by their decoded key.
func (s *Scanner) findStream() (*streamInfo, error) {
	var rawNS []byte
	if s.curNS != (span{}) {
		// Decoded into the key buffer first: raw may be the spool's read
		// buffer, which the next slice reuses.
		rawNS = s.ld.slice(s.curNS.start, s.curNS.end)
	}
	// The key is namespace, name (both decoded) and the namespace's length
	// in two bytes: a decoded name may hold any byte, NUL included.
	kb := appendUnescaped(s.keyBuf[:0], rawNS)
	nsLen := len(kb)
	kb = appendUnescaped(kb, s.ld.slice(s.curName.start, s.curName.end))
	kb = binary.BigEndian.AppendUint16(kb, uint16(nsLen))
	s.keyBuf = kb
	if l := s.last; l != nil && l.key == string(kb) {
		return l, nil
	}
	if si := s.streams[string(kb)]; si != nil {
		s.last = si
		return si, nil
	}
	if len(s.streams) >= s.maxStreams {
		if s.errStreams == nil {
			s.errStreams = fmt.Errorf("more than %d streams", s.maxStreams)
		}
		return nil, s.errStreams
	}
	key := string(kb)
	ns0, name0 := key[:nsLen], key[nsLen:len(key)-2]
	full := name0
	if ns0 != "" {
		full = ns0 + "." + name0
	}
	si := &streamInfo{key: key, display: safeTextN(full, 2*maxNameBytes+1)}
	cost := int64(len(key) + len(si.display) + 64)
	if s.tableBytes+cost > maxTableBytes {
		return nil, fmt.Errorf("stream table full (%d bytes of stream names)", maxTableBytes)
	}
	s.tableBytes += cost
	k, ok := s.cfg.Keys[full]
	if !ok && ns0 != "" {
		k, ok = s.cfg.Keys[name0]
	}
	if ok {
		// Before the stream exists: a stream whose keys are unknown
		// must not take records (its keys could be nulled).
		if err := s.setKeys(si, k); err != nil {
			s.tableBytes -= cost
			return nil, err
		}
	}
	s.mu.Lock()
	s.streams[key] = si
	s.mu.Unlock()
	s.last = si
	return si, nil
}

// appendUnescaped appends raw JSON string content decoded: escapes become
// the bytes they stand for (a lone surrogate as its generalized UTF-8
// sequence, so that it stays distinct from U+FFFD); every other byte is
// copied, invalid UTF-8 included. Content without a backslash is copied
// as it is, which is the common case.
func appendUnescaped(b, raw []byte) []byte {
	for {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 || i+1 >= len(raw) {
			return append(b, raw...)
		}
		b = append(b, raw[:i]...)
		raw = raw[i:]
		if raw[1] != 'u' || len(raw) < 6 {
			b = append(b, unescapeByte(raw[1]))
			raw = raw[2:]
			continue
		}
		cp := hex4(raw[2:6])
		if cp < 0 { // not valid JSON; kept as written
			b = append(b, raw[:6]...)
			raw = raw[6:]
			continue
		}
		raw = raw[6:]
		if cp >= 0xd800 && cp < 0xdc00 && len(raw) >= 6 && raw[0] == '\\' && raw[1] == 'u' {
			if lo := hex4(raw[2:6]); lo >= 0xdc00 && lo < 0xe000 {
				b = utf8.AppendRune(b, utf16.DecodeRune(rune(cp), rune(lo)))
				raw = raw[6:]
				continue
			}
		}
		if cp >= 0xd800 && cp < 0xe000 {
			b = append(b, 0xe0|byte(cp>>12), 0x80|byte(cp>>6)&0x3f, 0x80|byte(cp)&0x3f)
			continue
		}
		b = utf8.AppendRune(b, rune(cp))
	}
}

// unescapeByte is the byte a one-character JSON escape \c stands for.
func unescapeByte(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return c // \" \\ \/
}

// setKeys sets a stream's key properties (decoded names), within the
// table's bound.
func (s *Scanner) setKeys(si *streamInfo, keys []string) error {
	cost := int64(0)
	for _, k := range keys {
		cost += int64(len(k)) + 48
	}
	if s.tableBytes-si.keyCost+cost > maxTableBytes {
		return fmt.Errorf("key_properties of stream %s do not fit the stream table (%d bytes)", si.display, maxTableBytes)
	}
	s.tableBytes += cost - si.keyCost
	si.keyCost = cost
	si.keys = make(map[string]struct{}, len(keys))
	for _, k := range keys {
		si.keys[k] = struct{}{}
	}
	return nil
}

// isKey reports whether the raw (escaped) member name is a key property.
func (si *streamInfo) isKey(raw []byte) bool {
	if len(si.keys) == 0 {
		return false
	}
	if !slices.Contains(raw, '\\') {
		_, ok := si.keys[string(raw)]
		return ok
	}
	_, ok := si.keys[unescape(raw)]
	return ok
}

// unescape decodes raw JSON string content (best effort).
func unescape(raw []byte) string {
	if !slices.Contains(raw, '\\') {
		return string(raw)
	}
	var out string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &out) != nil {
		return string(raw)
	}
	return out
}
