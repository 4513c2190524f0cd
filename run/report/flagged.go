package report

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MarshalJSON writes key as the JSON object it holds ({"id": 42}), as the
// flags file does, not as a string of JSON that every consumer would have to
// decode twice. A key that is not a JSON object stays a string.
func (v FlaggedValue) MarshalJSON() ([]byte, error) {
	type plain FlaggedValue // the same fields, without these methods
	out := struct {
		plain
		Key json.RawMessage `json:"key,omitempty"`
	}{plain: plain(v)}
	if k := bytes.TrimSpace([]byte(v.Key)); len(k) > 0 {
		if k[0] == '{' && json.Valid(k) {
			out.Key = k
		} else {
			s, err := json.Marshal(v.Key)
			if err != nil {
				return nil, err
			}
			out.Key = s
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads key as an object, or as the string earlier reports
// wrote, so reports of both forms read back the same.
func (v *FlaggedValue) UnmarshalJSON(b []byte) error {
	type plain FlaggedValue
	var in struct {
		plain
		Key json.RawMessage `json:"key,omitempty"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*v = FlaggedValue(in.plain)
	k := bytes.TrimSpace(in.Key)
	switch {
	case len(k) == 0 || bytes.Equal(k, []byte("null")):
		v.Key = ""
	case k[0] == '"':
		if err := json.Unmarshal(k, &v.Key); err != nil {
			return fmt.Errorf("flagged value key: %w", err)
		}
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, k); err != nil {
			return fmt.Errorf("flagged value key: %w", err)
		}
		v.Key = buf.String()
	}
	return nil
}
