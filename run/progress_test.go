package run

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"syncbox/run/stream"
)

func figures(names ...string) progressFigures {
	st := stream.Stats{Records: 1234567, Bytes: 987654321, Flagged: 3, ByStream: map[string]stream.StreamStats{}}
	for _, n := range names {
		st.ByStream[n] = stream.StreamStats{Records: 1000}
	}
	return progressFigures{stats: st, memory: 300 << 20, limit: 1 << 30, elapsed: 95 * time.Second}
}

// At 70 columns the line used to wrap, a new line every redraw.
func TestProgressLineFitsTheTerminalAndShowsMemory(t *testing.T) {
	for _, cols := range []int{40, 70, 80, 200} {
		f := figures("customers_with_a_very_long_stream_name", "orders", "line_items", "refunds")
		f.columns = cols
		l := progressLine(f)
		if n := columnsOf(l); n >= cols && cols > 20 {
			t.Errorf("%d columns: line takes %d: %q", cols, n, l)
		}
		if cols >= 80 && !strings.Contains(l, "mem 300 MiB of 1.0 GiB") {
			t.Errorf("%d columns: no memory figure in %q", cols, l)
		}
		if cols == 200 && !strings.Contains(l, "+1 more") {
			t.Errorf("wide terminal: streams missing from %q", l)
		}
	}
}

// Stream names are the connector's: an escape sequence in one must not
// reach the terminal.
func TestProgressLineNeverPrintsControlCharacters(t *testing.T) {
	f := figures("evil\x1b]0;pwned\x07\x1b[2J", "tab\there\xffbad utf8", "日本語のストリーム")
	f.columns = 300
	l := progressLine(f)
	for _, r := range l {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			t.Fatalf("control character %U in %q", r, l)
		}
	}
	if !strings.Contains(l, "日本語") {
		t.Errorf("printable names should survive: %q", l)
	}
}

// terminal returns a pipe standing in for the TTY and a func that collects what was written to it.
func terminal(t *testing.T) (*os.File, func() string) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() { b, _ := io.ReadAll(r); got <- string(b) }()
	return w, func() string { w.Close(); return <-got }
}

// Other output clears the status line first; a partial line of the
// connector's is not split by a redraw; stop leaves a clean line.
func TestOutputClearsTheProgressLineFirst(t *testing.T) {
	tty, output := terminal(t)
	p := newProgress(tty)
	p.width = func() int { return 80 }
	p.draw("syncbox: 10 records")
	p.Write([]byte("warning: something\n"))
	p.draw("syncbox: 20 records")
	p.Write([]byte("partial"))
	p.draw("syncbox: 30 records") // must wait for the newline
	p.Write([]byte(" line\n"))
	p.draw("syncbox: 40 records")
	p.stop()
	got := output()
	want := "\r\033[Ksyncbox: 10 records\r\033[Kwarning: something\n" +
		"\r\033[Ksyncbox: 20 records\r\033[Kpartial line\n" +
		"\r\033[Ksyncbox: 40 records\r\033[K"
	if got != want {
		t.Errorf("terminal got\n%q\nwant\n%q", got, want)
	}
}

// The containers' stderr is written through the progress line (it is the
// io.Writer container.IO copies into), so the line is cleared before it.
func TestConnectorStderrPassesThroughTheProgressLine(t *testing.T) {
	tty, output := terminal(t)
	p := newProgress(tty)
	p.draw("syncbox: 1 record")
	var stderr io.Writer = p
	stderr.Write([]byte("connector: hello\n"))
	p.stop()
	got := output()
	if !strings.Contains(got, "\r\033[Kconnector: hello\n") {
		t.Errorf("connector stderr not cleared before: %q", got)
	}
}
