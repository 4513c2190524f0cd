package stream

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// JSONTestSuite (github.com/nst/JSONTestSuite): y_ must be accepted, n_
// rejected; i_ are implementation-defined and our choices are listed here
// and in the package doc.
// suiteDir is ../shared beside the repository, as on developers' machines
// and in CI; SYNCBOX_JSONTESTSUITE overrides it.
var suiteDir = func() string {
	if d := os.Getenv("SYNCBOX_JSONTESTSUITE"); d != "" {
		return d
	}
	return "../../../shared/testsuites/JSONTestSuite/test_parsing"
}()

var iChoices = map[string]bool{ // true: accepted
	"i_number_double_huge_neg_exp.json":                   true,
	"i_number_huge_exp.json":                              true,
	"i_number_neg_int_huge_exp.json":                      true,
	"i_number_pos_double_huge_exp.json":                   true,
	"i_number_real_neg_overflow.json":                     true,
	"i_number_real_pos_overflow.json":                     true,
	"i_number_real_underflow.json":                        true,
	"i_number_too_big_neg_int.json":                       true,
	"i_number_too_big_pos_int.json":                       true,
	"i_number_very_big_negative_int.json":                 true,
	"i_object_key_lone_2nd_surrogate.json":                true,
	"i_string_1st_surrogate_but_2nd_missing.json":         true,
	"i_string_1st_valid_surrogate_2nd_invalid.json":       true,
	"i_string_UTF-16LE_with_BOM.json":                     false,
	"i_string_UTF-8_invalid_sequence.json":                true,
	"i_string_UTF8_surrogate_U+D800.json":                 true,
	"i_string_incomplete_surrogate_and_escape_valid.json": true,
	"i_string_incomplete_surrogate_pair.json":             true,
	"i_string_incomplete_surrogates_escape_valid.json":    true,
	"i_string_invalid_lonely_surrogate.json":              true,
	"i_string_invalid_surrogate.json":                     true,
	"i_string_invalid_utf-8.json":                         true,
	"i_string_inverted_surrogates_U+1D11E.json":           true,
	"i_string_iso_latin_1.json":                           true,
	"i_string_lone_second_surrogate.json":                 true,
	"i_string_lone_utf8_continuation_byte.json":           true,
	"i_string_not_in_unicode_range.json":                  true,
	"i_string_overlong_sequence_2_bytes.json":             true,
	"i_string_overlong_sequence_6_bytes.json":             true,
	"i_string_overlong_sequence_6_bytes_null.json":        true,
	"i_string_truncated-utf-8.json":                       true,
	"i_string_utf16BE_no_BOM.json":                        false,
	"i_string_utf16LE_no_BOM.json":                        false,
	"i_structure_500_nested_arrays.json":                  true,
	"i_structure_UTF-8_BOM_empty_object.json":             false,
}

// embed puts a y_ doc in a RECORD as the value of field v. In a valid
// document a raw newline can only be JSON whitespace (it is invalid inside
// strings) and would end the JSON Lines message, so newlines are replaced by
// spaces, which keeps the document valid. n_ documents are embedded as they
// are: every piece of a split line must be rejected.
func embed(doc []byte) string {
	return `{"type":"RECORD","stream":"s","record":{"v":` + strings.ReplaceAll(string(doc), "\n", " ") + "}}\n"
}

func TestJSONTestSuite(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(suiteDir, "*.json"))
	if len(files) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("JSONTestSuite not found at " + suiteDir)
		}
		t.Skip("JSONTestSuite not found at " + suiteDir)
	}
	seenI := 0
	for _, f := range files {
		name := filepath.Base(f)
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var want bool
		switch name[0] {
		case 'y':
			want = true
		case 'n':
			want = false
		case 'i':
			c, ok := iChoices[name]
			if !ok {
				t.Errorf("%s: no choice written down", name)
			}
			want = c
			seenI++
		}
		cfg := Config{MaxFieldSize: 1 << 20, MaxRecordSize: 1 << 20}
		line := embed(doc)
		if !want {
			// keep raw newlines: each piece must be rejected
			line = `{"type":"RECORD","stream":"s","record":{"v":` + string(doc) + "}}\n"
		}
		r := scan(t, cfg, line)
		accepted := r.out == line && r.stats.InvalidLines == 0 && r.stats.Records == 1
		if accepted != want {
			t.Errorf("%s as a field value: accepted=%v, want %v (out %q, warn %q)", name, accepted, want, r.out, r.warn)
		}
		if !want && r.stats.Records != 0 {
			t.Errorf("%s: a rejected document was forwarded as a record: %q", name, r.out)
		}
		// As a whole line: objects are forwarded byte-exact, everything
		// else is a bad line (or, if only whitespace, an empty line).
		whole := string(doc)
		if want {
			whole = strings.ReplaceAll(whole, "\n", " ")
		}
		r = scan(t, cfg, whole+"\n")
		isObj := bytes.HasPrefix(bytes.TrimLeft([]byte(whole), " \t\r"), []byte("{"))
		switch {
		case want && isObj:
			if r.out != whole+"\n" || r.stats.InvalidLines != 0 {
				t.Errorf("%s as a line: out %q warn %q", name, r.out, r.warn)
			}
		case want:
			if r.out != "" || r.stats.InvalidLines != 1 || !strings.Contains(r.warn, "not a JSON object") {
				t.Errorf("%s as a line: out %q warn %q", name, r.out, r.warn)
			}
		default:
			if r.out != "" || r.stats.InvalidLines+r.stats.EmptyLines < 1 {
				t.Errorf("%s as a line: out %q stats %+v", name, r.out, r.stats)
			}
		}
	}
	if seenI != len(iChoices) {
		t.Errorf("saw %d i_ files, have %d choices", seenI, len(iChoices))
	}
}
