package stream

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// lineCases are whole lines for the grammar comparisons: messages of both
// protocols with their read members plain, repeated, escaped, of every
// kind and in every order, the corpus, the fixtures and JSONTestSuite
// documents as a record's value.
func lineCases(t testing.TB) []string {
	big := `"` + strings.Repeat("x", 300) + `"`
	cases := []string{
		`{"type":"RECORD","stream":"s","record":{"a":1},"time_extracted":"2024-05-01T12:00:00Z"}`,
		`{"type":"RECORD","record":{"stream":"s","namespace":"n","data":{"a":1},"meta":{"changes":[]}},"meta":{"changes":[]}}`,
		`{"type":"RECORD","record":{"namespace":"n\u0001","stream":"s","data":{"v":` + big + `,"v":"y"},"emitted_at":1}}`,
		`{"type":"SCHEMA","stream":"s","schema":{},"key_properties":["id"],"key_properties":[]}`,
		`{"type":"STATE","value":{"a":1},"value":{"a":2}}`, `{"type":"STATE","state":{"type":"GLOBAL"}}`,
		`{"type":"TRACE","trace":{"type":"ERROR","error":{"message":"m"}}}`, `{"type":"BATCH","stream":"s"}`,
		`{"t\u0079pe":"RECORD","stream":"s","record":{"a":1}}`, `{"type":"RECORD","stream":"s","rec\u006frd":{}}`,
		`{"\u0074\u0079\u0070\u0065":1,"key_propertie\u0073":[],"\u006b\u0065\u0079\u005f\u0070\u0072\u006f\u0070\u0065\u0072\u0074\u0069\u0065\u0073":[]}`,
		`{"type":"RECORD","stream":"s","record":{"d\u0061ta":{},"data":{},"data":1,"stream":"x","stream":"y"},"meta":{"ch\u0061nges":[],"changes":1}}`,
		`{"type":"RECORD","record":{"stream":"s","data":{"a":1},"meta":{"changes":[{"field":"b"}],"changes":[]}}}`,
		`{"record":[1,{"a":2}],"meta":[{"changes":1}],"type":["RECORD"],"stream":{"s":1}}`,
		`{"record":"x","stream":1,"type":null,"value":true,"state":false,"meta":-1.5e3,"key_properties":"k","trace":[]}`,
		`{"type" : "RECORD" , "stream" : "s" , "record" : { "stream" : "t" , "data" : { } } }`,
		"{\t\"type\"\n:\r\"RECORD\"}", `{}`, `[]`, `[{"type":"RECORD"}]`, `"type"`, `1`, `null`, ``, `   `,
		`{"type":"RECORD","stream":"s","record":{"a":1}}x`, `{"type":"RECORD","stream":"s","record":{"a":1}`,
		`{"type":"RECORD","stream":"s","record":{"a":1},}`, `{"type":"RECORD""stream":"s"}`, `{"type":}`, `{"type"}`,
		`{"type":"RECORD","stream":"s","record":{"a":` + big + `,"b":[` + big + `,{"c":` + big + `}],"n":` + strings.Repeat("1", 300) + `}}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"type":"LOG","log":{"level":"INFO"}}`,
		`{"typ":1,"types":2,"stream_":3,"recor":4,"record ":5,"Record":6,"streams":7,"time_extracted":8}`,
	}
	// Every key length around the short-string word and the read names.
	for n := 0; n < 20; n++ {
		k := strings.Repeat("k", n)
		cases = append(cases, `{"`+k+`":1,"type":"RECORD","stream":"`+k+`","record":{"`+k+`":{"stream":"`+k+`"}}}`,
			`{"type":"RECORD","record":{"`+k+`":1,"stream":"s","data":{"`+k+`":"`+k+`"},"namespace":"`+k+`"}}`)
	}
	// Every envelope (envelope.go), cut at every byte, and followed by
	// every kind of value, good or bad.
	for _, e := range envelopePrefixes {
		for k := range len(e) {
			cases = append(cases, e[:k], e[:k]+`"s"}`)
		}
		for _, rest := range []string{``, ` `, `"s"}`, `"s"`, `"s",`, `1}`, `{}}`, `"s","record":{"a":1}}`, `"s","data":{"a":` + big + `},"meta":{"changes":[]}}}`,
			`"s","data":{"a":1},"stream":"t"}}`, `"s","record":{"a":1},"type":"STATE"}`, `"s\u0073"}`, `"s"}}`, `"s"]`, `"s" , "record" : {} }`,
			`"s","record":{"a":1},"record":{}}`, `"s","namespace":"n","data":{}},"meta":{}}`, `"` + strings.Repeat("s", 70) + `"}`} {
			cases = append(cases, e+rest)
		}
	}
	c, _ := singerCorpus(1 << 17)
	for l := range bytes.SplitSeq(c, []byte("\n")) {
		cases = append(cases, string(l))
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "stream", "*.jsonl"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for l := range bytes.SplitSeq(b, []byte("\n")) {
			cases = append(cases, string(l))
		}
	}
	if ents, err := os.ReadDir(suiteDir); err == nil {
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(suiteDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, strings.TrimSuffix(embed(b), "\n"))
		}
	}
	return cases
}

