package stream

// This file splits the tokenizing of a block of complete lines between the
// Run goroutine and one helper goroutine. Tokenizing is most of the work and
// each line is independent; the policy and all output stay on the Run
// goroutine, in input order. The helper tokenizes the second part of a block
// into per-line results (the recorded values, oversized strings and error),
// which Run then hands to handleLine as if it had tokenized them itself.

import (
	"bytes"
	"io"
)

// parallelMin is the smallest block worth splitting; maxBlock the largest
// block: the helper keeps a 40-byte entry per recorded member, and root
// members can be six bytes apart, so its results take up to about seven
// times a block.
const (
	parallelMin = 32 << 10
	maxBlock    = 256 << 10
)

// Scanner.share is Run's part of a block, in 1/shareOne; it starts at half
// and moves by shareStep towards the split where neither goroutine waits.
const (
	shareOne  = 1024
	shareStep = 8
)

type lineResult struct {
	end        int // end of the line (index of its newline) in the block
	err        error
	started    bool
	overflow   bool
	nv, nb, np int   // ends of its vals, bigs and paths
	fault      int32 // index in helper.faults of the line's member faults, -1 if none
	at         message
}

type helper struct {
	tok    tokenizer
	mem    memLine
	lines  []lineResult
	faults []memberFaults // of the lines that have any (most have none)
	vals   []val
	bigs   []bigStr
	paths  []byte
	jobs   chan job
	done   chan struct{} // buffered: an abandoned Read does not block the helper

	n    int // result of a read job
	rerr error
}

// job is lines to tokenize, or (src set) a Read of src into buf.
type job struct {
	buf []byte
	src io.Reader
}

func newHelper(strLimit int64, opaque uint8, autoSinger bool) *helper {
	h := &helper{jobs: make(chan job), done: make(chan struct{}, 1)}
	h.tok.strLimit, h.tok.opaque, h.tok.autoSinger = strLimit, opaque, autoSinger
	go func() {
		for j := range h.jobs {
			if j.src != nil {
				h.n, h.rerr = j.src.Read(j.buf)
			} else {
				h.tokenize(j.buf)
			}
			h.done <- struct{}{}
		}
	}()
	return h
}

// tokenize tokenizes every line of b (which ends with a newline).
func (h *helper) tokenize(b []byte) {
	h.lines, h.vals, h.bigs, h.paths, h.faults = h.lines[:0], h.vals[:0], h.bigs[:0], h.paths[:0], h.faults[:0]
	for start := 0; start < len(b); {
		end := start + bytes.IndexByte(b[start:], '\n')
		line := b[start:end]
		h.mem.b = line
		h.tok.reset(&h.mem)
		err := h.tok.parseLine(line)
		h.vals = append(h.vals, h.tok.vals...)
		h.bigs = append(h.bigs, h.tok.bigs...)
		h.paths = append(h.paths, h.tok.paths...)
		fault := int32(-1)
		if h.tok.faulty && h.tok.faults != (memberFaults{}) {
			fault = int32(len(h.faults))
			h.faults = append(h.faults, h.tok.faults)
		}
		h.lines = append(h.lines, lineResult{end: end, err: err, started: h.tok.started, overflow: h.tok.overflow,
			nv: len(h.vals), nb: len(h.bigs), np: len(h.paths), fault: fault, at: h.tok.at})
		start = end + 1
	}
}

// block handles b, complete lines each ending with a newline. If next is
// not empty, the helper reads src into it once it has tokenized its part,
// while Run applies the policy to that part; block then returns that
// Read's result (n is 0 if there was no read).
func (s *Scanner) block(b, next []byte, src io.Reader) (n int, rerr, err error) {
	mid := len(b) * s.share / shareOne
	cut := bytes.IndexByte(b[mid:], '\n')
	if len(b) < parallelMin || mid+cut+1 >= len(b) {
		return 0, nil, s.lines(b)
	}
	first, second := b[:mid+cut+1], b[mid+cut+1:]
	if s.helper == nil {
		s.helper = newHelper(s.cfg.MaxFieldSize, s.tok.opaque, s.tok.autoSinger)
	}
	h := s.helper
	h.jobs <- job{buf: second}
	err = s.lines(first)
	// Balance the halves: Run also applies the policy to every line, and
	// either goroutine may be losing its core to the connector.
	select {
	case <-h.done:
		s.share = max(s.share-shareStep, shareOne/8)
	default:
		<-h.done
		s.share = min(s.share+shareStep, shareOne*7/8)
	}
	if err != nil {
		return 0, nil, err
	}
	reading := len(next) > 0
	if reading {
		h.jobs <- job{buf: next, src: src}
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
		if lr.fault >= 0 {
			t.faults, t.faulty = h.faults[lr.fault], true
		} else if t.faulty {
			t.faults, t.faulty = memberFaults{}, false
		}
		t.at = lr.at
		if err := s.handleLine(&s.mem, lr.err, true); err != nil {
			return 0, nil, err // a pending Read is abandoned: Run stops
		}
		s.lineOff += int64(len(line) + 1)
		start, v0, b0, p0 = lr.end+1, lr.nv, lr.nb, lr.np
	}
	if reading {
		<-h.done
		return h.n, h.rerr, nil
	}
	return 0, nil, nil
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
