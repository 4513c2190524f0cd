package stream

// This file is skipValue's portable path (skipmask.go is the AVX2 one, and
// is tested against it): it validates a JSON object or array held in
// memory one token at a time. The parser's state is where the code is:
// each state (a value, a key, what follows a value) is a label, so the
// branch that picks the next token is one per state, which the predictor
// learns, not one switch shared by all of them. Strings go through the
// package's one string scanner (scanstr.go), integers inline, numbers with
// a fraction or an exponent through numberEnd; the kinds of the 64 outer
// containers stay in a register. On the corpus's payloads it is about
// 1.07x the token switch it replaced (BenchmarkSkip without SIMD, in
// turns); a string loop of its own made that 1.2x, and was not kept: one
// string grammar, not two.

import "encoding/binary"

// skipBytes validates the object or array at p[i] (nesting at most room
// deep) and returns the index after it; false if it is not valid JSON
// (the caller parses again for the error and its offset).
func (t *tokenizer) skipBytes(p []byte, i, room int) (int, bool) {
	n := len(p)
	var (
		c     byte
		depth int
		objs  uint64 // bit d: the container at depth d < 64 is an object
		obj   bool   // the innermost container is an object
	)
	deep := t.skipDeep[:0] // the same for depths of 64 and more, a word per 64
	if i >= n {
		return 0, false
	}
	if c = p[i]; c != '{' && c != '[' {
		return 0, false
	}
	goto container

value:
	if i, c = nextByte(p, i); c <= ' ' {
		return 0, false
	}
	switch {
	case c == '"':
		var ok bool
		if i, ok = t.stringEnd(p, i+1); !ok {
			return 0, false
		}
		goto afterValue
	case '1' <= c && c <= '9':
		j := i + 1
		for j < n && p[j]-'0' <= 9 {
			j++
		}
		if j < n && (p[j] == '.' || p[j]|0x20 == 'e') {
			var ok bool
			if j, ok = numberEnd(p, i); !ok {
				return 0, false
			}
		}
		i = j
		goto afterValue
	case c == '-' || c == '0':
		var ok bool
		if i, ok = numberEnd(p, i); !ok {
			return 0, false
		}
		goto afterValue
	case c == 't':
		if n-i < 4 || binary.LittleEndian.Uint32(p[i:]) != 'e'<<24|'u'<<16|'r'<<8|'t' {
			return 0, false
		}
		i += 4
		goto afterValue
	case c == 'n':
		if n-i < 4 || binary.LittleEndian.Uint32(p[i:]) != 'l'<<24|'l'<<16|'u'<<8|'n' {
			return 0, false
		}
		i += 4
		goto afterValue
	case c == 'f':
		if n-i < 5 || binary.LittleEndian.Uint32(p[i+1:]) != 'e'<<24|'s'<<16|'l'<<8|'a' {
			return 0, false
		}
		i += 5
		goto afterValue
	case c != '{' && c != '[':
		return 0, false
	}

container:
	// c is p[i], '{' or '['.
	if depth >= room {
		return 0, false
	}
	obj = c == '{'
	if depth < 64 {
		objs = objs&^(1<<uint(depth)) | b2u(obj)<<uint(depth)
	} else {
		w := depth>>6 - 1
		if w == len(deep) {
			deep = append(deep, 0)
			t.skipDeep = deep // kept for the next value
		}
		deep[w] = deep[w]&^(1<<uint(depth&63)) | b2u(obj)<<uint(depth&63)
	}
	depth++
	if i, c = nextByte(p, i+1); c <= ' ' {
		return 0, false
	}
	if c == '}' && obj || c == ']' && !obj {
		i++
		goto closed
	}
	if obj {
		goto key
	}
	goto value

afterValue:
	if i, c = nextByte(p, i); c <= ' ' {
		return 0, false
	}
	if c == ',' {
		i++
		if obj {
			goto key
		}
		goto value
	}
	if c == '}' && obj || c == ']' && !obj {
		i++
		goto closed
	}
	return 0, false

key:
	// After '{' (at the first byte that is not whitespace) or an object's ','.
	if i, c = nextByte(p, i); c != '"' {
		return 0, false
	}
	{
		var ok bool
		if i, ok = t.stringEnd(p, i+1); !ok {
			return 0, false
		}
	}
	if i, c = nextByte(p, i); c <= ' ' {
		return 0, false
	}
	if c != ':' {
		return 0, false
	}
	i++
	goto value

closed:
	if depth--; depth == 0 {
		return i, true
	}
	if d := depth - 1; d < 64 {
		obj = objs>>uint(d)&1 != 0
	} else {
		obj = deep[d>>6-1]>>uint(d&63)&1 != 0
	}
	goto afterValue
}

// stringEnd returns the index after the closing quote of the string whose
// body starts at p[i], false if it has none or is not a valid JSON string:
// the package's one string scanner (scanstr.go), its short case inline.
// UTF-8 is not checked (package doc).
func (t *tokenizer) stringEnd(p []byte, i int) (int, bool) {
	j, ok := shortString(p, i)
	if !ok {
		var err error
		if j, err = t.skipString(p, j); err != nil {
			return 0, false
		}
	}
	return j + 1, true
}

// nextByte returns the first byte at or after p[i] that is not JSON
// whitespace, and its index; a byte of 0x20 or below (0 at the end of p)
// where anything else was found, which no token starts with.
func nextByte(p []byte, i int) (int, byte) {
	for ; i < len(p); i++ {
		c := p[i]
		if c > ' ' || c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return i, c
		}
	}
	return i, 0
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
