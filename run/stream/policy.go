package stream

// This file is the size policy of a RECORD (classify.go found it): whether
// its fields, nested strings and numbers, or the whole payload break a
// limit, and what happens then: forwarded unchanged, spliced (values
// nulled or truncated, lineage added), dropped, or a *PolicyError. The
// reports go through rejects.go, flags.go and warn.go.

import (
	"fmt"
	"slices"
)

// fieldInfo is a top-level field of a record payload.
type fieldInfo struct {
	idx   int32 // in tok.vals
	size  int64 // current serialized size, after edits
	isKey bool
	whole bool // a whole-field edit exists
}

// nestedBig is an oversized string or number inside a field, with its
// size (a string's decoded bytes).
type nestedBig struct {
	bigStr
	size int64
}

// violation is one flagged value of a record.
type violation struct {
	field      int   // index in fields, -1 for the whole record
	start, end int64 // original value extent
	path       []byte
	size       int64
	limit      int64
	reason     string // field_size, record_size, key_too_large, too_complex
	utf8       bool   // size is a string's decoded UTF-8 bytes, not serialized bytes
	change     string // NULLED, TRUNCATED or "" (no change)
	gone       bool   // superseded by a later whole-field edit
}

// recordLine applies the size policy to a RECORD message.
func (s *Scanner) recordLine(m *message, airbyte bool) error {
	vals := s.tok.vals
	var sv, ns *val
	if !airbyte {
		sv = &vals[m.stream()]
	} else {
		sv = &vals[m.rStream()]
		if m.rNS() >= 0 {
			ns = &vals[m.rNS()]
		}
	}
	si, err := s.stream(sv, ns)
	if err != nil {
		return s.badLine(err.Error())
	}
	pl := m.payload(airbyte)
	fl, rl := s.cfg.MaxFieldSize, s.cfg.MaxRecordSize
	psize := vals[pl.obj].end - vals[pl.obj].start
	if ml, ok := s.ld.(*memLine); ok && s.nl && (fl <= 0 || psize <= fl) && (rl <= 0 || psize <= rl) {
		// The common case, as counted below and in forward + forwarded,
		// under one lock instead of two.
		if err := s.out.writeRef(ml.b[:len(ml.b)+1]); err != nil {
			return err
		}
		n := int64(len(ml.b) + 1)
		s.mu.Lock()
		si.records++
		s.st.Records++
		s.st.RecordsSinceState++
		s.st.CurrentStream = si.display
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
	s.st.CurrentStream = si.display
	s.mu.Unlock()

	if (fl <= 0 || psize <= fl) && (rl <= 0 || psize <= rl) {
		return s.forward(nil, si)
	}
	if !s.tok.full {
		// A line in memory: tokenize it again, recording every member,
		// and find the members again (their indices changed).
		mem := s.ld.(*memLine)
		s.tok.reset(mem)
		s.tok.full = true
		err := s.tok.parseLine(mem.b)
		s.tok.full = false
		if err != nil {
			return fmt.Errorf("stream: internal: second pass failed: %w", err)
		}
		m2 := s.members()
		pl = m2.payload(airbyte)
	}
	return s.applyPolicy(si, &pl, psize)
}

func (s *Scanner) applyPolicy(si *streamInfo, pl *payload, psize int64) error {
	ld, vals := s.ld, s.tok.vals
	fl, rl, act := s.cfg.MaxFieldSize, s.cfg.MaxRecordSize, s.cfg.Oversize
	rc := &recordCtx{s: s, ld: ld, si: si, recNo: si.records}

	// The payload's top-level fields; key properties hashed once per SCHEMA.
	fields := s.fields[:0]
	for i := range vals {
		if vals[i].parent == pl.obj {
			v := &vals[i]
			f := fieldInfo{idx: int32(i), size: v.end - v.start}
			if v.key.end-v.key.start <= 1024 {
				f.isKey = si.isKey(ld.slice(v.key.start, v.key.end))
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
	// Field size: a string's decoded UTF-8 bytes (what a destination
	// stores), any other value's serialized bytes. A serialized size within
	// the limit is within it decoded too.
	for fi := range fields {
		f := &fields[fi]
		v := &vals[f.idx]
		if drop || fl <= 0 || f.size <= fl {
			continue
		}
		size := f.size
		if v.kind == kString {
			if size = decodedLen(ld, v.start, v.end); size <= fl {
				continue
			}
		}
		name := appendCut(nil, ld, v.key.start, v.key.end, maxPathSeg)
		if f.isKey {
			viols = append(viols, violation{field: fi, start: v.start, end: v.end, path: name, size: size, limit: fl, reason: "key_too_large", utf8: v.kind == kString})
			drop = true
			continue
		}
		if v.kind != kString && (act == Null || act == Truncate) {
			// Act on the oversized strings and numbers inside, if that
			// makes the field fit.
			nested := s.nested[:0]
			saved := int64(0)
			for _, b := range s.tok.bigs {
				if b.start <= v.start || b.end > v.end {
					continue
				}
				bsize, str := b.end-b.start, ld.slice(b.start, b.start+1)[0] == '"'
				if str {
					if bsize = decodedLen(ld, b.start, b.end); bsize <= fl {
						continue
					}
				}
				nested = append(nested, nestedBig{b, bsize})
				if act == Truncate && str {
					saved += b.end - (truncCut(ld, b.start, b.end, fl) + 1)
				} else {
					saved += b.end - b.start - 4
				}
			}
			s.nested = nested
			if len(nested) > 0 && f.size-saved <= fl {
				for _, nb := range nested {
					viols = append(viols, violation{field: fi, start: nb.start, end: nb.end,
						path: s.relPath(nb.bigStr, pl), size: nb.size, limit: fl, reason: "field_size", utf8: ld.slice(nb.start, nb.start+1)[0] == '"'})
				}
				continue
			}
		}
		viols = append(viols, violation{field: fi, start: v.start, end: v.end, path: name, size: size, limit: fl, reason: "field_size", utf8: v.kind == kString})
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
			viols = append(viols, violation{field: -1, start: vals[pl.obj].start, end: vals[pl.obj].end, size: cur, limit: rl, reason: "record_size"})
		}
		rc.viols = viols
		for i := range viols {
			if err := rc.flag(&viols[i], "passed", ""); err != nil {
				return err
			}
		}
		return s.forward(nil, si)
	}

	// Null or truncate: plan edits.
	edits := s.edits[:0]
	cur := psize
	for i := range viols {
		vi := &viols[i]
		f := &fields[vi.field]
		isWhole := vi.start == vals[f.idx].start
		var e edit
		if act == Truncate && ld.slice(vi.start, vi.start+1)[0] == '"' {
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
			rc.viols = append(viols, violation{field: -1, start: vals[pl.obj].start, end: vals[pl.obj].end, size: cur, limit: rl, reason: "record_size"})
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
			name := appendCut(nil, ld, v.key.start, v.key.end, maxPathSeg)
			cur -= f.size - 4
			viols = append(viols, violation{field: fi, start: v.start, end: v.end, path: name, size: v.end - v.start,
				limit: rl, reason: "record_size", change: "NULLED"})
			f.size = 4
			edits = append(edits, edit{s: v.start, e: v.end, keep: v.start, lit: litNull})
		}
		if cur > rl {
			rc.viols = append(viols, violation{field: -1, start: vals[pl.obj].start, end: vals[pl.obj].end, size: cur, limit: rl, reason: "record_size"})
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
		return s.forward(nil, si) // nothing changed
	}
	edits = append(edits, s.metaEdit(pl, chg))
	s.edits = edits
	return s.forward(edits, si)
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
	return &PolicyError{Line: s.lineNo, Offset: s.lineOff, Stream: rc.si.display, Record: rc.recNo,
		Field: safeText(unescape(vi.path)), Size: vi.size, Limit: vi.limit, Reason: reasonText(vi.reason)}
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
	s.warnLine("line %d: stream %s record %d dropped: %s", s.lineNo, rc.si.display, rc.recNo, reasonText(vi.reason))
	s.mu.Lock()
	s.st.Dropped++
	s.st.Lines = s.lineNo
	s.st.InputBytes = s.lineOff + rc.ld.size()
	s.mu.Unlock()
	return nil
}
