package report

import (
	"encoding/json"
	"strings"
	"testing"
)

// flagged.largest.key was a string of JSON inside the JSON report, while the
// flags file has the object itself.
func TestLargestFlaggedKeyIsAnObjectAndReadsBackFromBothForms(t *testing.T) {
	r := New("r", "tap", "", nil)
	r.Records.Flagged = Flagged{Count: 1, Largest: &FlaggedValue{Stream: "users", FieldPath: "bio", Size: 70000, Key: `{"id":42,"org":"a\"b"}`}}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Records struct {
			Flagged struct {
				Largest map[string]any `json:"largest"`
			} `json:"flagged"`
		} `json:"records"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	l := raw.Records.Flagged.Largest
	key, ok := l["key"].(map[string]any)
	if !ok || key["id"] != float64(42) || key["org"] != `a"b` {
		t.Fatalf("key is %T %v, want the object {id: 42, org: a\"b}", l["key"], l["key"])
	}
	if l["stream"] != "users" || l["field_path"] != "bio" || l["size"] != float64(70000) {
		t.Errorf("other fields lost: %v", l)
	}
	for _, in := range []string{
		`{"stream":"users","field_path":"bio","size":70000,"key":{"id":42,"org":"a\"b"}}`,
		`{"stream":"users","field_path":"bio","size":70000,"key":"{\"id\":42,\"org\":\"a\\\"b\"}"}`, // earlier reports
	} {
		var v FlaggedValue
		if err := json.Unmarshal([]byte(in), &v); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if v.Key != `{"id":42,"org":"a\"b"}` || v.Stream != "users" || v.Size != 70000 {
			t.Errorf("%s read back as %+v", in, v)
		}
	}
	// No key: no field at all, as before.
	b, _ = json.Marshal(FlaggedValue{Stream: "s"})
	if strings.Contains(string(b), "key") {
		t.Errorf("empty key encoded: %s", b)
	}
}
