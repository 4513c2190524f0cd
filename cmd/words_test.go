package cmd

import (
	"reflect"
	"testing"
)

func TestSplitWordsLikeAShell(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"target-postgres --host /run/pg --batch 500", []string{"target-postgres", "--host", "/run/pg", "--batch", "500"}},
		{`node dest.js write --config '{target-config}'`, []string{"node", "dest.js", "write", "--config", "{target-config}"}},
		{`t --name "a b" c\ d 'e "f"' "g\"h"`, []string{"t", "--name", "a b", "c d", `e "f"`, `g"h`}},
		{`  a   ''  b `, []string{"a", "", "b"}},
		{`a --x='1 2'`, []string{"a", "--x=1 2"}},
		{`a 'it''s'`, []string{"a", "its"}},
		{`a '$HOME'`, []string{"a", "$HOME"}},
	} {
		got, err := splitWords(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSplitWordsRefusesWhatOnlyAShellWouldDo(t *testing.T) {
	for _, in := range []string{`a 'b`, `a "b`, `a \`, "a | b", "a > f", "a $HOME", `a "$HOME"`, "a *.json", "a; b", "a `id`", "a && b"} {
		if got, err := splitWords(in); err == nil {
			t.Errorf("splitWords(%q) = %q, want an error", in, got)
		}
	}
}
