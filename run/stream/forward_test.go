package stream

import (
	"testing"
)

func TestPassThroughIsByteExact(t *testing.T) {
	in := `{"type":"SCHEMA","stream":"users","schema":{"type":"object"},"key_properties":["id"]}
{ "stream" : "users", "type":"RECORD",  "record": {"id": 1.0E+2, "name":"\u00e9t\u00E9 ü", "n": -0.5e-3, "z": [ ] , "t":true}, "time_extracted":"2024-01-01T00:00:00Z" }	
{"type":"STATE","value":{"bookmarks":{"users":{"id":100}}}}
{"type":"ACTIVATE_VERSION","stream":"users","version":1}
{"type":"RECORD","record":{"stream":"s","data":{"a":"b"},"emitted_at":1}}
{"type":"LOG","log":{"level":"INFO","message":"hi"}}
{"type":"RECORD","stream":"users","record":{"id":2}}` + "\r" + `
`
	for _, p := range []Protocol{Auto} {
		r := scan(t, Config{Protocol: p, MaxFieldSize: 1000, MaxRecordSize: 2000}, in)
		if r.err != nil || r.out != in || r.flags != "" || r.warn != "" {
			t.Fatalf("err %v warn %q flags %q\nout %q", r.err, r.warn, r.flags, r.out)
		}
		if r.stats.Records != 3 || r.stats.ByStream["users"].Records != 2 || r.stats.States != 1 ||
			string(r.stats.LastState) != `{"bookmarks":{"users":{"id":100}}}` || r.stats.Lines != 7 ||
			r.stats.Bytes != int64(len(in)) {
			t.Fatalf("stats %+v", r.stats)
		}
	}
}
