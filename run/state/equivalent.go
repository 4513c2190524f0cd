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

// strictEqual compares decoded JSON values with numbers as written.
func strictEqual(a, b any) bool {
	return jsonEqual(a, b, func(x, y json.Number) bool { return x == y })
}

// looseEqual compares them as a destination that re-serialized a number
// through an IEEE double would have it.
func looseEqual(a, b any) bool { return jsonEqual(a, b, looseNumber) }

func looseNumber(x, y json.Number) bool {
	if x == y {
		return true
	}
	fx, ex := strconv.ParseFloat(string(x), 64)
	fy, ey := strconv.ParseFloat(string(y), 64)
	// Out of range parses as ±Inf with an error; JavaScript reads it so too.
	return (ex == nil || math.IsInf(fx, 0)) && (ey == nil || math.IsInf(fy, 0)) && fx == fy
}

// jsonEqual compares decoded JSON values (member order ignored), numbers
// by num.
func jsonEqual(a, b any, num func(x, y json.Number) bool) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w, num) {
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
			if !jsonEqual(x[i], y[i], num) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && num(x, y)
	}
	return a == b // string, bool, nil
}
