package state

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPythonCDKReadsTheStateBack writes Bytes to a file and reads it with
// Python's json the way the Python CDK's read_state and
// ConnectorStateManager do (testdata/read_state.py): each stream resumes
// from the newest state it was sent, namespaces apart, and a GLOBAL is
// read as global.
func TestPythonCDKReadsTheStateBack(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is missing (.ci/run installs it)")
		}
		t.Skip("python3 not installed")
	}
	big := `{"cursor":123456789012345678901234567890,"note":"Zürich \u00e9 \"q\" \ud83d\ude00"}`
	for _, tc := range []struct {
		name string
		msgs []string
		want string
	}{
		{"per-stream, namespaces apart, newest wins",
			[]string{sm("users", "", `{"id":1}`), sm("users", `"eu"`, `{"id":5}`), sm("orders", "null", `{"id":2}`), sm("users", "", big)},
			`{"global":false,"shared":null,"streams":[["orders",null,{"id":2}],["users",null,` + big + `],["users","eu",{"id":5}]],"legacy":[]}`},
		{"GLOBAL after per-stream is read as global",
			[]string{sm("users", "", `{"id":1}`), gm(`{"lsn":77}`, ss("users", `{"id":3}`), ss("orders", `{}`))},
			`{"global":true,"shared":{"lsn":77},"streams":[["orders",null,{}],["users",null,{"id":3}]],"legacy":[]}`},
		{"LEGACY",
			[]string{sm("users", "", `{"id":1}`), `{"type":"LEGACY","data":{"users":{"id":9}}}`},
			`{"global":false,"shared":null,"streams":[],"legacy":[{"users":{"id":9}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Airbyte)
			apply(t, s, tc.msgs...)
			f := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(f, s.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(py, "testdata/read_state.py", f).CombinedOutput()
			if err != nil {
				t.Fatalf("the CDK's reading of %s failed: %v\n%s", s.Bytes(), err, out)
			}
			// Compare as JSON values (Python prints numbers and escapes its own way).
			// Numbers as json.Number: big ones must come back digit for digit.
			var got, want any
			for _, x := range []struct {
				b []byte
				v *any
			}{{out, &got}, {[]byte(tc.want), &want}} {
				d := json.NewDecoder(bytes.NewReader(x.b))
				d.UseNumber()
				if err := d.Decode(x.v); err != nil {
					t.Fatalf("%s: %v", x.b, err)
				}
			}
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if !bytes.Equal(gb, wb) {
				t.Errorf("a source resumes from\n%s\nwant\n%s", gb, wb)
			}
		})
	}
}
