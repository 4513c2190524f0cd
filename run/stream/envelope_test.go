package stream

import (
	"strings"
	"testing"
)

// A line that begins with an envelope prefix is judged exactly as the
// same line spelled so that no prefix matches (one more space after the
// first comma): records, bad lines (members repeated after the prefix,
// wrong kinds, missing members), flags and dropped records alike, under
// a field limit and a record limit (which nulls strings nested in it).
func TestEnvelopeJudgedAsTheGrammar(t *testing.T) {
	v := `"` + strings.Repeat("x", 80) + `"`
	singer := []string{
		`"s","record":{"a":1}}`,
		`"s","record":{"a":1},"type":"RECORD"}`,
		`"s","stream":"t","record":{"a":1}}`,
		`"s","record":{"a":1},"record":{"a":2}}`,
		`"s","typ\u0065":"STATE","record":{}}`,
		`1,"record":{}}`,
		`"s"}`,
		`"s","record":[]}`,
		`"s","record":{"v":` + v + `}}`,
		`"s","record":{"v":` + v + `},"meta":{"changes":[]}}`,
		`"s","record":{"v":` + v + `}`,
		`"s","record":{"v":` + v + `}}}`,
		`"s","record":{"a":{"b":[1,` + v + `]},"c":` + v + `}}`,
		`"s"` + strings.Repeat(" ", 70) + `,"record":{"a":{"b":[1,` + v + `]}}}`,
	}
	airbyte := []string{
		`"s","data":{"a":1}}}`,
		`"s","data":{"a":1},"stream":"t"}}`,
		`"s","data":{"a":1}},"type":"RECORD"}`,
		`"s","data":{"a":1}},"record":{}}`,
		`"s","data":{"a":1},"data":{}}}`,
		`"s","data":{"v":` + v + `},"meta":{}}}`,
		`"s","namespace":"n","data":{"v":` + v + `}}}`,
		`"s"}}`,
		`"s","data":[1]}}`,
		`["s"],"data":{}}}`,
		`"s","data":{"a":{"b":[1,` + v + `]},"c":` + v + `}}}`,
	}
	for k, p := range envelopePrefixes {
		alt := strings.Replace(p, ",", ", ", 1)
		if (&tokenizer{}).envelopeOf([]byte(alt+`"s"`)) != nil || (&tokenizer{}).envelopeOf([]byte(p+`"s"`)) == nil {
			t.Fatalf("prefix %q: the test's respelling %q is an envelope too, or the prefix is not", p, alt)
		}
		suffixes := singer
		if strings.Contains(p, `"record"`) {
			suffixes = airbyte
		}
		for _, proto := range []Protocol{Auto, Singer, Airbyte} {
			for i, sfx := range suffixes {
				cfg := Config{Protocol: proto, MaxFieldSize: 50}
				if i%2 == 1 {
					cfg = Config{Protocol: proto, MaxRecordSize: 120}
				}
				a := scan(t, cfg, p+sfx+"\n")
				b := scan(t, cfg, alt+sfx+"\n")
				if a.stats.Records != b.stats.Records || a.stats.InvalidLines != b.stats.InvalidLines ||
					a.stats.Flagged != b.stats.Flagged || a.stats.Dropped != b.stats.Dropped ||
					(a.out == "") != (b.out == "") || (a.err == nil) != (b.err == nil) ||
					strings.Replace(a.out, p, alt, 1) != b.out {
					t.Errorf("prefix %d, %v, %s:\nenvelope: out %q stats %+v warn %q\ngrammar:  out %q stats %+v warn %q",
						k, proto, sfx, a.out, a.stats, a.warn, b.out, b.stats, b.warn)
				}
			}
		}
	}
}
