package stream

// This file is the output side: the buffered writer in front of dst and the
// error type every output failure (dst, flags, rejects) comes back as.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// OutputError is a failure to write one of the scan's outputs: "output"
// (dst, the records' destination), "flags" (Config.Flags) or "rejects"
// (Config.RejectsDir). It is never the connector's fault: the caller
// reports it against the output it names. After an output error nothing
// more is written to that output (a later write could succeed and leave a
// hole in the stream).
type OutputError struct {
	Output string // "output", "flags" or "rejects"
	Op     string // what was being done, e.g. "write", "flush", "create s.1.v.json"
	Err    error
}

func (e *OutputError) Error() string {
	return fmt.Sprintf("stream: %s: %s: %v", e.Output, e.Op, e.Err)
}

func (e *OutputError) Unwrap() error { return e.Err }

// flusher is implemented by buffered destinations.
type flusher interface{ Flush() error }

// outWriter buffers dst and counts bytes. Unchanged lines are not copied:
// ref collects a run of them in the scanner's read buffer, written out
// before that part of the buffer is reused. At most one of buf and ref is
// non-empty, so order is kept. The first error sticks: every later call
// returns it without writing.
type outWriter struct {
	w   io.Writer
	buf []byte
	ref []byte
	n   int64 // bytes accepted (written or buffered)
	err error // *OutputError
}

func (o *outWriter) fail(op string, err error) error {
	if o.err == nil {
		o.err = &OutputError{Output: "output", Op: op, Err: err}
	}
	o.buf, o.ref = o.buf[:0], nil
	return o.err
}

// write writes p to dst; a short write is an error.
func (o *outWriter) write(p []byte) error {
	n, err := o.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return o.fail("write", err)
	}
	return nil
}

// writeRef writes p, which stays valid until the next drainRef.
func (o *outWriter) writeRef(p []byte) error {
	if o.err != nil {
		return o.err
	}
	if len(o.buf) > 0 || len(p) == 0 {
		_, err := o.Write(p)
		return err
	}
	o.n += int64(len(p))
	if r := o.ref; len(r) > 0 && cap(r) > len(r) && &r[:len(r)+1][len(r)] == &p[0] {
		o.ref = r[:len(r)+len(p)]
		return nil
	}
	if err := o.drainRef(); err != nil {
		return err
	}
	o.ref = p
	return nil
}

func (o *outWriter) drainRef() error {
	if o.err != nil {
		return o.err
	}
	if len(o.ref) == 0 {
		return nil
	}
	ref := o.ref
	o.ref = nil
	return o.write(ref)
}

func (o *outWriter) Write(p []byte) (int, error) {
	if err := o.drainRef(); err != nil {
		return 0, err
	}
	o.n += int64(len(p))
	if len(o.buf)+len(p) > cap(o.buf) {
		if err := o.drain(); err != nil {
			return 0, err
		}
		if len(p) >= cap(o.buf)/2 {
			if err := o.write(p); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	o.buf = append(o.buf, p...)
	return len(p), nil
}

func (o *outWriter) drain() error {
	if err := o.drainRef(); err != nil {
		return err
	}
	if len(o.buf) == 0 {
		return nil
	}
	err := o.write(o.buf)
	o.buf = o.buf[:0]
	return err
}

// flush drains the buffer and flushes dst if it can be flushed.
func (o *outWriter) flush() error {
	if err := o.drain(); err != nil {
		return err
	}
	if f, ok := o.w.(flusher); ok {
		if err := f.Flush(); err != nil {
			return o.fail("flush", err)
		}
	}
	return nil
}

// recWriter remembers its writer's error, so that a copy's error can be
// told apart from a read error.
type recWriter struct {
	w   io.Writer
	err error
}

func (r *recWriter) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	if err != nil {
		r.err = err
	}
	return n, err
}

// copyRaw is the Raw protocol: a plain copy (splice between *os.File).
// Its output failures are *OutputError like the scanner's: a file keeps
// splice, so its errors are told by errno (these come only from writes).
func (s *Scanner) copyRaw(dst io.Writer, src io.Reader) error {
	var n int64
	var err error
	outErr := func(err error) bool {
		for _, e := range []error{syscall.EPIPE, syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG, syscall.EROFS} {
			if errors.Is(err, e) {
				return true
			}
		}
		return false
	}
	if f, ok := dst.(*os.File); ok {
		n, err = io.Copy(f, src)
	} else {
		rw := &recWriter{w: dst}
		n, err = io.Copy(rw, src)
		if err != nil && rw.err != nil {
			outErr = func(error) bool { return true }
		}
	}
	s.mu.Lock()
	s.st.Bytes, s.st.InputBytes = n, n
	s.mu.Unlock()
	if err != nil {
		if outErr(err) {
			return &OutputError{Output: "output", Op: "write", Err: err}
		}
		return fmt.Errorf("stream: copying connector output: %w", err)
	}
	if f, ok := dst.(flusher); ok {
		if err := f.Flush(); err != nil {
			return &OutputError{Output: "output", Op: "flush", Err: err}
		}
	}
	return nil
}
