package run

import (
	"io"
	"sync"
)

// OutputError is a failure to deliver what the run produced (the record
// stream, the state, the report): the run's own outcome, output_failed,
// never the connector's fault.
type OutputError struct {
	Output string // what could not be written, e.g. "stdout" or "state file /x"
	Err    error
}

func (e *OutputError) Error() string { return "writing " + e.Output + ": " + e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// checkedWriter remembers the first write error and fails every write after
// it: a write that fails once must not be followed by one that succeeds, or
// lines would be lost between them while later STATEs still advance the
// checkpoint.
type checkedWriter struct {
	w    io.Writer
	name string

	mu  sync.Mutex
	err error
}

func newCheckedWriter(w io.Writer, name string) *checkedWriter {
	return &checkedWriter{w: w, name: name}
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		c.fail(err)
		return n, c.failure()
	}
	return n, nil
}

func (c *checkedWriter) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = &OutputError{Output: c.name, Err: err}
	}
}

// failure is the first write error, as an *OutputError, or nil.
func (c *checkedWriter) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
