package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"syncbox/run/report"
)

// airbyteState reads a state file as the Airbyte platform hands it to a
// source: the array of AirbyteStateMessage, one per stream descriptor.
func airbyteState(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	var msgs []struct {
		Type   string `json:"type"`
		Stream struct {
			Descriptor struct {
				Name      string  `json:"name"`
				Namespace *string `json:"namespace"`
			} `json:"stream_descriptor"`
			State struct {
				Cursor int `json:"cursor"`
			} `json:"stream_state"`
		} `json:"stream"`
	}
	if err := json.Unmarshal(b, &msgs); err != nil {
		t.Fatalf("state file is not the array of AirbyteStateMessage a source reads: %v\n%s", err, b)
	}
	out := map[string]int{}
	for _, m := range msgs {
		ns := "<none>"
		if m.Stream.Descriptor.Namespace != nil {
			ns = *m.Stream.Descriptor.Namespace
		}
		k := ns + "." + m.Stream.Descriptor.Name
		if _, dup := out[k]; dup || m.Type != "STREAM" {
			t.Fatalf("state file: %s twice or not a STREAM state:\n%s", k, b)
		}
		out[k] = m.Stream.State.Cursor
	}
	return out
}

// A real third-party Airbyte destination (airbyte-faros-destination from
// npm, in dry_run mode) as the target of a recorded Airbyte source in
// pipeline mode, over two runs:
//
//  1. the source dies after 150 of its 300 records; the destination reads
//     what it got, commits it and echoes the last STATE: that state, merged
//     per stream descriptor (the same stream name in two namespaces kept
//     apart), is what the state file holds;
//  2. the rerun hands the source that array (source-recorded refuses any
//     other shape) and it resumes each stream after its own cursor.
func TestAirbytePipelineWithARealDestinationKeepsPerStreamState(t *testing.T) {
	if os.Geteuid() != 0 {
		unavailable(t, "root, to run containers")
	}
	dest := farosDest(t)
	sb := syncboxBin(t)
	src := connectorBin(t, "source-recorded")
	work := t.TempDir()
	stateFile, rep := filepath.Join(work, "state.json"), filepath.Join(work, "report.json")
	env := append(os.Environ(), "SYNCBOX_RUN_DIR="+filepath.Join(work, "run"), "SYNCBOX_HOME="+filepath.Join(work, "home"))
	args := func(extra ...string) []string {
		a := []string{"run", "--protocol", "airbyte", "--name", "source-recorded", "--memory", "256MiB",
			"--target-name", "faros-destination", "--target-memory", "1GiB",
			"--state-file", stateFile, "--report", rep, "--catalog", filepath.Join(dest, "catalog.json"),
			"--target", "node " + filepath.Join(dest, "dest.js") + " write --config {target-config} --catalog {catalog}",
			"--target-config", filepath.Join(dest, "config.json"), "--target-bind", dest,
			"--", src, "read", "--records", "100", "--state-every", "10", "--state", "{state}"}
		return append(a, extra...)
	}

	var stderr strings.Builder
	cmd := sbCommand(sb, env, args("--crash-after", "150"))
	cmd.Stderr = &stderr
	code := exitCode(t, cmd.Run())
	if code != report.ExitConnectorFailed {
		t.Fatalf("run 1: exit %d, want %d (the source died)\n%s", code, report.ExitConnectorFailed, stderr.String())
	}
	r1 := readReport(t, rep)
	if r1.Target == nil || r1.Target.ExitCode == nil || *r1.Target.ExitCode != 0 || r1.Target.StatesConfirmed < 1 {
		t.Fatalf("run 1: the destination should have exited 0 and confirmed a state: %+v", r1.Target)
	}
	// 150 records in stream order: users 1-100, commits@acme 1-50, and it
	// dies right after record 150, before that record's STATE: states
	// come every 10 records, so the last one sent is commits@acme at 40.
	got := airbyteState(t, stateFile)
	want := map[string]int{"acme.mytestsource__github__users": 100, "acme.mytestsource__github__commits": 40}
	if len(got) != len(want) || got["acme.mytestsource__github__users"] != 100 || got["acme.mytestsource__github__commits"] != 40 {
		t.Fatalf("run 1: state %v, want %v", got, want)
	}

	stderr.Reset()
	cmd = sbCommand(sb, env, args())
	cmd.Stderr = &stderr
	if code := exitCode(t, cmd.Run()); code != 0 {
		t.Fatalf("run 2: exit %d\n%s", code, stderr.String())
	}
	r2 := readReport(t, rep)
	// Resumed per stream: users has nothing left, commits@acme its last 60,
	// commits@globex all 100.
	if r2.Records.Total != 160 {
		t.Errorf("run 2: %d records, want 160 (each stream resumed after its own cursor)", r2.Records.Total)
	}
	got = airbyteState(t, stateFile)
	for _, k := range []string{"acme.mytestsource__github__users", "acme.mytestsource__github__commits", "globex.mytestsource__github__commits"} {
		if got[k] != 100 {
			t.Errorf("run 2: state %v, want every stream at 100", got)
			break
		}
	}
}
