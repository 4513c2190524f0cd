package e2e

// Tests of the real third-party Airbyte destination airbyte-faros-destination
// (npm, testdata/airbyte/faros-destination) run as a plain process, fed the
// recorded Airbyte source stream of testdata/connectors/source-recorded:
// what it accepts, and which STATE it prints back and when. They pin the
// facts pipeline mode relies on, outside syncbox.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"syncbox/run/state"
)

// farosDest returns the fixture directory, with node and the installed
// destination, or skips (fails in CI) with the command that installs it.
func farosDest(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../testdata/airbyte/faros-destination")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		unavailable(t, "node (apt-get install nodejs npm; .ci/run does): %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules/airbyte-faros-destination/package.json")); err != nil {
		unavailable(t, "airbyte-faros-destination (cd %s && npm ci --ignore-scripts; .ci/run does): %v", dir, err)
	}
	return dir
}

// abMsg is the part of an Airbyte message these tests read.
type abMsg struct {
	Type   string `json:"type"`
	Record *struct {
		Stream    string                     `json:"stream"`
		Namespace string                     `json:"namespace"`
		Data      map[string]json.RawMessage `json:"data"`
	} `json:"record"`
	State json.RawMessage `json:"state"`
	Log   *struct {
		Message string `json:"message"`
	} `json:"log"`
	raw []byte
}

func parseMsgs(t *testing.T, what string, b []byte) []abMsg {
	t.Helper()
	var ms []abMsg
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		var m abMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s line %d is not an Airbyte message: %v: %.200s", what, n, err, sc.Bytes())
		}
		m.raw = bytes.Clone(sc.Bytes())
		ms = append(ms, m)
	}
	return ms
}

func states(ms []abMsg) (out []json.RawMessage, at []int) {
	for i, m := range ms {
		if m.Type == "STATE" {
			out, at = append(out, m.State), append(at, i)
		}
	}
	return out, at
}

