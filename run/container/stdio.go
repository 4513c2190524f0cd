package container

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"syncbox/run/termsafe"
)

// IO says what the connector's stdin and stderr are connected to. The
// container only ever gets pipes the runner created (or /dev/null), never
// the caller's own descriptors: libcontainer chowns PID 1's stdio to the
// connector's uid (runc's fixStdioPermissions), and a connector can reopen
// them through /proc/self/fd. Handing it a cron job's log file, a `<file`
// or the operator's terminal would give the tenant that file for good.
type IO struct {
	// Stdin is copied into the connector's stdin by a goroutine; nil
	// means /dev/null.
	Stdin io.Reader
	// StdinPipe asks instead for Container.Stdin, the write end of the
	// connector's stdin pipe, for the caller to write and close (a
	// pipeline's target). Stdin must then be nil.
	StdinPipe bool
	// StdinFile is instead the read end of a pipe the caller made, handed
	// to the connector as it is (no copy in between, so the caller can ask
	// the pipe how much was left unread). Start closes it.
	StdinFile *os.File
	// Stderr receives the connector's stderr with terminal control
	// sequences removed (see package termsafe); nil discards it.
	Stderr io.Writer
	// StderrCap bounds the bytes of stderr copied per container (default
	// DefaultStderrCap); beyond it they are counted, not copied.
	StderrCap int64
}

// DefaultStderrCap is the stderr a connector may send to the runner's
// log per container: plenty for a stack trace or a chatty debug log, not
// enough to fill the disk of a host that keeps cron output.
const DefaultStderrCap = 16 << 20

// StderrStats says how much of the connector's stderr was copied and how
// much was dropped beyond the cap (or because the writer failed). Bytes
// are counted as the connector wrote them, before sanitizing.
type StderrStats struct {
	Copied  int64
	Dropped int64
}

// stderrLineMax is how long a line without a newline may grow before it
// is written anyway; whole lines keep the runner's own messages from
// landing in the middle of a connector's line.
const stderrLineMax = 64 << 10

// stderrDrainTimeout bounds how long Wait waits for the stderr copy after
// the connector exited. Every process of the container dies with PID 1,
// so EOF comes at once; the bound only guards against the unforeseen.
const stderrDrainTimeout = 5 * time.Second

// stdio holds the runner's ends of the connector's pipes.
type stdio struct {
	child [3]*os.File // the container's ends; closed once it has started
	own   []*os.File  // the runner's ends, closed by Destroy

	stdinW *os.File // when IO.StdinPipe

	errR    *os.File
	errDone chan struct{}
	mu      sync.Mutex
	stats   StderrStats
}

// openStdio creates the pipes for o (stdout is made by the caller).
func openStdio(o IO) (_ *stdio, err error) {
	if o.Stdin != nil && o.StdinPipe {
		return nil, errors.New("stdio: Stdin and StdinPipe are exclusive")
	}
	s := &stdio{errDone: make(chan struct{})}
	defer func() {
		if err != nil {
			s.closeChild()
			s.closeOwn()
		}
	}()
	if o.StdinFile != nil && (o.Stdin != nil || o.StdinPipe) {
		return nil, errors.New("stdio: StdinFile excludes Stdin and StdinPipe")
	}
	if o.StdinFile != nil {
		s.child[0] = o.StdinFile
	} else if o.Stdin == nil && !o.StdinPipe {
		devnull, err := os.OpenFile(os.DevNull, os.O_RDONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
		}
		s.child[0] = devnull
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("stdin pipe: %w", err)
		}
		s.child[0] = r
		s.own = append(s.own, w)
		if o.StdinPipe {
			s.stdinW = w
		} else {
			go copyStdin(w, o.Stdin)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	s.child[2], s.errR = w, r
	s.own = append(s.own, r)
	capBytes := o.StderrCap
	if capBytes <= 0 {
		capBytes = DefaultStderrCap
	}
	go s.copyStderr(o.Stderr, capBytes)
	return s, nil
}

// copyStdin feeds the connector's stdin and closes it at the end of src,
// so the connector sees EOF. A connector that exits early makes the write
// fail (EPIPE), which ends the copy.
func copyStdin(w *os.File, src io.Reader) {
	_, _ = io.Copy(w, src)
	_ = w.Close()
}

// copyStderr copies the connector's stderr to dst, sanitized, whole lines
// at a time, up to capBytes; after that it keeps reading (a connector
// blocked on a full pipe would hang) and only counts.
func (s *stdio) copyStderr(dst io.Writer, capBytes int64) {
	defer close(s.errDone)
	var tw *termsafe.Writer
	if dst != nil {
		tw = termsafe.NewWriter(dst)
	}
	buf := make([]byte, 32<<10)
	var pending []byte
	var copied, dropped int64
	capped := false
	failed := dst == nil
	write := func(p []byte) {
		if failed || len(p) == 0 {
			return
		}
		if _, err := tw.Write(p); err != nil {
			failed = true
		}
	}
	for {
		n, err := s.errR.Read(buf)
		if n > 0 {
			keep := int64(0)
			if !failed {
				keep = min(int64(n), max(capBytes-copied, 0))
			}
			pending = append(pending, buf[:keep]...)
			copied += keep
			dropped += int64(n) - keep
			if keep < int64(n) && !capped && !failed {
				// The log should say why it stops, where it stops.
				capped = true
				write(pending)
				pending = pending[:0]
				write([]byte(fmt.Sprintf("\nsyncbox: connector stderr reached its cap of %d bytes; the rest is counted, not shown\n", capBytes)))
			}
			if i := bytes.LastIndexByte(pending, '\n'); i >= 0 {
				write(pending[:i+1])
				pending = append(pending[:0], pending[i+1:]...)
			} else if len(pending) > stderrLineMax {
				write(pending)
				pending = pending[:0]
			}
			s.mu.Lock()
			s.stats = StderrStats{Copied: copied, Dropped: dropped}
			s.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	write(pending)
	if tw != nil && !failed {
		_ = tw.Flush()
	}
}

// drain waits for the stderr copy to reach EOF, at most timeout.
func (s *stdio) drain(timeout time.Duration) {
	select {
	case <-s.errDone:
	case <-time.After(timeout):
		// Closing the read end makes the copy's Read fail and return.
		_ = s.errR.Close()
		<-s.errDone
	}
}

func (s *stdio) stderrStats() StderrStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *stdio) closeChild() {
	for i, f := range s.child {
		if f != nil {
			_ = f.Close()
			s.child[i] = nil
		}
	}
}

func (s *stdio) closeOwn() {
	for _, f := range s.own {
		_ = f.Close()
	}
	s.own = nil
}
