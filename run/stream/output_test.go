package stream

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// flakyWriter fails its nth Write (1-based) and accepts every other one,
// like a pipe that saw one EAGAIN or a disk that was full for a moment.
type flakyWriter struct {
	n, calls int
	got      strings.Builder
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	w.calls++
	if w.calls == w.n {
		return 0, syscall.ENOSPC
	}
	return w.got.Write(p)
}

// A write that fails once and then succeeds must end the run with an
// *OutputError, whichever write it was: lines written after a lost one
// would otherwise reach the destination with a hole before them.
func TestEveryOutputWriteErrorIsReturned(t *testing.T) {
	var in strings.Builder
	for i := range 20000 {
		in.WriteString(`{"type":"RECORD","stream":"s","record":{"i":` + strings.Repeat("1", i%7+1) + `}}` + "\n")
		if i%5000 == 0 {
			in.WriteString(`{"type":"STATE","value":{"n":1}}` + "\n")
		}
	}
	for _, serial := range []bool{true, false} {
		for n := 1; n <= 4; n++ {
			w := &flakyWriter{n: n}
			s := New(Config{Protocol: Singer, MaxFieldSize: 1 << 20})
			s.serial = serial
			err := s.Run(w, strings.NewReader(in.String()))
			var oe *OutputError
			if !errors.As(err, &oe) || oe.Output != "output" || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("serial %v, write %d fails: Run returned %v (%T), want *OutputError for the output", serial, n, err, err)
			}
			if w.calls > n {
				t.Fatalf("serial %v: %d writes after the failed write %d", serial, w.calls-n, n)
			}
		}
	}
}

// A STATE's OnState error is the caller's own: it is returned as it is,
// not as an output failure.
func TestOnStateErrorIsNotAnOutputError(t *testing.T) {
	mine := errors.New("checkpoint failed")
	s := New(Config{OnState: func([]byte) error { return mine }})
	err := s.Run(io.Discard, strings.NewReader(`{"type":"STATE","value":1}`+"\n"))
	var oe *OutputError
	if err != mine || errors.As(err, &oe) {
		t.Fatalf("err %v", err)
	}
}

// Flags and rejects are outputs too: their failures name them.
func TestFlagsAndRejectsErrorsNameTheOutput(t *testing.T) {
	in := `{"type":"RECORD","stream":"s","record":{"v":"` + strings.Repeat("x", 100) + `"}}` + "\n"
	s := New(Config{MaxFieldSize: 10, Flags: &flakyWriter{n: 1}})
	var oe *OutputError
	if err := s.Run(io.Discard, strings.NewReader(in)); !errors.As(err, &oe) || oe.Output != "flags" {
		t.Fatalf("flags: err %v", err)
	}
	// The rejects dir vanishes after the scan started: creating a
	// rejects file in it fails.
	rej := filepath.Join(t.TempDir(), "rejects")
	s = New(Config{MaxFieldSize: 10, RejectsDir: rej})
	src := readerFunc(func(p []byte) (int, error) {
		if err := os.RemoveAll(rej); err != nil {
			t.Fatal(err)
		}
		return copy(p, in), io.EOF
	})
	if err := s.Run(io.Discard, src); !errors.As(err, &oe) || oe.Output != "rejects" {
		t.Fatalf("rejects: err %v", err)
	}
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// Raw mode's output failures are *OutputError too, through a pipe whose
// reader is gone (splice keeps working) and through any writer.
func TestRawOutputErrors(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Close()
	s := New(Config{Protocol: Raw})
	var oe *OutputError
	if err := s.Run(pw, strings.NewReader(strings.Repeat("x\n", 1<<16))); !errors.As(err, &oe) || !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("closed pipe: %v", err)
	}
	pw.Close()
	s = New(Config{Protocol: Raw})
	if err := s.Run(&flakyWriter{n: 1}, strings.NewReader("x\n")); !errors.As(err, &oe) {
		t.Fatalf("failing writer: %v", err)
	}
	s = New(Config{Protocol: Raw})
	src := readerFunc(func([]byte) (int, error) { return 0, syscall.EIO })
	if err := s.Run(io.Discard, src); err == nil || errors.As(err, &oe) {
		t.Fatalf("read error: %v", err)
	}
}
