package state

// This file holds the JSON checks shared by both protocols: what a value
// is, strict string decoding, and validation with compaction.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// jsonKind names the kind of a JSON value from its first byte (raw is
// valid JSON or empty).
func jsonKind(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

var errEmpty = errors.New("empty")

// checkJSON checks that b is one valid UTF-8 JSON value and returns it
// compacted (whitespace between tokens removed, everything else as sent).
func checkJSON(b []byte) ([]byte, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errEmpty
	}
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return nil, fmt.Errorf("not valid UTF-8 (byte %d)", i)
	}
	var out bytes.Buffer
	out.Grow(len(b))
	if err := json.Compact(&out, b); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return out.Bytes(), nil
}

// jsonString decodes a JSON string exactly: an unpaired surrogate escape
// (\ud800 alone) is an error, since decoding would turn different names
// into the same U+FFFD and merge streams that are not the same.
func jsonString(raw []byte, where string) (string, error) {
	if k := jsonKind(raw); k != "a string" {
		return "", fmt.Errorf("%s: want a string, got %s", where, k)
	}
	if err := checkSurrogates(raw); err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	return s, nil
}

// checkSurrogates scans the \u escapes of a valid JSON string token and
// fails on a high surrogate not followed by a low one, or a lone low one.
func checkSurrogates(raw []byte) error {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if raw[i] != 'u' {
			continue
		}
		r := hex4(raw[i+1 : i+5])
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return fmt.Errorf("unpaired surrogate \\u%04x", r)
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return fmt.Errorf("unpaired surrogate \\u%04x", r)
			}
			if lo := hex4(raw[i+3 : i+7]); lo < 0xDC00 || lo > 0xDFFF {
				return fmt.Errorf("unpaired surrogate \\u%04x", r)
			}
			i += 6
		}
	}
	return nil
}

func hex4(b []byte) rune {
	v, _ := strconv.ParseUint(string(b), 16, 32)
	return rune(v)
}
