package stream

// This file is the policy: given a tokenized line, it decides what the line
// is (protocol, message type), whether a record breaks a size limit, and how
// the line is forwarded: byte-exact, spliced, dropped or rejected. It reports
// to the stats, the flags writer, the rejects dir and the warn writer.

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// edit replaces line bytes [s,e) by the original bytes [s,keep) and lit.
// An insertion has s == e == keep.
type edit struct {
	s, e, keep int64
	lit        []byte
}

// fieldInfo is a top-level field of a record payload.
type fieldInfo struct {
	idx   int32 // in tok.vals
	size  int64 // current serialized size, after edits
	isKey bool
	whole bool // a whole-field edit exists
}

// violation is one flagged value of a record.
type violation struct {
	field      int   // index in fields, -1 for the whole record
	start, end int64 // original value extent
	path       []byte
	size       int64
	limit      int64
	reason     string // field_size, record_size, key_too_large, too_complex
	change     string // NULLED, TRUNCATED or "" (no change)
	gone       bool   // superseded by a later whole-field edit
}

var (
	litNull  = []byte("null")
	litQuote = []byte(`"`)
	litNL    = []byte("\n")
)

// message holds the indices (in tok.vals) of the members a message may have.
type message struct {
	typ, stream, record, value, state, meta, keyProps int32
	rStream, rData, rMeta                             int32 // members of record
}

// name returns the raw key of v if it is short, else nil.
func keyName(ld lineData, v *val) []byte {
	if v.key.start < 0 || v.key.end-v.key.start > 32 {
		return nil
	}
	return ld.slice(v.key.start, v.key.end)
}

// handleLine classifies and forwards one complete line.
func (s *Scanner) handleLine(ld lineData, tokErr error, nl bool) error {
	s.lineNo++
	if tokErr == errEmptyLine {
		s.mu.Lock()
		s.st.Lines, s.st.EmptyLines = s.lineNo, s.st.EmptyLines+1
		s.mu.Unlock()
		return nil
	}
	if tokErr != nil {
		return s.badLine(ld, tokErr.Error())
	}
	vals := s.tok.vals
	if vals[0].kind != kObject {
		return s.badLine(ld, "not a JSON object")
	}
	m := s.members(ld)
	var typ []byte
	if m.typ >= 0 && vals[m.typ].kind == kString && vals[m.typ].end-vals[m.typ].start <= 40 {
		typ = ld.slice(vals[m.typ].start+1, vals[m.typ].end-1)
	}
	return s.dispatch(ld, &m, typ, nl)
}

// members finds the message members the policy uses.
func (s *Scanner) members(ld lineData) message {
	vals := s.tok.vals
	m := message{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1}
	for i := 1; i < len(vals); i++ {
		v := &vals[i]
		if v.parent == 0 {
			switch string(keyName(ld, v)) {
			case "type":
				m.typ = int32(i)
			case "stream":
				m.stream = int32(i)
			case "record":
				m.record = int32(i)
			case "value":
				m.value = int32(i)
			case "state":
				m.state = int32(i)
			case "meta":
				m.meta = int32(i)
			case "key_properties":
				m.keyProps = int32(i)
			}
		} else if m.record >= 0 && v.parent == m.record {
			switch string(keyName(ld, v)) {
			case "stream":
				m.rStream = int32(i)
			case "data":
				m.rData = int32(i)
			case "meta":
				m.rMeta = int32(i)
			}
		}
	}
	return m
}

