package run

import (
	"errors"
	"testing"
)

// flaky fails its first write only, as a full disk that frees up does.
type flaky struct {
	calls int
	got   []byte
}

func (f *flaky) Write(p []byte) (int, error) {
	f.calls++
	if f.calls == 2 {
		return 0, errors.New("no space left on device")
	}
	f.got = append(f.got, p...)
	return len(p), nil
}

// A write that fails once and then succeeds used to lose the failed lines
// while the run went on (and its later STATEs moved the checkpoint).
func TestAWriteThatFailsOnceFailsEveryWriteAfter(t *testing.T) {
	f := &flaky{}
	w := newCheckedWriter(f, "stdout")
	if _, err := w.Write([]byte("a\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("b\n")); err == nil {
		t.Fatal("the failing write returned no error")
	}
	_, err := w.Write([]byte("c\n"))
	var oe *OutputError
	if !errors.As(err, &oe) || oe.Output != "stdout" {
		t.Fatalf("write after a failure: %v, want the first *OutputError naming stdout", err)
	}
	if string(f.got) != "a\n" {
		t.Errorf("delivered %q after a failure; want nothing past it", f.got)
	}
	guarded := guardState(w, func([]byte) error { t.Fatal("a STATE was persisted after the output failed"); return nil })
	if err := guarded([]byte(`{}`)); err == nil {
		t.Error("a STATE after a failed write was accepted")
	}
}
