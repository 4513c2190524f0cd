package stream

import (
	"strings"
	"testing"
)

// Airbyte streams are (namespace, name): two namespaces of one name are
// two streams in the stats, and --keys can name either.
func TestAirbyteNamespacesAreStreams(t *testing.T) {
	rec := func(ns, id string) string {
		n := ""
		if ns != "" {
			n = `"namespace":"` + ns + `",`
		}
		return `{"type":"RECORD","record":{` + n + `"stream":"users","data":{"id":"` + id + `","v":1},"emitted_at":1}}` + "\n"
	}
	bigID := strings.Repeat("k", 60)
	in := rec("public", "1") + rec("public", "2") + rec("crm", bigID) + rec("", "3") + rec("pub\\u006cic", "4")
	r := scan(t, Config{Protocol: Airbyte, MaxFieldSize: 50, Keys: map[string][]string{"crm.users": {"id"}}}, in)
	if r.err != nil {
		t.Fatal(r.err)
	}
	bs := r.stats.ByStream
	if len(bs) != 3 || bs["public.users"].Records != 3 || bs["crm.users"].Records != 1 || bs["users"].Records != 1 {
		t.Fatalf("by stream %+v", bs)
	}
	// crm.users has id as its key: too large, so the record is dropped,
	// not nulled; the flags entry says the namespace.
	if r.stats.Dropped != 1 || !strings.Contains(r.flags, `"stream":"users","namespace":"crm",`) ||
		!strings.Contains(r.flags, `"reason":"key_too_large"`) {
		t.Fatalf("dropped %d flags %s", r.stats.Dropped, r.flags)
	}
	// A plain name applies in every namespace without its own entry.
	r = scan(t, Config{Protocol: Airbyte, MaxFieldSize: 50, Keys: map[string][]string{"users": {"id"}}}, rec("crm", bigID)+rec("", bigID))
	if r.stats.Dropped != 2 {
		t.Fatalf("plain name: dropped %d, flags %s", r.stats.Dropped, r.flags)
	}
}

// DESTINATION_CATALOG is an Airbyte message; a TRACE ERROR's message and
// failure type reach the stats; BATCH and blank lines are counted.
func TestMessageKindsCounted(t *testing.T) {
	in := `{"type":"DESTINATION_CATALOG","destination_catalog":{"catalog":{}}}` + "\n" +
		`{"type":"TRACE","trace":{"type":"ESTIMATE","emitted_at":1,"estimate":{"name":"s","type":"STREAM"}}}` + "\n" +
		"\n  \n" +
		`{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1,"error":{"message":"token expired\u001b[2J","internal_message":"x","failure_type":"config_error"}}}` + "\n" +
		`{"type":"TRACE","trace":{"type":"ERROR","emitted_at":2,"error":{"message":"second","failure_type":"system_error"}}}` + "\n"
	r := scan(t, Config{Protocol: Airbyte}, in)
	if r.err != nil || r.out != strings.ReplaceAll(in, "\n  \n", "") || r.stats.InvalidLines != 0 || r.stats.EmptyLines != 2 {
		t.Fatalf("err %v out %q stats %+v warn %s", r.err, r.out, r.stats, r.warn)
	}
	te := r.stats.TraceError
	if te == nil || te.Message != `token expired\u001B[2J` || te.FailureType != "config_error" || r.stats.TraceErrors != 2 {
		t.Fatalf("trace error %+v (%d)", te, r.stats.TraceErrors)
	}
	batch := `{"type":"BATCH","stream":"s","encoding":{"format":"jsonl","compression":"gzip"},"manifest":["file:///x.gz"]}` + "\n"
	r = scan(t, Config{Protocol: Singer}, batch+batch)
	if r.err != nil || r.out != batch+batch || r.stats.Batches != 2 {
		t.Fatalf("batch: err %v stats %+v", r.err, r.stats)
	}
}

// OnState gets Singer's value and Airbyte's whole state message, as written.
func TestOnStateValueContract(t *testing.T) {
	var got []string
	cfg := Config{OnState: func(v []byte) error { got = append(got, string(v)); return nil }}
	in := `{"type":"STATE","value":{"a" : 1}}` + "\n" +
		`{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"s","namespace":"n"},"stream_state":{"c":2}}}}` + "\n"
	s := New(cfg)
	if err := s.Run(&strings.Builder{}, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	want := []string{`{"a" : 1}`, `{"type":"STREAM","stream":{"stream_descriptor":{"name":"s","namespace":"n"},"stream_state":{"c":2}}}`}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("OnState got %q", got)
	}
}
