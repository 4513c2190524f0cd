package termsafe

import (
	"bytes"
	"strings"
	"testing"
)

func sanitizeAll(in string, chunk int) string {
	var b bytes.Buffer
	w := NewWriter(&b)
	for len(in) > 0 {
		n := min(chunk, len(in))
		w.Write([]byte(in[:n]))
		in = in[n:]
	}
	w.Flush()
	return b.String()
}

func TestWriterRemovesWhatWouldDriveATerminal(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain", "hello world\n", "hello world\n"},
		{"colour", "\x1b[31mred\x1b[0m\n", "red\n"},
		{"clear screen and home", "\x1b[2J\x1b[Hx", "x"},
		{"window title (OSC, BEL)", "\x1b]0;pwned\x07after", "after"},
		{"hyperlink (OSC, ST)", "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"DCS", "\x1bPq#0;2;0;0;0\x1b\\x", "x"},
		{"two-byte escape", "a\x1bcb", "ab"},
		{"charset designation", "a\x1b(Bb", "ab"},
		{"carriage return overwrite", "secret\rpublic\n", "secret\npublic\n"},
		{"crlf", "a\r\nb\r\n", "a\nb\n"},
		{"backspace and bell", "ab\x08\x08cd\x07", "abcd"},
		{"NUL and DEL", "a\x00b\x7fc", "abc"},
		{"tab kept", "a\tb", "a\tb"},
		{"utf8 kept", "żółw 猫 🐢\n", "żółw 猫 🐢\n"},
		{"C1 CSI as UTF-8", "a\u009b2Jb", "a2Jb"},
		{"raw 8-bit CSI", "a\x9b2Jb", "a\ufffd2Jb"},
		{"bidi override", "abc\u202edcba\u202c", "abcdcba"},
		{"bidi isolate", "x\u2066y\u2069", "xy"},
		{"truncated utf8 at end", "a\xe2\x82", "a\ufffd"},
	}
	for _, c := range cases {
		for _, chunk := range []int{1, 2, 3, 1 << 20} {
			if got := sanitizeAll(c.in, chunk); got != c.want {
				t.Errorf("%s (chunks of %d): %q, want %q", c.name, chunk, got, c.want)
			}
		}
	}
}

// An OSC string that never ends must not swallow the rest of the output.
func TestUnterminatedStringIsCutShort(t *testing.T) {
	in := "\x1b]0;" + strings.Repeat("x", 10000) + "\nlater line\n"
	got := sanitizeAll(in, 4096)
	if !strings.Contains(got, "later line\n") {
		t.Fatalf("an unterminated OSC hid later output: %q...", got[:min(len(got), 80)])
	}
	if len(got) > 10000 {
		t.Errorf("nothing of the OSC string was removed (%d bytes out)", len(got))
	}
}

func TestStringKeepsOneLineOnOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"users":                 "users",
		"a\nb\rc":               `a\nb\rc`,
		"\x1b]0;title\x07users": "users",
		"x\x1b[2Jy\u202e":       "xy",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}