// tokResult is what a tokenizer leaves for the policy after one line.
type tokResult struct {
	Err      string
	Started  bool
	Overflow bool
	Vals     []val
	Bigs     []bigStr
	Paths    string
	Faults   memberFaults
	At       message
}

func tokenizeWith(tk *tokenizer, line []byte, chunk int) tokResult {
	m := &memLine{b: line}
	tk.reset(m)
	var err error
	if chunk == 0 {
		err = tk.parseLine(line)
	} else {
		for i := 0; i < len(line) && err == nil; i += chunk {
			err = tk.feed(line[i:min(i+chunk, len(line))], int64(i))
		}
		if err == nil {
			err = tk.finish(int64(len(line)))
		}
	}
	r := tokResult{Started: tk.started, Overflow: tk.overflow, Faults: tk.faults, At: tk.at, Paths: string(tk.paths),
		Vals: append([]val{}, tk.vals...), Bigs: append([]bigStr{}, tk.bigs...)}
	if err != nil {
		// A bad line: the policy reads nothing else.
		return tokResult{Err: err.Error(), Started: tk.started}
	}
	return r
}

// pruneOpaque drops from a result of the resumable grammar what parseLine
// does not record outside the full pass: the members of the object
// members of opaque roles (validated whole), and the oversized strings in
// values whose container is not recorded.
func pruneOpaque(r tokResult, opaque uint8) tokResult {
	keep := make([]int32, len(r.Vals)) // new index, -1 dropped
	vals := []val{}
	for i, v := range r.Vals {
		p := v.parent
		if p >= 0 && (keep[p] < 0 || r.Vals[p].kind == kObject && opaque>>r.Vals[p].role&1 != 0) {
			keep[i] = -1
			continue
		}
		if p >= 0 {
			v.parent = keep[p]
		}
		keep[i] = int32(len(vals))
		vals = append(vals, v)
	}
	r.Vals, r.Bigs, r.Paths = vals, nil, ""
	for k, i := range r.At {
		if i >= 0 {
			r.At[k] = keep[i]
		}
	}
	for role := range r.Faults {
		if opaque>>role&1 != 0 || byte(role) == roleRecMeta && opaque>>roleRecord&1 != 0 {
			r.Faults[role] = memberFault{}
		}
	}
	return r
}

// parseLine and the resumable feed (the spool's grammar), whole and in
// chunks, give the same errors, records and member faults on every line:
// in the full pass everything, outside it everything parseLine records.
func TestParseLineMatchesFeed(t *testing.T) {
	cases := lineCases(t)
	r := rand.New(rand.NewPCG(5, 6))
	n := len(cases)
	for range 4000 {
		v := mutate(r, []byte(cases[r.IntN(n)]))
		cases = append(cases, string(v))
	}
	var tk tokenizer
	for _, line := range cases {
		p := []byte(line)
		for _, full := range []bool{false, true} {
			for _, opaque := range []uint8{0, opaqueRoles(Singer), opaqueRoles(Auto)} {
				tk.full, tk.opaque, tk.strLimit = full, opaque, 40
				got := tokenizeWith(&tk, p, 0)
				for _, chunk := range []int{len(p) + 1, 7, 1} {
					want := tokenizeWith(&tk, p, chunk)
					if !full && want.Err == "" {
						want = pruneOpaque(want, opaque)
						got.Bigs, got.Paths = nil, ""
					}
					if got.Err == "" && walkMembers(p, got.Vals) != atMembers(got.At) {
						t.Fatalf("%q: members by slot %+v, by walking vals %+v", line, atMembers(got.At), walkMembers(p, got.Vals))
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("full %v, opaque %b, chunk %d, %q:\nparseLine %+v\nfeed      %+v", full, opaque, chunk, line, got, want)
					}
				}
			}
		}
	}
}

// namedMembers are a message's members by name.
type namedMembers struct {
	typ, stream, record, value, state, meta, keyProps, trace int32
	rStream, rNS, rData, rMeta                               int32
}

// walkMembers finds the message members by walking the recorded values, as
// members() did before the tokenizer noted them: the last of each name.
func walkMembers(line []byte, vals []val) namedMembers {
	ld := &memLine{b: line}
	m := namedMembers{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}
	root := [...]*int32{&m.typ, &m.stream, &m.record, &m.value, &m.state, &m.meta, &m.keyProps, &m.trace}
	rec := [...]*int32{&m.rStream, &m.rNS, &m.rData, &m.rMeta}
	for i := 1; i < len(vals); i++ {
		v := &vals[i]
		if v.parent == 0 {
			if k := readIndex(roleRoot, keyName(ld, v)); k >= 0 {
				*root[k] = int32(i)
			}
		} else if m.record >= 0 && v.parent == m.record {
			if k := readIndex(roleRecord, keyName(ld, v)); k >= 0 {
				*rec[k] = int32(i)
			}
		}
	}
	return m
}

// atMembers are the members the tokenizer noted, through message's
// accessors.
func atMembers(at message) namedMembers {
	m := &at
	return namedMembers{m.typ(), m.stream(), m.record(), m.value(), m.state(), m.meta(), m.keyProps(), m.trace(),
		m.rStream(), m.rNS(), m.rData(), m.rMeta()}
}
