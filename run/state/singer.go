package state

import "fmt"

// parseSinger checks a Singer STATE value: any one JSON value (the spec
// says an object; taps that keep a list or a string read it back as
// written). It returns the value compacted.
func parseSinger(v []byte) ([]byte, error) {
	raw, err := checkJSON(v)
	if err != nil {
		return nil, fmt.Errorf("singer state value: %w", err)
	}
	return raw, nil
}
