package stream

import (
	"strings"
	"testing"
)

func TestAirbyteMeta(t *testing.T) {
	ch := `{"field":"v","change":"NULLED","reason":"PLATFORM_FIELD_SIZE_LIMITATION"}`
	tests := []struct{ name, in, out string }{
		{"no meta",
			`{"type":"RECORD","record":{"stream":"s","data":{"id":1,"v":"` + big + `"},"emitted_at":5}}`,
			`{"type":"RECORD","record":{"stream":"s","data":{"id":1,"v":null},"emitted_at":5,"meta":{"changes":[` + ch + `]}}}`},
		{"existing changes",
			`{"type":"RECORD","record":{"stream":"s","meta":{"changes":[{"field":"x","change":"NULLED","reason":"SOURCE_SERIALIZATION_ERROR"}]},"data":{"id":1,"v":"` + big + `"}}}`,
			`{"type":"RECORD","record":{"stream":"s","meta":{"changes":[{"field":"x","change":"NULLED","reason":"SOURCE_SERIALIZATION_ERROR"},` + ch + `]},"data":{"id":1,"v":null}}}`},
		{"empty changes",
			`{"type":"RECORD","record":{"stream":"s","meta":{"changes":[ ]},"data":{"id":1,"v":"` + big + `"}}}`,
			`{"type":"RECORD","record":{"stream":"s","meta":{"changes":[` + ch + ` ]},"data":{"id":1,"v":null}}}`},
		{"meta without changes",
			`{"type":"RECORD","record":{"stream":"s","meta":{"other":1},"data":{"id":1,"v":"` + big + `"}}}`,
			`{"type":"RECORD","record":{"stream":"s","meta":{"changes":[` + ch + `],"other":1},"data":{"id":1,"v":null}}}`},
		{"empty meta",
			`{"type":"RECORD","record":{"stream":"s","meta":{},"data":{"id":1,"v":"` + big + `"}}}`,
			`{"type":"RECORD","record":{"stream":"s","meta":{"changes":[` + ch + `]},"data":{"id":1,"v":null}}}`},
		{"null meta",
			`{"type":"RECORD","record":{"stream":"s","meta":null,"data":{"id":1,"v":"` + big + `"}}}`,
			`{"type":"RECORD","record":{"stream":"s","meta":{"changes":[` + ch + `]},"data":{"id":1,"v":null}}}`},
		{"keys from config, nested string",
			`{"type":"RECORD","record":{"stream":"k","data":{"id":"` + big + `x","v":{"a":[1,"` + big + `"]}}}}`,
			`{"type":"RECORD","record":{"stream":"k","data":{"id":"` + big + `x","v":{"a":[1,null]}},"meta":{"changes":[{"field":"v.a[1]","change":"NULLED","reason":"PLATFORM_FIELD_SIZE_LIMITATION"}]}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := scan(t, Config{Protocol: Airbyte, MaxFieldSize: 199, Keys: map[string][]string{"k": {"id"}}},
				strings.ReplaceAll(tc.in, `"`+big+`"`, `"`+big+big+`"`)+"\n")
			want := strings.ReplaceAll(tc.out, `"`+big+`"`, `"`+big+big+`"`)
			if r.err != nil || r.out != want+"\n" {
				t.Fatalf("err %v\nout  %s\nwant %s\nwarn %s", r.err, r.out, want, r.warn)
			}
			mustValidLines(t, r.out)
		})
	}
}

// Singer's lineage is a message-level "meta" beside "record": appended to
// its changes, whatever shape the connector gave it, and never into a
// member that only looks like it (a "changes" nested deeper or in the
// record after it, a "meta" field of the record itself). Airbyte's goes into record.meta, never a
// message-level "meta". Every case runs in memory and spooled (scan).
func TestLineagePlacement(t *testing.T) {
	v := `"` + big + `"`
	ch := func(f string) string {
		return `{"field":"` + f + `","change":"NULLED","reason":"PLATFORM_FIELD_SIZE_LIMITATION"}`
	}
	sp := strings.Repeat(" ", 5000) // beyond isEmptyContainer's 4096-byte chunk
	tests := []struct {
		name  string
		proto Protocol
		in    string
		out   string
	}{
		{"singer no meta", Singer,
			`{"type":"RECORD","stream":"s","record":{"v":` + v + `}}`,
			`{"type":"RECORD","stream":"s","record":{"v":null},"meta":{"changes":[` + ch("v") + `]}}`},
		{"singer existing changes after record", Singer,
			`{"type":"RECORD","stream":"s","record":{"v":` + v + `},"meta":{"changes":[{"field":"x"}]}}`,
			`{"type":"RECORD","stream":"s","record":{"v":null},"meta":{"changes":[{"field":"x"},` + ch("v") + `]}}`},
		{"singer blank meta, two entries", Singer,
			`{"type":"RECORD","stream":"s","meta":{ },"record":{"v":` + v + `,"w":` + v + `}}`,
			`{"type":"RECORD","stream":"s","meta":{"changes":[` + ch("v") + `,` + ch("w") + `] },"record":{"v":null,"w":null}}`},
		{"singer meta blank beyond a chunk", Singer,
			`{"type":"RECORD","stream":"s","meta":{` + sp + `},"record":{"v":` + v + `}}`,
			`{"type":"RECORD","stream":"s","meta":{"changes":[` + ch("v") + `]` + sp + `},"record":{"v":null}}`},
		{"singer meta member beyond a chunk", Singer,
			`{"type":"RECORD","stream":"s","meta":{` + sp + `"a":1},"record":{"v":` + v + `}}`,
			`{"type":"RECORD","stream":"s","meta":{"changes":[` + ch("v") + `],` + sp + `"a":1},"record":{"v":null}}`},
		{"singer meta not an object", Singer,
			`{"type":"RECORD","stream":"s","meta":"str","record":{"v":` + v + `}}`,
			`{"type":"RECORD","stream":"s","meta":{"changes":[` + ch("v") + `]},"record":{"v":null}}`},
		{"singer nested changes is not meta's", Singer,
			`{"type":"RECORD","stream":"s","meta":{"x":{"changes":[1]}},"record":{"v":` + v + `}}`,
			`{"type":"RECORD","stream":"s","meta":{"changes":[` + ch("v") + `],"x":{"changes":[1]}},"record":{"v":null}}`},
		{"singer record's changes after meta are not meta's", Singer,
			`{"type":"RECORD","stream":"s","meta":{"a":1},"record":{"changes":[1],"v":` + v + `}}`,
			`{"type":"RECORD","stream":"s","meta":{"changes":[` + ch("v") + `],"a":1},"record":{"changes":[1],"v":null}}`},
		{"singer changes null", Singer,
			`{"type":"RECORD","stream":"s","meta":{"a":2,"changes":null},"record":{"v":` + v + `}}`,
			`{"type":"RECORD","stream":"s","meta":{"a":2,"changes":[` + ch("v") + `]},"record":{"v":null}}`},
		{"singer record's own meta field is data", Singer,
			`{"type":"RECORD","stream":"s","record":{"meta":{"changes":[]},"v":` + v + `}}`,
			`{"type":"RECORD","stream":"s","record":{"meta":{"changes":[]},"v":null},"meta":{"changes":[` + ch("v") + `]}}`},
		{"singer array element path", Singer,
			`{"type":"RECORD","stream":"s","record":{"v":[1,{"a.b":` + v + `}]}}`,
			`{"type":"RECORD","stream":"s","record":{"v":[1,{"a.b":null}]},"meta":{"changes":[` + ch("v[1].a.b") + `]}}`},
		{"airbyte changes an object", Airbyte,
			`{"type":"RECORD","record":{"stream":"s","data":{"v":` + v + `},"meta":{"changes":{}}}}`,
			`{"type":"RECORD","record":{"stream":"s","data":{"v":null},"meta":{"changes":[` + ch("v") + `]}}}`},
		{"airbyte message-level meta is not lineage's", Airbyte,
			`{"type":"RECORD","meta":{"changes":[]},"record":{"stream":"s","data":{"v":` + v + `}}}`,
			`{"type":"RECORD","meta":{"changes":[]},"record":{"stream":"s","data":{"v":null},"meta":{"changes":[` + ch("v") + `]}}}`},
		{"airbyte escaped key", Airbyte,
			`{"type":"RECORD","record":{"stream":"s","data":{"k\"\u00e9":` + v + `}}}`,
			`{"type":"RECORD","record":{"stream":"s","data":{"k\"\u00e9":null},"meta":{"changes":[` + ch(`k\"\u00e9`) + `]}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := scan(t, Config{Protocol: tc.proto, MaxFieldSize: 50}, tc.in+"\n")
			if r.err != nil || r.out != tc.out+"\n" {
				t.Fatalf("err %v\nout  %s\nwant %s\nwarn %s", r.err, r.out, tc.out, r.warn)
			}
			mustValidLines(t, r.out)
		})
	}
}
