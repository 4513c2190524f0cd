package state

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// Equivalent reports whether two JSON texts are the same value as a
// destination that parses and re-serializes a STATE would echo it: member
// order is ignored and numbers are compared as IEEE doubles. A JavaScript
// destination (airbyte-faros-destination) echoes the cursor
// 99990000000000000003 as 99990000000000000000, so an echoed state must be
// matched to the message the source sent, and the source's bytes kept;
// never the echo's. Invalid JSON is equivalent to nothing.
func Equivalent(a, b []byte) bool {
	va, ok := decodeLoose(a)
	if !ok {
		return false
	}
	vb, ok := decodeLoose(b)
	return ok && looseEqual(va, vb)
}

func decodeLoose(b []byte) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil || d.More() {
		return nil, false
	}
	return v, true
}

// strictEqual is looseEqual with numbers compared as written.
func strictEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !strictEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !strictEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b // json.Number as text, string, bool, nil
}

func looseEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !looseEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !looseEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		fx, ex := strconv.ParseFloat(string(x), 64)
		fy, ey := strconv.ParseFloat(string(y), 64)
		// Out of range parses as ±Inf with an error; JavaScript reads it so too.
		return (ex == nil || math.IsInf(fx, 0)) && (ey == nil || math.IsInf(fy, 0)) && fx == fy
	}
	return a == b // string, bool, nil
}