// dispatch handles a message by type and protocol.
func (s *Scanner) dispatch(ld lineData, m *message, typ []byte, nl bool) error {
	vals := s.tok.vals
	isKind := func(i int32, k byte) bool { return i >= 0 && vals[i].kind == k }
	proto := s.cfg.Protocol
	switch string(typ) {
	case "RECORD":
		singer := isKind(m.stream, kString) && isKind(m.record, kObject)
		airbyte := isKind(m.record, kObject) && isKind(m.rData, kObject) && isKind(m.rStream, kString)
		switch {
		case proto != Airbyte && singer:
			return s.recordLine(ld, m, false, nl)
		case proto != Singer && airbyte:
			return s.recordLine(ld, m, true, nl)
		}
		return s.badLine(ld, fmt.Sprintf("RECORD message without the %s fields", s.shapeName()))
	case "STATE":
		switch {
		case proto != Airbyte && m.value >= 0:
			return s.stateLine(ld, m.value, nl)
		case proto != Singer && m.state >= 0:
			return s.stateLine(ld, m.state, nl)
		}
		return s.badLine(ld, "STATE message without its value")
	case "SCHEMA":
		if proto == Airbyte {
			break
		}
		if !isKind(m.stream, kString) {
			return s.badLine(ld, "SCHEMA message without stream")
		}
		s.schemaLine(ld, m)
		return s.forward(ld, nil, nl, nil)
	case "ACTIVATE_VERSION", "BATCH":
		if proto == Airbyte {
			break
		}
		return s.forward(ld, nil, nl, nil)
	case "LOG", "TRACE", "SPEC", "CATALOG", "CONNECTION_STATUS", "CONTROL":
		if proto == Singer {
			break
		}
		return s.forward(ld, nil, nl, nil)
	}
	if proto == Auto {
		return s.forward(ld, nil, nl, nil)
	}
	return s.badLine(ld, fmt.Sprintf("not a known %s message (type %.40q)", proto, typ))
}

func (s *Scanner) shapeName() string {
	switch s.cfg.Protocol {
	case Singer:
		return "Singer (stream, record object)"
	case Airbyte:
		return "Airbyte (record.stream, record.data object)"
	}
	return "Singer or Airbyte"
}

// forward writes the line with its edits and a newline, updating stats.
func (s *Scanner) forward(ld lineData, edits []edit, nl bool, si *streamInfo) error {
	n0 := s.out.n
	if m, ok := ld.(*memLine); ok && len(edits) == 0 && nl {
		// Unchanged and still in the read buffer with its newline.
		s.out.writeRef(m.b[:len(m.b)+1])
		return s.forwarded(ld, n0, si)
	}
	pos := int64(0)
	if len(edits) > 1 {
		slices.SortFunc(edits, func(a, b edit) int { return int(a.s - b.s) })
	}
	for _, e := range edits {
		if err := ld.copyTo(&s.out, pos, e.keep); err != nil {
			return err
		}
		if _, err := s.out.Write(e.lit); err != nil {
			return err
		}
		pos = e.e
	}
	if err := ld.copyTo(&s.out, pos, ld.size()); err != nil {
		return err
	}
	if _, err := s.out.Write(litNL); err != nil {
		return err
	}
	if !nl {
		s.warnf("line %d: the last line had no newline; one was added", s.lineNo)
	}
	return s.forwarded(ld, n0, si)
}

// forwarded updates the stats after a line was written.
func (s *Scanner) forwarded(ld lineData, n0 int64, si *streamInfo) error {
	n := s.out.n - n0
	s.mu.Lock()
	s.st.Lines = s.lineNo
	s.st.InputBytes = s.lineOff + ld.size()
	s.st.Bytes = s.out.n
	s.st.BytesSinceState += n
	if si != nil {
		si.bytes += n
	}
	s.mu.Unlock()
	return nil
}

