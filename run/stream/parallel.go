package stream

// This file splits the tokenizing of a block of complete lines between the
// Run goroutine and one helper goroutine. Tokenizing is most of the work and
// each line is independent; the policy and all output stay on the Run
// goroutine, in input order. The helper tokenizes the second half of a block
// into per-line results (the recorded values, oversized strings and error),
// which Run then hands to handleLine as if it had tokenized them itself.

import (
	"bytes"
	"io"
)

// parallelMin is the smallest block worth splitting.
const parallelMin = 32 << 10

type lineResult struct {
	end        int // end of the line (index of its newline) in the block
	err        error
	started    bool
	overflow   bool
	nv, nb, np int // ends of its vals, bigs and paths
}

type helper struct {
	tok   tokenizer
	mem   memLine
	lines []lineResult
	vals  []val
	bigs  []bigStr
	paths []byte
	jobs  chan []byte
	done  chan struct{}
}

func newHelper(strLimit int64) *helper {
	h := &helper{jobs: make(chan []byte), done: make(chan struct{})}
	h.tok.strLimit = strLimit
	go func() {
		for b := range h.jobs {
			h.tokenize(b)
			h.done <- struct{}{}
		}
	}()
	return h
}

// tokenize tokenizes every line of b (which ends with a newline).
func (h *helper) tokenize(b []byte) {
	h.lines, h.vals, h.bigs, h.paths = h.lines[:0], h.vals[:0], h.bigs[:0], h.paths[:0]
	for start := 0; start < len(b); {
		end := start + bytes.IndexByte(b[start:], '\n')
		line := b[start:end]
		h.mem.b = line
		h.tok.reset(&h.mem)
		err := h.tok.parseLine(line)
		h.vals = append(h.vals, h.tok.vals...)
		h.bigs = append(h.bigs, h.tok.bigs...)
		h.paths = append(h.paths, h.tok.paths...)
		h.lines = append(h.lines, lineResult{end: end, err: err, started: h.tok.started, overflow: h.tok.overflow,
			nv: len(h.vals), nb: len(h.bigs), np: len(h.paths)})
		start = end + 1
	}
}

// block handles b, complete lines each ending with a newline.
func (s *Scanner) block(b []byte) error {
	mid := len(b) / 2
	cut := bytes.IndexByte(b[mid:], '\n')
	if len(b) < parallelMin || mid+cut+1 >= len(b) {
		return s.lines(b)
	}
	first, second := b[:mid+cut+1], b[mid+cut+1:]
	if s.helper == nil {
		s.helper = newHelper(s.cfg.MaxFieldSize)
	}
	h := s.helper
	h.jobs <- second
	err := s.lines(first)
	<-h.done
	if err != nil {
		return err
	}
	// Replay the helper's results.
	ownVals, ownBigs, ownPaths := s.tok.vals, s.tok.bigs, s.tok.paths
	defer func() { s.tok.vals, s.tok.bigs, s.tok.paths = ownVals[:0], ownBigs[:0], ownPaths[:0] }()
	start, v0, b0, p0 := 0, 0, 0, 0
	for _, lr := range h.lines {
		line := second[start:lr.end]
		s.mem.b = line
		t := &s.tok
		t.src, t.chunk, t.base = &s.mem, line, 0
		t.stack = t.stack[:0]
		t.vals = h.vals[v0:lr.nv:lr.nv]
		t.bigs = h.bigs[b0:lr.nb:lr.nb]
		t.paths = h.paths[p0:lr.np:lr.np]
		t.started, t.overflow = lr.started, lr.overflow
		if err := s.handleLine(&s.mem, lr.err, true); err != nil {
			return err
		}
		s.lineOff += int64(len(line) + 1)
		start, v0, b0, p0 = lr.end+1, lr.nv, lr.nb, lr.np
	}
	return nil
}

// lines handles b, complete lines each ending with a newline, in order.
func (s *Scanner) lines(b []byte) error {
	for start := 0; start < len(b); {
		end := start + bytes.IndexByte(b[start:], '\n')
		if err := s.memLineDone(b[start:end], true); err != nil {
			return err
		}
		s.lineOff += int64(end - start + 1)
		start = end + 1
	}
	return nil
}

func (s *Scanner) stopHelper() {
	if s.helper != nil {
		close(s.helper.jobs)
		s.helper = nil
	}
}

// readahead reads src on its own goroutine so that reading overlaps
// scanning, and hands Run everything already read in one Read: blocks of
// lines are then as large as the producer is ahead, while a Read still
// returns as soon as anything is available (no added latency).
type readahead struct {
	ch   chan []byte
	free chan []byte
	stop chan struct{}
	cur  []byte // unread part of buf
	buf  []byte
	err  error // set before ch is closed
}

const (
	readaheadBufs = 16
	readaheadSize = 256 << 10
)

func newReadahead(src io.Reader) *readahead {
	r := &readahead{ch: make(chan []byte, readaheadBufs), free: make(chan []byte, readaheadBufs), stop: make(chan struct{})}
	go func() {
		defer close(r.ch)
		allocated := 0
		for {
			var b []byte
			select {
			case b = <-r.free:
			default:
				if allocated < readaheadBufs {
					// Buffers are made as needed: a small stream needs one.
					b = make([]byte, readaheadSize)
					allocated++
					break
				}
				select {
				case b = <-r.free:
				case <-r.stop:
					return
				}
			}
			n, err := src.Read(b[:cap(b)])
			if n > 0 {
				select {
				case r.ch <- b[:n]:
				case <-r.stop:
					return
				}
			} else {
				r.free <- b
			}
			if err != nil {
				r.err = err
				return
			}
		}
	}()
	return r
}

func (r *readahead) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.cur) == 0 {
			if r.buf != nil {
				r.free <- r.buf
				r.buf = nil
			}
			var b []byte
			var ok bool
			if n == 0 {
				b, ok = <-r.ch
			} else {
				select {
				case b, ok = <-r.ch:
				default:
					return n, nil
				}
			}
			if !ok {
				if n > 0 {
					return n, nil
				}
				return 0, r.err
			}
			r.cur, r.buf = b, b
		}
		k := copy(p[n:], r.cur)
		r.cur = r.cur[k:]
		n += k
	}
	return n, nil
}

func (r *readahead) close() { close(r.stop) }
