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