// stream returns the stream record for a raw (escaped) name.
func (s *Scanner) stream(raw []byte) *streamInfo {
	if s.last != nil && s.last.name == string(raw) {
		return s.last
	}
	si := s.streams[string(raw)]
	if si == nil {
		si = &streamInfo{name: string(raw)}
		if k, ok := s.cfg.Keys[unescape(raw)]; ok {
			si.keys = k
		}
		s.mu.Lock()
		s.streams[si.name] = si
		s.mu.Unlock()
	}
	s.last = si
	return si
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

func (s *Scanner) schemaLine(ld lineData, m *message) {
	v := &s.tok.vals[m.stream]
	si := s.stream(ld.slice(v.start+1, v.end-1))
	if m.keyProps < 0 {
		return
	}
	kp := &s.tok.vals[m.keyProps]
	var keys []string
	if kp.end-kp.start > 1<<20 || json.Unmarshal(ld.slice(kp.start, kp.end), &keys) != nil {
		s.warnf("line %d: SCHEMA for stream %s: key_properties is not a list of strings", s.lineNo, si.name)
		return
	}
	si.keys = keys
}

func (s *Scanner) stateLine(ld lineData, idx int32, nl bool) error {
	v := &s.tok.vals[idx]
	value := append([]byte(nil), ld.slice(v.start, v.end)...)
	if err := s.out.flush(); err != nil {
		return err
	}
	if s.cfg.OnState != nil {
		if err := s.cfg.OnState(value); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.st.LastState = value
	s.st.States++
	s.st.RecordsSinceState, s.st.BytesSinceState = 0, 0
	s.mu.Unlock()
	return s.forward(ld, nil, nl, nil)
}

// recordLine applies the size policy to a RECORD message.
func (s *Scanner) recordLine(ld lineData, m *message, airbyte bool, nl bool) error {
	vals := s.tok.vals
	sv, payload := m.stream, m.record
	if airbyte {
		sv, payload = m.rStream, m.rData
	}
	si := s.stream(ld.slice(vals[sv].start+1, vals[sv].end-1))
	fl, rl := s.cfg.MaxFieldSize, s.cfg.MaxRecordSize
	psize := vals[payload].end - vals[payload].start
	if ml, ok := ld.(*memLine); ok && nl && (fl <= 0 || psize <= fl) && (rl <= 0 || psize <= rl) {
		// The common case, as counted below and in forward + forwarded,
		// under one lock instead of two.
		s.out.writeRef(ml.b[:len(ml.b)+1])
		n := int64(len(ml.b) + 1)
		s.mu.Lock()
		si.records++
		s.st.Records++
		s.st.RecordsSinceState++
		s.st.CurrentStream = si.name
		s.st.Lines = s.lineNo
		s.st.InputBytes = s.lineOff + n - 1
		s.st.Bytes = s.out.n
		s.st.BytesSinceState += n
		si.bytes += n
		s.mu.Unlock()
		return nil
	}
	s.mu.Lock()
	si.records++
	s.st.Records++
	s.st.RecordsSinceState++
	s.st.CurrentStream = si.name
	s.mu.Unlock()

	if (fl <= 0 || psize <= fl) && (rl <= 0 || psize <= rl) {
		return s.forward(ld, nil, nl, si)
	}
	if !s.tok.full {
		// A line in memory: tokenize it again, recording every member.
		mem := ld.(*memLine)
		s.tok.reset(mem)
		s.tok.full = true
		err := s.tok.parseLine(mem.b)
		s.tok.full = false
		if err != nil {
			return fmt.Errorf("stream: internal: second pass failed: %w", err)
		}
		return s.recordLine2(ld, airbyte, nl, si)
	}
	return s.applyPolicy(ld, m, airbyte, nl, si, payload, psize)
}

// recordLine2 re-finds the message members after a full pass.
func (s *Scanner) recordLine2(ld lineData, airbyte, nl bool, si *streamInfo) error {
	m := s.members(ld)
	payload := m.record
	if airbyte {
		payload = m.rData
	}
	vals := s.tok.vals
	return s.applyPolicy(ld, &m, airbyte, nl, si, payload, vals[payload].end-vals[payload].start)
}

func (s *Scanner) applyPolicy(ld lineData, m *message, airbyte, nl bool, si *streamInfo, payload int32, psize int64) error {
	vals := s.tok.vals
	fl, rl, act := s.cfg.MaxFieldSize, s.cfg.MaxRecordSize, s.cfg.Oversize
	rc := &recordCtx{s: s, ld: ld, si: si, recNo: si.records}

	// The payload's top-level fields.
	fields := s.fields[:0]
	for i := range vals {
		if vals[i].parent == payload {
			v := &vals[i]
			f := fieldInfo{idx: int32(i), size: v.end - v.start}
			raw := ld.slice(v.key.start, min(v.key.end, v.key.start+1024))
			for _, k := range si.keys {
				if unescape(raw) == k {
					f.isKey = true
				}
			}
			fields = append(fields, f)
		}
	}
	s.fields = fields
	rc.fields = fields
	rc.keysJSON = s.keysJSON(ld, fields)
	viols := rc.viols[:0]
	drop := false

	if s.tok.overflow {
		viols = append(viols, violation{field: -1, start: 0, end: ld.size(), size: psize, limit: max(fl, rl),
			reason: "too_complex"})
		drop = true
	}
	// Field size.
	for fi := range fields {
		f := &fields[fi]
		v := &vals[f.idx]
		if drop || fl <= 0 || f.size <= fl {
			continue
		}
		name := ld.slice(v.key.start, v.key.end)
		name = append([]byte(nil), name[:min(len(name), maxPathSeg)]...)
		if f.isKey {
			viols = append(viols, violation{field: fi, start: v.start, end: v.end, path: name, size: f.size, limit: fl, reason: "key_too_large"})
			drop = true
			continue
		}
		if v.kind != kString && (act == Null || act == Truncate) {
			// Act on the oversized strings inside, if that makes the field fit.
			var nested []bigStr
			saved := int64(0)
			for _, b := range s.tok.bigs {
				if b.start > v.start && b.end <= v.end {
					nested = append(nested, b)
					if act == Truncate && fl >= 2 {
						saved += b.end - b.start - fl
					} else {
						saved += b.end - b.start - 4
					}
				}
			}
			if len(nested) > 0 && f.size-saved <= fl {
				for _, b := range nested {
					viols = append(viols, violation{field: fi, start: b.start, end: b.end,
						path: s.relPath(b, airbyte), size: b.end - b.start, limit: fl, reason: "field_size"})
				}
				continue
			}
		}
		viols = append(viols, violation{field: fi, start: v.start, end: v.end, path: name, size: f.size, limit: fl, reason: "field_size"})
	}

	if act == Fail && len(viols) > 0 {
		return rc.fail(&viols[0])
	}
	if (act == Drop || drop) && act != Pass && len(viols) > 0 {
		rc.viols = viols
		return rc.drop()
	}
	if act == Pass {
		cur := psize
		if rl > 0 && cur > rl {
			viols = append(viols, violation{field: -1, start: vals[payload].start, end: vals[payload].end, size: cur, limit: rl, reason: "record_size"})
		}
		rc.viols = viols
		for i := range viols {
			if err := rc.flag(&viols[i], "passed", ""); err != nil {
				return err
			}
		}
		return s.forward(ld, nil, nl, si)
	}

	// Null or truncate: plan edits.
	edits := s.edits[:0]
	cur := psize
	for i := range viols {
		vi := &viols[i]
		f := &fields[vi.field]
		isWhole := vi.start == vals[f.idx].start
		var e edit
		if act == Truncate && ld.slice(vi.start, vi.start+1)[0] == '"' && fl >= 2 {
			cut := truncCut(ld, vi.start, vi.end, fl)
			e = edit{s: vi.start, e: vi.end, keep: cut, lit: litQuote}
			vi.change = "TRUNCATED"
		} else {
			e = edit{s: vi.start, e: vi.end, keep: vi.start, lit: litNull}
			vi.change = "NULLED"
		}
		delta := (e.keep - e.s + int64(len(e.lit))) - (e.e - e.s)
		f.size += delta
		cur += delta
		f.whole = f.whole || isWhole
		edits = append(edits, e)
	}
	// Record size: null the largest non-key fields until the record fits.
	if rl > 0 && cur > rl {
		switch act {
		case Fail:
			return rc.fail(&violation{field: -1, size: cur, limit: rl, reason: "record_size"})
		case Drop:
			rc.viols = append(viols, violation{field: -1, start: vals[payload].start, end: vals[payload].end, size: cur, limit: rl, reason: "record_size"})
			return rc.drop()
		}
		order := make([]int, 0, len(fields))
		for fi := range fields {
			if !fields[fi].isKey && fields[fi].size > 4 {
				order = append(order, fi)
			}
		}
		slices.SortStableFunc(order, func(a, b int) int {
			return int(fields[b].size - fields[a].size)
		})
		for _, fi := range order {
			if cur <= rl {
				break
			}
			f := &fields[fi]
			v := &vals[f.idx]
			// Remove earlier edits inside this field.
			kept := edits[:0]
			for _, e := range edits {
				if e.s >= v.start && e.e <= v.end {
					continue
				}
				kept = append(kept, e)
			}
			edits = kept
			for i := range viols {
				if viols[i].field == fi {
					viols[i].gone = true
				}
			}
			name := ld.slice(v.key.start, v.key.end)
			name = append([]byte(nil), name[:min(len(name), maxPathSeg)]...)
			cur -= f.size - 4
			viols = append(viols, violation{field: fi, start: v.start, end: v.end, path: name, size: v.end - v.start,
				limit: rl, reason: "record_size", change: "NULLED"})
			f.size = 4
			edits = append(edits, edit{s: v.start, e: v.end, keep: v.start, lit: litNull})
		}
		if cur > rl {
			rc.viols = append(viols, violation{field: -1, start: vals[payload].start, end: vals[payload].end, size: cur, limit: rl, reason: "record_size"})
			s.edits = edits
			return rc.drop()
		}
	}
	s.edits = edits
	rc.viols = viols

	// Rejects and flags, then lineage.
	chg := s.changes[:0]
	first := true
	for i := range viols {
		vi := &viols[i]
		if vi.gone {
			continue
		}
		file, err := rc.reject(vi.path, vi.start, vi.end)
		if err != nil {
			return err
		}
		action := "nulled"
		if vi.change == "TRUNCATED" {
			action = "truncated"
		}
		if err := rc.flag(vi, action, file); err != nil {
			return err
		}
		if !first {
			chg = append(chg, ',')
		}
		first = false
		reason := "PLATFORM_FIELD_SIZE_LIMITATION"
		if vi.reason == "record_size" {
			reason = "PLATFORM_RECORD_SIZE_LIMITATION"
		}
		chg = append(chg, `{"field":"`...)
		chg = append(chg, vi.path...)
		chg = append(chg, `","change":"`...)
		chg = append(chg, vi.change...)
		chg = append(chg, `","reason":"`...)
		chg = append(chg, reason...)
		chg = append(chg, `"}`...)
	}
	s.changes = chg
	if first {
		return s.forward(ld, nil, nl, si) // nothing changed
	}
	edits = append(edits, s.metaEdit(ld, m, airbyte, chg))
	s.edits = edits
	return s.forward(ld, edits, nl, si)
}

// metaEdit inserts lineage entries chg (a comma-separated list of objects):
// Singer at message level ("meta" beside "record"), Airbyte in record.meta.
func (s *Scanner) metaEdit(ld lineData, m *message, airbyte bool, chg []byte) edit {
	vals := s.tok.vals
	host, meta := int32(0), m.meta // the object that holds "meta"
	if airbyte {
		host, meta = m.record, m.rMeta
	}
	wrap := func(pre, post string) []byte {
		b := make([]byte, 0, len(pre)+len(chg)+len(post))
		return append(append(append(b, pre...), chg...), post...)
	}
	if meta < 0 {
		end := vals[host].end - 1
		if isEmptyContainer(ld, vals[host].start, vals[host].end) {
			return edit{s: end, e: end, keep: end, lit: wrap(`"meta":{"changes":[`, `]}`)}
		}
		return edit{s: end, e: end, keep: end, lit: wrap(`,"meta":{"changes":[`, `]}`)}
	}
	mv := &vals[meta]
	if mv.kind != kObject {
		return edit{s: mv.start, e: mv.end, keep: mv.start, lit: wrap(`{"changes":[`, `]}`)}
	}
	changes := int32(-1)
	for i := meta + 1; i < int32(len(vals)); i++ {
		if vals[i].parent == meta && string(keyName(ld, &vals[i])) == "changes" {
			changes = i
		}
	}
	if changes < 0 {
		p := mv.start + 1
		if isEmptyContainer(ld, mv.start, mv.end) {
			return edit{s: p, e: p, keep: p, lit: wrap(`"changes":[`, `]`)}
		}
		return edit{s: p, e: p, keep: p, lit: wrap(`"changes":[`, `],`)}
	}
	cv := &vals[changes]
	if cv.kind != kArray {
		return edit{s: cv.start, e: cv.end, keep: cv.start, lit: wrap(`[`, `]`)}
	}
	if isEmptyContainer(ld, cv.start, cv.end) {
		p := cv.start + 1
		return edit{s: p, e: p, keep: p, lit: wrap(``, ``)}
	}
	p := cv.end - 1
	return edit{s: p, e: p, keep: p, lit: wrap(`,`, ``)}
}

// isEmptyContainer reports whether the object or array [start,end) has no members.
func isEmptyContainer(ld lineData, start, end int64) bool {
	for p := start + 1; p < end-1; {
		n := min(end-1-p, 4096)
		for _, c := range ld.slice(p, p+n) {
			if !isSpace(c) {
				return false
			}
		}
		p += n
	}
	return true
}

// relPath is a big string's path relative to the record payload.
func (s *Scanner) relPath(b bigStr, airbyte bool) []byte {
	p := s.tok.paths[b.path.start:b.path.end]
	// skip "record." (and "data." for Airbyte)
	skip := 1
	if airbyte {
		skip = 2
	}
	for i := 0; i < len(p) && skip > 0; i++ {
		if p[i] == '.' || p[i] == '[' {
			skip--
			if skip == 0 {
				if p[i] == '.' {
					i++
				}
				return append([]byte(nil), p[i:]...)
			}
		}
	}
	return append([]byte(nil), p...)
}

// truncCut returns the end of the kept prefix of the string [start,end)
// so that prefix+`"` is at most limit bytes and ends on an escape and UTF-8
// boundary, not splitting a surrogate pair.
func truncCut(ld lineData, start, end, limit int64) int64 {
	c := start + limit - 1 // kept bytes [start, c)
	type esc struct{ at, n int64 }
	last := esc{at: -1}
	cut := c
	for pos := start + 1; pos < c; {
		hi := min(pos+64<<10, c)
		chunk := ld.slice(pos, min(hi+6, end))
		idx := -1
		for i, ch := range chunk[:hi-pos] {
			if ch == '\\' {
				idx = i
				break
			}
		}
		if idx < 0 {
			pos = hi
			continue
		}
		q := pos + int64(idx)
		n := int64(2)
		if chunk[idx+1] == 'u' {
			n = 6
		}
		if q+n > c {
			cut = q
			break
		}
		last = esc{q, n}
		pos = q + n
	}
	if cut == c {
		for k := 0; k < 3 && cut > start+1; k++ {
			if b := ld.slice(cut, cut+1)[0]; b&0xC0 != 0x80 {
				break
			}
			cut--
		}
	}
	if last.at >= 0 && last.n == 6 && last.at+6 == cut {
		h := ld.slice(last.at+2, last.at+4)
		if (h[0] == 'd' || h[0] == 'D') && ('8' <= h[1] && h[1] <= '9' || 'a' <= h[1] && h[1] <= 'b' || 'A' <= h[1] && h[1] <= 'B') {
			cut = last.at
		}
	}
	return cut
}

// keysJSON renders the record's key property values as a JSON object.
func (s *Scanner) keysJSON(ld lineData, fields []fieldInfo) []byte {
	b := []byte{'{'}
	for _, f := range fields {
		if !f.isKey {
			continue
		}
		v := &s.tok.vals[f.idx]
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, ld.slice(v.key.start, v.key.end)...)
		b = append(b, `":`...)
		if v.end-v.start > 1024 {
			b = fmt.Appendf(b, `"<%d bytes>"`, v.end-v.start)
		} else {
			b = append(b, ld.slice(v.start, v.end)...)
		}
	}
	return append(b, '}')
}

// recordCtx carries one record's reporting state.
type recordCtx struct {
	s        *Scanner
	ld       lineData
	si       *streamInfo
	recNo    int64
	fields   []fieldInfo
	keysJSON []byte
	viols    []violation
}

func (rc *recordCtx) fail(vi *violation) error {
	s := rc.s
	rc.flag(vi, "failed", "")
	return &PolicyError{Line: s.lineNo, Offset: s.lineOff, Stream: unescape([]byte(rc.si.name)), Record: rc.recNo,
		Field: unescape(vi.path), Size: vi.size, Limit: vi.limit, Reason: reasonText(vi.reason)}
}

func reasonText(r string) string {
	switch r {
	case "field_size":
		return "field larger than the field size limit"
	case "record_size":
		return "record larger than the record size limit"
	case "key_too_large":
		return "key property larger than the field size limit"
	case "too_complex":
		return "record too complex to inspect (too many fields or oversized strings)"
	}
	return r
}

// drop rejects the whole record.
func (rc *recordCtx) drop() error {
	s := rc.s
	file, err := rc.reject([]byte("record"), 0, rc.ld.size())
	if err != nil {
		return err
	}
	for i := range rc.viols {
		if rc.viols[i].gone {
			continue
		}
		if err := rc.flag(&rc.viols[i], "dropped", file); err != nil {
			return err
		}
	}
	vi := &rc.viols[len(rc.viols)-1]
	s.warnf("line %d: stream %s record %d dropped: %s", s.lineNo, rc.si.name, rc.recNo, reasonText(vi.reason))
	s.mu.Lock()
	s.st.Dropped++
	s.st.Lines = s.lineNo
	s.st.InputBytes = s.lineOff + rc.ld.size()
	s.mu.Unlock()
	return nil
}

// reject writes the original bytes [start,end) to a new file in RejectsDir.
func (rc *recordCtx) reject(path []byte, start, end int64) (string, error) {
	s := rc.s
	if s.cfg.RejectsDir == "" {
		return "", nil
	}
	base := sanitize(rc.si.name) + "." + strconv.FormatInt(rc.recNo, 10) + "." + sanitize(string(path))
	return s.writeReject(base, rc.ld, start, end)
}

func (s *Scanner) writeReject(base string, ld lineData, start, end int64) (string, error) {
	for i := 1; ; i++ {
		name := base + ".json"
		if i > 1 {
			name = base + "." + strconv.Itoa(i) + ".json"
		}
		f, err := os.OpenFile(filepath.Join(s.cfg.RejectsDir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("stream: rejects: %w", err)
		}
		err = ld.copyTo(f, start, end)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("stream: rejects: %w", err)
		}
		return name, nil
	}
}

// sanitize makes a file name component: [A-Za-z0-9_-] kept, the rest '_';
// if anything changed or it was cut, a hash of the original is appended.
func sanitize(s string) string {
	b := make([]byte, 0, min(len(s), 64)+9)
	changed := len(s) > 64 || s == ""
	for i := 0; i < len(s) && i < 64; i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' {
			b = append(b, c)
		} else {
			b = append(b, '_')
			changed = true
		}
	}
	if changed {
		h := fnv.New32a()
		h.Write([]byte(s))
		b = fmt.Appendf(b, "-%08x", h.Sum32())
	}
	return string(b)
}

