package stream

// This file writes human-readable warnings. Warnings about single lines
// (bad lines, dropped records, bad SCHEMAs) are bounded: the first
// Config.MaxWarnings are written, the rest counted (Stats.WarningsSkipped)
// and summarized once at the end. Text that came from the input is shown
// through safeText or %q, so a connector cannot put terminal control
// sequences, C1 controls or bidi overrides on the operator's terminal.

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// warnf writes a warning about the whole run (always written).
func (s *Scanner) warnf(format string, args ...any) {
	if s.cfg.Warn != nil {
		fmt.Fprintf(s.cfg.Warn, "syncbox: "+format+"\n", args...)
	}
}

// warnLine writes a warning about one line, within the bound.
func (s *Scanner) warnLine(format string, args ...any) {
	if s.warnRoom() {
		s.warnf(format, args...)
	}
}

// warnRoom takes one line warning from the bound; false: counted, skip it.
// Callers on hot paths ask first, so that skipped warnings cost nothing.
func (s *Scanner) warnRoom() bool {
	if s.maxWarn >= 0 && s.warnN >= s.maxWarn {
		s.mu.Lock()
		s.st.WarningsSkipped++
		s.mu.Unlock()
		return false
	}
	s.warnN++
	return true
}

// warnSummary says how many line warnings were not shown.
func (s *Scanner) warnSummary() {
	s.mu.Lock()
	n := s.st.WarningsSkipped
	s.mu.Unlock()
	if n > 0 {
		s.warnf("%d more line warnings not shown (the first %d were); see the flags file and the report's counts", n, s.maxWarn)
	}
}

// maxSafeText bounds text from the input shown in warnings and stats.
const maxSafeText = 256

// safeText makes decoded input text safe to show on a terminal: C0 and C1
// controls, DEL, bidi and other invisible format characters, and invalid
// UTF-8 are written as \uXXXX (\xNN for bad bytes); it keeps at most
// maxSafeText bytes of the input and then adds "…".
func safeText(s string) string { return safeTextN(s, maxSafeText) }

// safeTextN is safeText keeping at most max bytes of the input.
func safeTextN(s string, max int) string {
	clean := len(s) <= max
	for i := 0; clean && i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i >= max {
			b.WriteString("…")
			break
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i]), 16))
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unsafeRune: controls, and format characters that reorder or hide text.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r < 0xa0:
		return true
	case r == 0xad, r == 0x061c, r == 0x180e, r >= 0x200b && r <= 0x200f,
		r >= 0x2028 && r <= 0x202e, r >= 0x2060 && r <= 0x206f, r == 0xfeff,
		r >= 0xfff9 && r <= 0xfffb, r >= 0xe0000 && r <= 0xe007f:
		return true
	}
	return false
}
