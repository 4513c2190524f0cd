package cmd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"syncbox/testdata/testenv"
)

// openPTY returns a pseudo-terminal pair whose terminal side is cols wide.
func openPTY(t *testing.T, cols uint16) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: 24}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// On a 70-column terminal the progress line used to wrap (a new line every
// redraw), had the connector's stderr glued onto it, and showed no memory.
// Stream names are the connector's and may carry escapes.
func TestProgressLineOnARealTerminal(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	master, tty := openPTY(t, 70)
	script := `i=0; while [ $i -lt 32 ]; do
  echo '{"type":"RECORD","stream":"evil\u001b[2J\u001b]0;x\u0007","record":{"i":1}}'
  i=$((i+1)); [ $i = 24 ] && echo connector-says-hi >&2; sleep 0.05; done`
	cmd := sb(t, root, "run", "--memory", "64MiB", "--", "/bin/sh", "-c", script)
	cmd.Stdout = io.Discard
	cmd.Stderr = tty
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&screen, master); close(copied) }()
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v\n%q", err, screen.String())
	}
	tty.Close()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	out := screen.String()

	progressLines, withMem := 0, 0
	for _, seg := range strings.FieldsFunc(out, func(r rune) bool { return r == '\r' || r == '\n' }) {
		seg = strings.TrimPrefix(seg, "\x1b[K")
		if !strings.Contains(seg, "/s)") { // the summary line is not the progress line
			continue
		}
		progressLines++
		if n := len([]rune(seg)); n >= 70 {
			t.Errorf("progress line of %d columns on a 70-column terminal: %q", n, seg)
		}
		if strings.Contains(seg, "mem ") {
			withMem++
		}
	}
	if progressLines < 2 || withMem == 0 {
		t.Errorf("%d progress lines, %d with memory, want at least 2 and 1:\n%q", progressLines, withMem, out)
	}
	if !strings.Contains(out, "\r\x1b[Kconnector-says-hi") {
		t.Errorf("the connector's stderr was not put on a cleared line:\n%q", out)
	}
	for i := strings.IndexByte(out, 0x1b); i >= 0; i = strings.IndexByte(out[i+1:], 0x1b) + i + 1 {
		if !strings.HasPrefix(out[i:], "\x1b[K") {
			t.Fatalf("an escape other than our clear-line reached the terminal at %d: %q", i, out[max(0, i-20):min(len(out), i+20)])
		}
		if strings.IndexByte(out[i+1:], 0x1b) < 0 {
			break
		}
	}
}