// flag writes one flags line for vi and updates the stats.
func (rc *recordCtx) flag(vi *violation, action, file string) error {
	s := rc.s
	s.mu.Lock()
	s.st.Flagged++
	if vi.size > s.st.Largest.Size {
		s.st.Largest = FlaggedValue{Stream: unescape([]byte(rc.si.name)), Record: rc.recNo, Field: unescape(vi.path),
			Size: vi.size, Keys: string(rc.keysJSON)}
	}
	s.mu.Unlock()
	if s.cfg.Flags == nil {
		return nil
	}
	b := fmt.Appendf(nil, `{"line":%d,"offset":%d,"stream":"%s","record":%d,"keys":%s,"field":"%s","size":%d,"limit":%d,"reason":"%s","action":"%s"`,
		s.lineNo, s.lineOff, rc.si.name, rc.recNo, rc.keysJSON, vi.path, vi.size, vi.limit, vi.reason, action)
	if file != "" {
		b = fmt.Appendf(b, `,"rejects":"%s"`, file)
	}
	b = append(b, "}\n"...)
	_, err := s.cfg.Flags.Write(b)
	return err
}

// badLine reports a line that is not forwarded.
func (s *Scanner) badLine(ld lineData, reason string) error {
	size := ld.size()
	head := ld.slice(0, min(size, 200))
	s.warnf("line %d (input offset %d): %s; first bytes: %q", s.lineNo, s.lineOff, reason, head)
	s.mu.Lock()
	s.st.InvalidLines++
	s.st.Lines = s.lineNo
	s.st.InputBytes = s.lineOff + size
	s.mu.Unlock()
	file := ""
	if s.cfg.RejectsDir != "" {
		var err error
		if file, err = s.writeReject("invalid.line"+strconv.FormatInt(s.lineNo, 10), ld, 0, size); err != nil {
			return err
		}
	}
	if s.cfg.Flags != nil {
		r, _ := json.Marshal(reason)
		b := fmt.Appendf(nil, `{"line":%d,"offset":%d,"size":%d,"reason":%s,"action":"rejected"`, s.lineNo, s.lineOff, size, r)
		if file != "" {
			b = fmt.Appendf(b, `,"rejects":"%s"`, file)
		}
		b = append(b, "}\n"...)
		if _, err := s.cfg.Flags.Write(b); err != nil {
			return err
		}
	}
	if s.cfg.Strict {
		return &PolicyError{Line: s.lineNo, Offset: s.lineOff, Size: size, Reason: "bad line: " + reason}
	}
	return nil
}