// recordedSource runs source-recorded read with args and returns its
// stdout; crash says it is expected to die by SIGKILL (--crash-after).
func recordedSource(t *testing.T, crash bool, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(connectorBin(t, "source-recorded"), append([]string{"read"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case crash && errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
	case crash:
		t.Fatalf("source-recorded %v: want death by SIGKILL, got %v\n%s", args, err, stderr.String())
	case err != nil:
		t.Fatalf("source-recorded %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// farosWrite runs `node dest.js write --config C --catalog catalog.json`
// in dir with input on stdin, as a plain process with an empty
// environment but PATH (as inside a container), and wants exit 0.
func farosWrite(t *testing.T, dir, config string, input []byte) []abMsg {
	t.Helper()
	cmd := exec.Command("node", filepath.Join(dir, "dest.js"), "write",
		"--config", config, "--catalog", filepath.Join(dir, "catalog.json"))
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("faros destination: %v\nstderr: %s\nstdout tail: %s", err, stderr.String(), tail(out, 2000))
	}
	return parseMsgs(t, "destination output", out)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// logLine returns the message of the first LOG starting with prefix.
func logLine(ms []abMsg, prefix string) (string, bool) {
	for _, m := range ms {
		if m.Type == "LOG" && m.Log != nil && strings.HasPrefix(m.Log.Message, prefix) {
			return strings.TrimPrefix(m.Log.Message, prefix), true
		}
	}
	return "", false
}

// processedByStream reads the destination's "Processed records by
// stream" summary (the count of records it converted, per stream name).
func processedByStream(t *testing.T, ms []abMsg) map[string]int {
	t.Helper()
	s, ok := logLine(ms, "Processed records by stream: ")
	if !ok {
		t.Fatal("the destination printed no per-stream summary")
	}
	var m map[string]int
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("per-stream summary %q: %v", s, err)
	}
	return m
}

func withLogRecords(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	c["log_records"] = true
	b, _ = json.Marshal(c)
	p := filepath.Join(t.TempDir(), "config-log-records.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFarosDestinationConfirmsTheLastStateAfterAllRecords: given the
// recorded stream (3 streams, two of one name in two namespaces, 9 STATE
// messages), the destination converts every record and then prints one
// STATE, the source's last, after the last converted record, and exits 0.
func TestFarosDestinationConfirmsTheLastStateAfterAllRecords(t *testing.T) {
	dir := farosDest(t)
	input := recordedSource(t, false, "--records", "60", "--state-every", "25", "--big-cursor")
	src := parseMsgs(t, "source output", input)
	sent, _ := states(src)
	if len(sent) != 9 {
		t.Fatalf("the recorded stream has %d STATE messages, want 9 (3 per stream)", len(sent))
	}

	// The committed config: what a pipeline runs. No RECORD comes back.
	out := farosWrite(t, dir, filepath.Join(dir, "config.json"), input)
	echoed, _ := states(out)
	if len(echoed) != 1 || !state.Equivalent(echoed[0], sent[len(sent)-1]) {
		t.Fatalf("destination printed STATEs %s, want one: the source's last %s", echoed, sent[len(sent)-1])
	}
	for _, m := range out {
		if m.Type != "LOG" && m.Type != "STATE" {
			t.Fatalf("config.json run printed a %s message: %.200s", m.Type, m.raw)
		}
	}
	got := processedByStream(t, out)
	if got["mytestsource__github__users"] != 60 || got["mytestsource__github__commits"] != 120 || len(got) != 2 {
		t.Fatalf("destination processed %v, want users 60 and commits 120 (60 per namespace)", got)
	}
	if s, _ := logLine(out, "Errored "); s != "0 records" {
		t.Fatalf("destination errored on records: %q", s)
	}
	// The echo is JavaScript's re-serialization: a 20-digit cursor comes
	// back rounded, so a runner must keep the source's bytes of the state
	// it matched, not the echo's.
	if bytes.Contains(echoed[0], []byte("99990000000000000060")) || !bytes.Contains(sent[len(sent)-1], []byte("99990000000000000060")) {
		t.Fatalf("expected the echo to round the 20-digit cursor: sent %s, echoed %s", sent[len(sent)-1], echoed[0])
	}

	// With log_records the converted records show it did the work before
	// the STATE: every source commit became a vcs_Commit, every user a
	// vcs_User, all of them printed before the STATE.
	out = farosWrite(t, dir, withLogRecords(t, dir), input)
	echoed, at := states(out)
	if len(echoed) != 1 || !state.Equivalent(echoed[0], sent[len(sent)-1]) {
		t.Fatalf("log_records run printed STATEs %s", echoed)
	}
	wantSHA := map[string]bool{}
	users := 0
	for _, m := range src {
		if m.Type == "RECORD" && m.Record.Stream == "mytestsource__github__commits" {
			var sha string
			json.Unmarshal(m.Record.Data["sha"], &sha)
			wantSHA[sha] = true
		} else if m.Type == "RECORD" {
			users++
		}
	}
	gotUsers := 0
	for i, m := range out {
		if m.Type != "RECORD" || m.Record.Stream != "dry_run" {
			continue
		}
		if i > at[0] {
			t.Fatalf("converted record after the STATE: %.200s", m.raw)
		}
		if c, ok := m.Record.Data["vcs_Commit"]; ok {
			var v struct{ SHA string }
			json.Unmarshal(c, &v)
			delete(wantSHA, v.SHA)
		}
		if _, ok := m.Record.Data["vcs_User"]; ok {
			gotUsers++
		}
	}
	if len(wantSHA) != 0 || gotUsers != users || users != 60 {
		t.Fatalf("%d source commits not converted; %d of %d users converted", len(wantSHA), gotUsers, users)
	}
}

// TestFarosDestinationAfterASourceCrashConfirmsWhatItGot: the source dies
// by SIGKILL after 70 records (users done, 10 commits of acme without a
// STATE yet); the destination, at the end of its input, confirms the last
// STATE it was sent, users' cursor 60, and nothing of commits.
func TestFarosDestinationAfterASourceCrashConfirmsWhatItGot(t *testing.T) {
	dir := farosDest(t)
	input := recordedSource(t, true, "--records", "60", "--state-every", "25", "--crash-after", "70")
	sent, _ := states(parseMsgs(t, "source output", input))
	out := farosWrite(t, dir, filepath.Join(dir, "config.json"), input)
	echoed, _ := states(out)
	want := `{"type":"STREAM","stream":{"stream_descriptor":{"name":"mytestsource__github__users","namespace":"acme"},"stream_state":{"cursor":60}},"sourceStats":{"recordCount":10}}`
	if len(echoed) != 1 || !state.Equivalent(echoed[0], []byte(want)) || !state.Equivalent(sent[len(sent)-1], []byte(want)) {
		t.Fatalf("after the crash the destination confirmed %s, want only %s", echoed, want)
	}
	if got := processedByStream(t, out); got["mytestsource__github__users"] != 60 || got["mytestsource__github__commits"] != 10 {
		t.Fatalf("destination processed %v, want the 70 records sent", got)
	}
}

// TestRecordedSourceResumesPerStreamThroughTheDestination: the confirmed
// state (every source STATE up to the one the destination echoed, merged
// by run/state's Tracker) is the array of three per-stream states, two of them of
// one name in two namespaces; given it, the source sends each stream only
// the records after its own cursor, and the destination confirms again.
func TestRecordedSourceResumesPerStreamThroughTheDestination(t *testing.T) {
	dir := farosDest(t)
	cfg := filepath.Join(dir, "config.json")
	// What pipeline mode does: the tap's STATEs are pending until the
	// target prints one; that one commits it and every one sent before.
	tr := state.NewTracker(state.New(state.Airbyte))
	confirm := func(input []byte) {
		t.Helper()
		sent, _ := states(parseMsgs(t, "source output", input))
		for _, s := range sent {
			if err := tr.Sent(s); err != nil {
				t.Fatal(err)
			}
		}
		echoed, _ := states(farosWrite(t, dir, cfg, input))
		if len(echoed) != 1 {
			t.Fatalf("destination confirmed %d states, want 1", len(echoed))
		}
		if adv, err := tr.Confirm(echoed[0]); !adv || err != nil {
			t.Fatalf("the echo %s confirmed nothing: %v", echoed[0], err)
		}
		if tr.Pending() != 0 {
			t.Fatalf("%d source states still pending after the echo of the last", tr.Pending())
		}
	}
	confirm(recordedSource(t, false, "--records", "30", "--state-every", "20"))
	st := tr.Confirmed()
	file := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(file, st.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	want := `[` +
		`{"type":"STREAM","stream":{"stream_descriptor":{"name":"mytestsource__github__commits","namespace":"acme"},"stream_state":{"cursor":30}},"sourceStats":{"recordCount":10}},` +
		`{"type":"STREAM","stream":{"stream_descriptor":{"name":"mytestsource__github__users","namespace":"acme"},"stream_state":{"cursor":30}},"sourceStats":{"recordCount":10}},` +
		`{"type":"STREAM","stream":{"stream_descriptor":{"name":"mytestsource__github__commits","namespace":"globex"},"stream_state":{"cursor":30}},"sourceStats":{"recordCount":10}}]`
	if !state.Equivalent(st.Bytes(), []byte(want)) {
		t.Fatalf("confirmed state\n%s\nwant\n%s", st.Bytes(), want)
	}

	input := recordedSource(t, false, "--records", "45", "--state-every", "20", "--state", file)
	first := map[string]int{}
	n := 0
	for _, m := range parseMsgs(t, "resumed source output", input) {
		if m.Type != "RECORD" {
			continue
		}
		n++
		k := m.Record.Namespace + "/" + m.Record.Stream
		if _, seen := first[k]; !seen {
			var id int
			json.Unmarshal(m.Record.Data["id"], &id)
			first[k] = id
		}
	}
	if n != 45 || len(first) != 3 || first["acme/mytestsource__github__users"] != 31 ||
		first["acme/mytestsource__github__commits"] != 31 || first["globex/mytestsource__github__commits"] != 31 {
		t.Fatalf("resumed source sent %d records, first ids %v; want 15 per stream from 31", n, first)
	}
	confirm(input)
	st = tr.Confirmed()
	if got := fmt.Sprint(st.Streams()); got != "[acme.mytestsource__github__commits acme.mytestsource__github__users globex.mytestsource__github__commits]" {
		t.Fatalf("streams after the resumed run: %s", got)
	}
	if !bytes.Contains(st.Bytes(), []byte(`"namespace":"globex"},"stream_state":{"cursor":45}`)) {
		t.Fatalf("state after the resumed run: %s", st.Bytes())
	}
}

// TestFarosCatalogIsTheRecordedSourcesStreams: the committed configured
// catalog names exactly the streams (name and namespace) the source
// discovers. The destination keys its catalog by name only, so it would
// not notice a namespace that drifted.
func TestFarosCatalogIsTheRecordedSourcesStreams(t *testing.T) {
	type desc struct{ Name, Namespace string }
	out, err := exec.Command(connectorBin(t, "source-recorded"), "discover").Output()
	if err != nil {
		t.Fatalf("source-recorded discover: %v", err)
	}
	var disc struct {
		Catalog struct{ Streams []desc }
	}
	if err := json.Unmarshal(out, &disc); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../testdata/airbyte/faros-destination/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	var cat struct {
		Streams []struct{ Stream desc }
	}
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatal(err)
	}
	var got []desc
	for _, s := range cat.Streams {
		got = append(got, s.Stream)
	}
	if fmt.Sprint(got) != fmt.Sprint(disc.Catalog.Streams) || len(got) != 3 {
		t.Fatalf("catalog.json streams %v, the source discovers %v", got, disc.Catalog.Streams)
	}
}
