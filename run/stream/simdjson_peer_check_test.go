package stream

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The C++ peer's speed counts only if it read the whole corpus and found
// every line valid: any other report fails the round, never a silent zero.
// Fake peers (shell scripts) print each wrong report; with
// SYNCBOX_SIMDJSON_PEER set, the real one must pass a valid corpus and
// fail one with a bad line.
func TestSimdjsonPeerRound(t *testing.T) {
	corpus := []byte("{\"a\":1}\n{\"b\":[true,null]}\n")
	good := "bytes=26\nlines=2\nparse-many-docs=2\ndom-invalid=0\nparse-many-invalid=0\nstage1-invalid=0\n" +
		"dom-MB/s=1.5\nparse-many-MB/s=2\nstage1-MB/s=3\n"
	for name, out := range map[string]string{
		"good":             good,
		"dom invalid":      strings.Replace(good, "dom-invalid=0", "dom-invalid=1", 1),
		"stage1 invalid":   strings.Replace(good, "stage1-invalid=0", "stage1-invalid=1", 1),
		"docs short":       strings.Replace(good, "parse-many-docs=2", "parse-many-docs=1", 1),
		"lines short":      strings.Replace(good, "lines=2", "lines=1", 1),
		"bytes short":      strings.Replace(good, "bytes=26", "bytes=25", 1),
		"no speed":         strings.Replace(good, "stage1-MB/s=3\n", "", 1),
		"zero speed":       strings.Replace(good, "dom-MB/s=1.5", "dom-MB/s=0", 1),
		"garbled number":   strings.Replace(good, "parse-many-MB/s=2", "parse-many-MB/s=fast", 1),
		"no invalid count": strings.Replace(good, "parse-many-invalid=0\n", "", 1),
	} {
		t.Run(name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "peer")
			if err := os.WriteFile(bin, []byte("#!/bin/sh\nprintf '"+out+"'\n"), 0o700); err != nil {
				t.Fatal(err)
			}
			err := newSimdjsonPeer(t, bin, corpus, 2).round()
			if (err == nil) != (name == "good") {
				t.Fatalf("round: %v", err)
			}
		})
	}
	t.Run("exit status", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "peer")
		if err := os.WriteFile(bin, []byte("#!/bin/sh\nprintf '"+good+"'\necho broke >&2\nexit 1\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := newSimdjsonPeer(t, bin, corpus, 2).round(); err == nil || !strings.Contains(err.Error(), "broke") {
			t.Fatalf("round: %v, want the peer's stderr", err)
		}
	})
	real := os.Getenv(simdjsonPeerEnv)
	if real == "" {
		t.Logf("%s unset: the real peer is not checked", simdjsonPeerEnv)
		return
	}
	if err := newSimdjsonPeer(t, real, corpus, 2).round(); err != nil {
		t.Fatalf("real peer on a valid corpus: %v", err)
	}
	bad := []byte("{\"a\":1}\n{\"b\":[tru,null]}\n")
	if err := newSimdjsonPeer(t, real, bad, 2).round(); err == nil {
		t.Fatal("real peer: a corpus with an invalid line passed")
	}
}
