package stream

// This file writes lineage: the Airbyte-style change entries
// {"field","change","reason"} inserted into the forwarded record (Airbyte:
// record.meta.changes, appended to existing entries; Singer: a
// message-level "meta" object), and the field paths they name.

// metaEdit inserts lineage entries chg (a comma-separated list of objects):
// Singer at message level ("meta" beside "record"), Airbyte in record.meta.
func (s *Scanner) metaEdit(pl *payload, chg []byte) edit {
	ld, vals := s.ld, s.tok.vals
	host, meta := pl.host, pl.meta
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
func (s *Scanner) relPath(b bigStr, pl *payload) []byte {
	p := s.tok.paths[b.path.start:b.path.end]
	// skip "record." (and "data." for Airbyte)
	skip := pl.prefix
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
