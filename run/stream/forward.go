package stream

// This file forwards a line to the output: byte-exact (a reference into
// the read buffer, no copy), or spliced (the original bytes around each
// edit, the edit's replacement between), always ending with "\n".

import "slices"

// edit replaces line bytes [s,e) by the original bytes [s,keep) and lit.
// An insertion has s == e == keep.
type edit struct {
	s, e, keep int64
	lit        []byte
}

var (
	litNull  = []byte("null")
	litQuote = []byte(`"`)
	litNL    = []byte("\n")
)

// forward writes the current line with its edits and a newline, updating
// the stats (si: the record's stream, nil for other messages).
func (s *Scanner) forward(edits []edit, si *streamInfo) error {
	ld := s.ld
	n0 := s.out.n
	if m, ok := ld.(*memLine); ok && len(edits) == 0 && s.nl {
		// Unchanged and still in the read buffer with its newline.
		if err := s.out.writeRef(m.b[:len(m.b)+1]); err != nil {
			return err
		}
		return s.forwarded(n0, si)
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
	if !s.nl {
		s.warnf("line %d: the last line had no newline; one was added", s.lineNo)
	}
	return s.forwarded(n0, si)
}

// forwarded updates the stats after a line was written.
func (s *Scanner) forwarded(n0 int64, si *streamInfo) error {
	n := s.out.n - n0
	s.mu.Lock()
	s.st.Lines = s.lineNo
	s.st.InputBytes = s.lineOff + s.ld.size()
	s.st.Bytes = s.out.n
	s.st.BytesSinceState += n
	if si != nil {
		si.bytes += n
	}
	s.mu.Unlock()
	return nil
}
