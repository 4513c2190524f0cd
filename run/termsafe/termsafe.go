// Package termsafe makes hostile text safe to show on a terminal: what a
// connector prints (its stderr, stream names, field values in warnings)
// reaches an operator's terminal or a log a terminal will later display,
// and must not be able to drive it (retitle the window, clear the screen,
// rewrite earlier lines, hide text, reorder it with bidi controls).
//
// Kept: printable UTF-8, tab and newline. Removed: ESC sequences whole
// (CSI, OSC, DCS and the rest, so colour codes vanish instead of leaving
// "[31m" behind), every other C0 and C1 control, DEL, and the bidi
// embedding, override and isolate characters. A carriage return becomes a
// newline (a progress bar becomes lines instead of overwriting them).
// Invalid UTF-8 becomes U+FFFD: a raw 0x9b is CSI to an 8-bit terminal.
//
// It must not buffer without bound: an escape string that never ends is
// cut after maxString bytes and what follows is shown again.
package termsafe

import (
	"io"
	"unicode/utf8"
)

// maxString bounds how much of an unterminated OSC/DCS/APC string is
// swallowed: beyond it, the rest is shown again (sanitized), so opening a
// string cannot hide everything printed after it.
const maxString = 512

type state uint8

const (
	normal   state = iota
	esc            // after ESC
	csi            // ESC [ ... until a final byte 0x40-0x7e
	str            // ESC ] / P / X / ^ / _ ... until BEL or ESC \
	strEsc         // ESC inside a string: ESC \ ends it
	escInter       // ESC followed by intermediate bytes 0x20-0x2f
)

// Writer sanitizes what is written to it and passes the result to W. It
// keeps its state across writes, so a sequence split between two reads of
// a pipe is still recognized. Not safe for concurrent use.
type Writer struct {
	W io.Writer

	st      state
	strLen  int
	lastCR  bool
	partial [utf8.UTFMax]byte // an incomplete UTF-8 sequence from the last write
	np      int
	out     []byte
}

// NewWriter returns a Writer that writes sanitized text to w.
func NewWriter(w io.Writer) *Writer { return &Writer{W: w} }

// Write sanitizes p and writes the result. It reports len(p) on success:
// removed bytes count as written.
func (w *Writer) Write(p []byte) (int, error) {
	w.out = w.sanitize(w.out[:0], p)
	if len(w.out) > 0 {
		if _, err := w.W.Write(w.out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes out an incomplete UTF-8 sequence held back from the last
// Write (as U+FFFD): call it at end of input.
func (w *Writer) Flush() error {
	if w.np == 0 {
		return nil
	}
	w.np = 0
	_, err := w.W.Write([]byte(string(utf8.RuneError)))
	return err
}

// String returns s sanitized; a carriage return and a newline become a
// visible "\r" and "\n" instead (a one-line value must stay one line).
func String(s string) string {
	var w Writer
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b []byte
	for i := 0; i < len(s); {
		c := s[i]
		if w.st == normal && (c == '\n' || c == '\r') {
			b = append(b, '\\', "nr"[boolInt(c == '\r')])
			i++
			continue
		}
		j := i + 1
		for j < len(s) && s[j] != '\n' && s[j] != '\r' {
			j++
		}
		b = w.sanitize(b, []byte(s[i:j]))
		i = j
	}
	if w.np > 0 {
		b = append(b, string(utf8.RuneError)...)
	}
	return string(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sanitize appends the safe form of p to out.
func (w *Writer) sanitize(out, p []byte) []byte {
	if w.np > 0 {
		// Complete the UTF-8 sequence the last write ended in.
		need := utf8.UTFMax - w.np
		n := min(need, len(p))
		buf := append(w.partial[:w.np:w.np], p[:n]...)
		if !utf8.FullRune(buf) {
			w.np = copy(w.partial[:], buf)
			return out
		}
		r, size := utf8.DecodeRune(buf)
		used := size - w.np
		w.np = 0
		if r == utf8.RuneError && size == 1 {
			out = append(out, string(utf8.RuneError)...)
			used = 0
		} else {
			out = w.rune(out, r, buf[:size])
		}
		p = p[used:]
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch w.st {
		case esc:
			i++
			switch {
			case c == '[':
				w.st = csi
			case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
				w.st, w.strLen = str, 0
			case c >= 0x20 && c <= 0x2f:
				w.st = escInter
			default: // a two-byte sequence (ESC 7, ESC c, ...): gone
				w.st = normal
			}
			continue
		case csi:
			i++
			if c >= 0x40 && c <= 0x7e {
				w.st = normal
			} else if c < 0x20 || c > 0x7e {
				w.st = normal // malformed: stop swallowing
			}
			continue
		case escInter:
			i++
			if c < 0x20 || c > 0x2f {
				w.st = normal
			}
			continue
		case str, strEsc:
			i++
			w.strLen++
			switch {
			case c == 0x07 || w.st == strEsc && c == '\\':
				w.st = normal
			case c == 0x1b:
				w.st = strEsc
			case w.strLen > maxString:
				w.st = normal
			default:
				w.st = str
			}
			continue
		}
		// normal: copy the longest run of printable ASCII in one go.
		j := i
		for j < len(p) && p[j] >= 0x20 && p[j] < 0x7f {
			j++
		}
		if j > i {
			out = append(out, p[i:j]...)
			w.lastCR = false
			i = j
			continue
		}
		switch {
		case c == 0x1b:
			w.st = esc
			i++
		case c == '\n':
			if !w.lastCR {
				out = append(out, '\n')
			}
			w.lastCR = false
			i++
		case c == '\r':
			out = append(out, '\n')
			w.lastCR = true
			i++
		case c == '\t':
			out = append(out, '\t')
			w.lastCR = false
			i++
		case c < 0x80: // other C0 controls and DEL
			i++
		default:
			if !utf8.FullRune(p[i:]) {
				w.np = copy(w.partial[:], p[i:])
				return out
			}
			r, size := utf8.DecodeRune(p[i:])
			if r == utf8.RuneError && size == 1 {
				out = append(out, string(utf8.RuneError)...)
			} else {
				out = w.rune(out, r, p[i:i+size])
			}
			w.lastCR = false
			i += size
		}
	}
	return out
}

// rune appends one decoded non-ASCII rune unless it is a control.
func (w *Writer) rune(out []byte, r rune, enc []byte) []byte {
	if unsafeRune(r) {
		return out
	}
	return append(out, enc...)
}

// unsafeRune reports C1 controls and the characters that reorder or hide
// text: bidi embeddings, overrides, isolates and marks.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
