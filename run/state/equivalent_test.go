package state

import "testing"

func TestEquivalentMatchesAnEchoedStateToTheSentOne(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":[1,2]}`, `{ "b":[1,2], "a":1 }`, true},                // member order, whitespace
		{`{"c":99990000000000000003}`, `{"c":99990000000000000000}`, true}, // what a JS destination echoes
		{`{"c":1.0}`, `{"c":1}`, true},
		{`{"c":1e400}`, `{"c":2e400}`, true}, // both Infinity to a JS reader
		{`{"c":1}`, `{"c":2}`, false},
		{`{"c":"1"}`, `{"c":1}`, false},
		{`{"a":1}`, `{"a":1,"b":null}`, false},
		{`[1,2]`, `[2,1]`, false},
		{`{"s":"\u00e9"}`, `{"s":"é"}`, true},
		{`{"a":1}`, `{"a":1} x`, false},
		{`{"a":`, `{"a":`, false},
		{`null`, `null`, true},
	} {
		if got := Equivalent([]byte(tc.a), []byte(tc.b)); got != tc.want {
			t.Errorf("Equivalent(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
