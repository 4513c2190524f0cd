package stream

// This file writes the flags file: one JSON line per flagged value, dropped
// record or bad line, saying where (line, offset, stream, record, keys,
// field), how large, which limit and what was done. Entries are bounded
// (Config.MaxFlags); beyond, they are counted in Stats.FlagsSkipped. Every
// string in an entry is valid JSON: raw string content copied from the
// input, cut only on escape and UTF-8 boundaries, its invalid UTF-8 bytes
// written as \ufffd.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Bounds of what one flags entry holds.
const (
	maxKeysJSON = 4096 // bytes of key property values per entry
	maxKeyValue = 1024 // a larger key value is written as "<N bytes>"
)

// flagRoom takes one entry from the bound; false: counted, skip it (callers
// ask before formatting, so that skipped entries cost nothing).
func (s *Scanner) flagRoom() bool {
	if s.cfg.Flags == nil || s.flagsErr != nil {
		return s.flagsErr != nil // an error: let writeFlag return it
	}
	if s.maxFlags >= 0 && s.flagsN >= s.maxFlags {
		s.mu.Lock()
		s.st.FlagsSkipped++
		s.mu.Unlock()
		return false
	}
	s.flagsN++
	return true
}

// writeFlag writes one entry (ending with "\n") taken by flagRoom.
func (s *Scanner) writeFlag(b []byte) error {
	if s.flagsErr != nil {
		return s.flagsErr
	}
	n, err := s.cfg.Flags.Write(b)
	if err == nil && n < len(b) {
		err = fmt.Errorf("short write")
	}
	if err != nil {
		s.flagsErr = &OutputError{Output: "flags", Op: "write", Err: err}
		return s.flagsErr
	}
	return nil
}

// flag writes one flags line for vi and updates the stats.
func (rc *recordCtx) flag(vi *violation, action, file string) error {
	s := rc.s
	s.mu.Lock()
	s.st.Flagged++
	if vi.size > s.st.Largest.Size {
		s.st.Largest = FlaggedValue{Stream: rc.si.display, Record: rc.recNo, Field: safeText(unescape(vi.path)),
			Size: vi.size, Keys: string(rc.keysJSON)}
	}
	s.mu.Unlock()
	if !s.flagRoom() {
		return nil
	}
	// The stream and namespace as this line spells them (the record
	// number counts the decoded stream).
	b := fmt.Appendf(s.flagBuf[:0], `{"line":%d,"offset":%d,"stream":"`, s.lineNo, s.lineOff)
	b = append(appendUTF8(b, rc.ld.slice(s.curName.start, s.curName.end)), `",`...)
	if s.curNS.end > s.curNS.start {
		b = append(appendUTF8(append(b, `"namespace":"`...), rc.ld.slice(s.curNS.start, s.curNS.end)), `",`...)
	}
	measure := "json" // serialized bytes
	if vi.utf8 {
		measure = "utf8" // a string's decoded UTF-8 bytes
	}
	b = fmt.Appendf(b, `"record":%d,"keys":%s,"field":"`, rc.recNo, rc.keysJSON)
	b = fmt.Appendf(appendUTF8(b, vi.path), `","size":%d,"measure":"%s","limit":%d,"reason":"%s","action":"%s"`,
		vi.size, measure, vi.limit, vi.reason, action)
	if file != "" {
		b = fmt.Appendf(b, `,"rejects":"%s"`, file)
	}
	b = append(b, "}\n"...)
	s.flagBuf = b
	return s.writeFlag(b)
}

// flagBadLine writes the flags entry of a line that was not forwarded.
func (s *Scanner) flagBadLine(size int64, reason, file string) error {
	if !s.flagRoom() {
		return nil
	}
	r, _ := json.Marshal(reason)
	b := fmt.Appendf(s.flagBuf[:0], `{"line":%d,"offset":%d,"size":%d,"reason":%s,"action":"rejected"`, s.lineNo, s.lineOff, size, r)
	if file != "" {
		b = fmt.Appendf(b, `,"rejects":"%s"`, file)
	}
	b = append(b, "}\n"...)
	s.flagBuf = b
	return s.writeFlag(b)
}

// appendUTF8 appends raw JSON text from the input (string content, or a
// key value) with each byte that is not part of valid UTF-8 written as
// \ufffd: the records pass such bytes as they are (doc.go), but a flags
// entry is UTF-8 JSON (RFC 8259). Escapes are ASCII: none is changed.
func appendUTF8(b, raw []byte) []byte {
	if utf8.Valid(raw) {
		return append(b, raw...)
	}
	for len(raw) > 0 {
		r, n := utf8.DecodeRune(raw)
		if r == utf8.RuneError && n <= 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, raw[:n]...)
		}
		raw = raw[n:]
	}
	return b
}

// keysJSON renders the record's key property values as a JSON object of
// at most about maxKeysJSON bytes: key names cut on an escape boundary,
// large values replaced by their size, and "…" : n for keys left out.
func (s *Scanner) keysJSON(ld lineData, fields []fieldInfo) []byte {
	b := append(s.keysBuf[:0], '{')
	left := 0
	for _, f := range fields {
		if !f.isKey {
			continue
		}
		if len(b) > maxKeysJSON {
			left++
			continue
		}
		v := &s.tok.vals[f.idx]
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		n := len(b)
		b = appendCut(b, ld, v.key.start, v.key.end, maxPathSeg)
		if !utf8.Valid(b[n:]) {
			b = appendUTF8(b[:n], append([]byte(nil), b[n:]...))
		}
		b = append(b, `":`...)
		if v.end-v.start > maxKeyValue {
			b = fmt.Appendf(b, `"<%d bytes>"`, v.end-v.start)
		} else {
			b = appendUTF8(b, ld.slice(v.start, v.end))
		}
	}
	if left > 0 {
		b = append(b, `,"…":`...)
		b = strconv.AppendInt(b, int64(left), 10)
	}
	b = append(b, '}')
	s.keysBuf = b
	return b
}
