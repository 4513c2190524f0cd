package stream

// This file measures and cuts JSON string content: the decoded size of a
// string value (what a destination stores: its UTF-8 bytes), truncation of
// oversized strings, and the prefixes of keys kept in paths, flags and
// lineage. It walks content in whole units (one escape, a surrogate pair
// of escapes, one UTF-8 sequence), so every cut falls on an escape and
// UTF-8 boundary and never splits a surrogate pair: the result is still
// valid JSON. Invalid UTF-8 bytes count one byte each (they are passed
// byte-exact; the destination decides).

import (
	"encoding/binary"
	"math/bits"
)

// walkChunk is how much of a spooled string is read at a time.
const walkChunk = 64 << 10

// strWalk walks the string content [from,end) of src in whole units while
// the raw bytes stay within rawMax and the decoded bytes within decMax
// (negative: no bound). It returns where it stopped and the decoded bytes
// before that.
func strWalk(src byteSource, from, end, rawMax, decMax int64) (cut, dec int64) {
	pos := from
	for pos < end {
		hi := min(pos+walkChunk, end)
		chunk := src.slice(pos, min(hi+12, end)) // a unit starting before hi may run 12 bytes on
		i := 0
		for int64(i) < hi-pos {
			// Bulk: plain ASCII (no '\\', no byte >= 0x80) 8 bytes at a time.
			if i+8 <= len(chunk) && int64(i+8) <= hi-pos {
				x := binary.LittleEndian.Uint64(chunk[i:])
				b := x ^ (0x5c * lo8)
				m := (((b - lo8) &^ b) | x) & hi8
				n := 8
				if m != 0 {
					n = bits.TrailingZeros64(m) >> 3
				}
				if n > 0 {
					k := n
					if rawMax >= 0 {
						k = min(k, int(rawMax-(pos+int64(i)-from)))
					}
					if decMax >= 0 {
						k = min(k, int(decMax-dec))
					}
					if k < n { // ASCII: any byte is a unit boundary
						return pos + int64(i+k), dec + int64(k)
					}
					i += n
					dec += int64(n)
					continue
				}
			}
			raw, d := unit(chunk[i:])
			if rawMax >= 0 && pos+int64(i+raw)-from > rawMax || decMax >= 0 && dec+d > decMax {
				return pos + int64(i), dec
			}
			i += raw
			dec += d
		}
		pos += int64(i)
	}
	return pos, dec
}

// unit returns the raw and decoded length of the unit at the start of p.
func unit(p []byte) (raw int, dec int64) {
	c := p[0]
	switch {
	case c == '\\':
		if len(p) >= 6 && p[1] == 'u' {
			cp := hex4(p[2:6])
			if cp >= 0xd800 && cp < 0xdc00 && len(p) >= 12 && p[6] == '\\' && p[7] == 'u' {
				if lo := hex4(p[8:12]); lo >= 0xdc00 && lo < 0xe000 {
					return 12, 4
				}
			}
			switch {
			case cp < 0x80:
				return 6, 1
			case cp < 0x800:
				return 6, 2
			}
			return 6, 3 // a lone surrogate decodes to U+FFFD
		}
		return min(2, len(p)), 1
	case c < 0x80:
		return 1, 1
	}
	n := 0
	switch {
	case c >= 0xc2 && c < 0xe0:
		n = 2
	case c >= 0xe0 && c < 0xf0:
		n = 3
	case c >= 0xf0 && c < 0xf5:
		n = 4
	default:
		return 1, 1
	}
	if len(p) < n {
		return 1, 1
	}
	for k := 1; k < n; k++ {
		if p[k]&0xc0 != 0x80 {
			return 1, 1
		}
	}
	return n, int64(n)
}

func hex4(p []byte) int {
	v := 0
	for _, c := range p {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | int(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | int(c-'a'+10)
		case 'A' <= c && c <= 'F':
			v = v<<4 | int(c-'A'+10)
		default:
			return -1
		}
	}
	return v
}

// decodedLen is the decoded UTF-8 size of the string value [start,end)
// (quotes included in the extent, not in the size).
func decodedLen(src byteSource, start, end int64) int64 {
	_, dec := strWalk(src, start+1, end-1, -1, -1)
	return dec
}

// truncCut returns the end of the kept prefix of the string value
// [start,end) (from its opening quote) whose decoded size is at most limit.
func truncCut(src byteSource, start, end, limit int64) int64 {
	cut, _ := strWalk(src, start+1, end-1, -1, limit)
	return cut
}

// appendCut appends the raw string content [start,end) to b, cut to at most
// max raw bytes on a unit boundary.
func appendCut(b []byte, src byteSource, start, end int64, max int64) []byte {
	if end-start > max {
		end, _ = strWalk(src, start, end, max, -1)
	}
	return append(b, src.slice(start, end)...)
}
