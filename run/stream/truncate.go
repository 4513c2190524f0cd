package stream

// This file cuts JSON string content: truncation of oversized values and
// the prefixes of keys kept in paths, flags and lineage. Every cut falls
// on a UTF-8 and escape boundary and never splits a surrogate pair, so the
// result is still valid JSON.

// truncCut returns the end of the kept prefix of the string [start,end)
// so that prefix+`"` is at most limit bytes and ends on an escape and UTF-8
// boundary, not splitting a surrogate pair.
func truncCut(ld byteSource, start, end, limit int64) int64 {
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

// appendCut appends the raw string content [start,end) to b, cut to at most
// max bytes on an escape and UTF-8 boundary.
func appendCut(b []byte, src byteSource, start, end int64, max int64) []byte {
	if end-start > max {
		end = truncCut(src, start-1, end+1, max+2)
	}
	return append(b, src.slice(start, end)...)
}
