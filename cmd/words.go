package cmd

import (
	"fmt"
	"strings"
)

// splitWords splits a command line into words the way a POSIX shell
// would, without running one: blanks separate words; '...' keeps
// everything literally; "..." keeps everything but \" \\ \$ \`; a
// backslash outside quotes escapes the next character. Anything a shell
// would expand ($VAR, globs, ~, pipes, redirections) is refused rather
// than passed on literally, so a command never means something else than
// it would at a shell.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' at column %d", i+1)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				} else if s[i] == '$' || s[i] == '`' {
					return nil, fmt.Errorf("%q at column %d would be expanded by a shell; quote it with '...'", s[i], i+1)
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf(`unterminated " in %q`, s)
			}
			inWord = true
		case ch == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case strings.IndexByte("|&;<>()$`*?[#~", ch) >= 0 && !(ch == '#' && inWord) && !(ch == '~' && inWord):
			return nil, fmt.Errorf("%q at column %d means something to a shell, and no shell runs here; quote it with '...' if it is literal", ch, i+1)
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
