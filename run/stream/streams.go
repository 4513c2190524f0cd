package stream

// This file is the stream table: one entry per stream identity (Airbyte:
// namespace and name; Singer: name), with its key properties and counts.
// The table is bounded (Config.MaxStreams entries, maxTableBytes of names
// and keys); a line that would add a stream beyond it is a bad line, and a
// stream name or namespace longer than maxNameBytes is a bad line too.

import (
	"encoding/json"
	"fmt"
	"slices"
)

const (
	maxNameBytes  = 4096    // bytes of a stream name or namespace as written (escapes included)
	maxTableBytes = 8 << 20 // names, display names and key properties of all streams
)

type streamInfo struct {
	raw     string              // name as written (JSON string content)
	ns      string              // namespace as written, "" if none
	display string              // "namespace.name" decoded and made safe (safeText)
	keys    map[string]struct{} // decoded key property names
	keyCost int64
	records int64
	bytes   int64
}

// stream returns the stream of a message whose name is the string value
// name and namespace ns (nil or not a string: none).
func (s *Scanner) stream(name, ns *val) (*streamInfo, error) {
	if n := name.end - name.start - 2; n > maxNameBytes {
		return nil, fmt.Errorf("stream name of %d bytes is longer than %d bytes", n, maxNameBytes)
	}
	raw := s.ld.slice(name.start+1, name.end-1)
	var rawNS []byte
	if ns != nil && ns.kind == kString {
		if n := ns.end - ns.start - 2; n > maxNameBytes {
			return nil, fmt.Errorf("stream namespace of %d bytes is longer than %d bytes", n, maxNameBytes)
		}
		// Copied: raw may be the spool's read buffer, which the next slice reuses.
		rawNS = append(s.nsBuf[:0], s.ld.slice(ns.start+1, ns.end-1)...)
		s.nsBuf = rawNS
		raw = s.ld.slice(name.start+1, name.end-1)
	}
	if l := s.last; l != nil && l.raw == string(raw) && l.ns == string(rawNS) {
		return l, nil
	}
	// The key is namespace NUL name: no raw JSON string holds a NUL byte.
	kb := append(append(append(s.keyBuf[:0], rawNS...), 0), raw...)
	s.keyBuf = kb
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
	name0, ns0 := unescape(raw), unescape(rawNS)
	full := name0
	if ns0 != "" {
		full = ns0 + "." + name0
	}
	si := &streamInfo{raw: string(raw), ns: string(rawNS), display: safeTextN(full, 2*maxNameBytes+1)}
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
