// Command source-recorded is a bundled Airbyte source for tests: it prints
// a fixed, reproducible stream shaped like a Faros GitHub source's output
// (users and commits records that airbyte-faros-destination's github
// converters accept), with per-stream STATE messages whose descriptors
// carry namespaces, and resumes each stream from the array of
// AirbyteStateMessage it is given with --state, as Airbyte sources do.
//
//	source-recorded spec | discover | read [--records N] [--state-every K]
//	    [--state FILE] [--crash-after N [--crash-code C]] [--big-cursor]
//	    [--config C] [--catalog K]
//
// Streams, in this order (name, namespace):
//
//	mytestsource__github__users    acme
//	mytestsource__github__commits  acme
//	mytestsource__github__commits  globex   (same name, another namespace)
//
// Each stream has --records records, numbered 1..N; after every K records
// of a stream and after its last one it prints a STREAM state whose
// stream_state is {"cursor": n}. With --state it skips, per stream, the
// records up to that stream's cursor; a state that is not the array form,
// or that names a stream twice, is an error (exit 1), so a test sees when
// a runner hands it anything else (hand it [] for no state). --crash-after
// N flushes N records and then kills itself with SIGKILL (a source dying
// mid-stream), or exits with --crash-code C if that is set. --big-cursor
// adds a 20-digit cursor_big to each state (JavaScript rounds it).
package main

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"syscall"
)

type stream struct{ name, namespace string }

var streams = []stream{
	{"mytestsource__github__users", "acme"},
	{"mytestsource__github__commits", "acme"},
	{"mytestsource__github__commits", "globex"},
}

// epoch is the fixed emitted_at base (2026-12-01T00:00:00Z in ms), so the
// stream is byte-for-byte the same on every run.
const epoch = 1_764_547_200_000

func main() {
	if len(os.Args) < 2 {
		fail("usage: source-recorded spec|discover|read [flags]")
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	records := fs.Int("records", 100, "records per stream")
	every := fs.Int("state-every", 25, "print a STATE after this many records of a stream")
	statePath := fs.String("state", "", "resume from this state file (the array of AirbyteStateMessage)")
	crashAfter := fs.Int("crash-after", 0, "after this many records in all, flush and die by SIGKILL (0: never)")
	crashCode := fs.Int("crash-code", 0, "with --crash-after: exit with this code instead of SIGKILL")
	bigCursor := fs.Bool("big-cursor", false, "add a cursor_big of 20 digits to each state (beyond float64 precision)")
	fs.String("config", "", "ignored (accepted as Airbyte sources do)")
	fs.String("catalog", "", "ignored: the source always reads all of its streams")
	fs.Parse(os.Args[2:])
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	defer w.Flush()
	enc := json.NewEncoder(w)
	switch cmd {
	case "spec":
		enc.Encode(map[string]any{"type": "SPEC", "spec": map[string]any{
			"connectionSpecification": map[string]any{"type": "object", "properties": map[string]any{}},
		}})
	case "discover":
		var ss []any
		for _, s := range streams {
			ss = append(ss, map[string]any{"name": s.name, "namespace": s.namespace,
				"json_schema": map[string]any{"type": "object"}, "supported_sync_modes": []string{"full_refresh", "incremental"}})
		}
		enc.Encode(map[string]any{"type": "CATALOG", "catalog": map[string]any{"streams": ss}})
	case "read":
		start := map[stream]int{}
		if *statePath != "" {
			var err error
			if start, err = readState(*statePath); err != nil {
				fail(err.Error())
			}
		}
		if *every < 1 {
			fail("--state-every must be at least 1")
		}
		read(enc, w, start, *records, *every, *crashAfter, *crashCode, *bigCursor)
	default:
		fail("unknown command " + cmd)
	}
}

func read(enc *json.Encoder, w *bufio.Writer, start map[stream]int, records, every, crashAfter, crashCode int, bigCursor bool) {
	enc.Encode(map[string]any{"type": "LOG", "log": map[string]any{"level": "INFO",
		"message": fmt.Sprintf("source-recorded: %d records per stream, resuming from %v", records, start)}})
	sent := 0
	for _, s := range streams {
		since := 0 // records since this stream's last STATE
		for n := start[s] + 1; n <= records; n++ {
			enc.Encode(map[string]any{"type": "RECORD", "record": map[string]any{
				"stream": s.name, "namespace": s.namespace, "emitted_at": epoch + n, "data": data(s, n)}})
			sent++
			since++
			if crashAfter > 0 && sent == crashAfter {
				w.Flush()
				if crashCode != 0 {
					os.Exit(crashCode)
				}
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				// PID 1 of a container ignores its own SIGKILL: die as
				// a killed process would look to a shell.
				os.Exit(137)
			}
			if n%every == 0 || n == records {
				st := map[string]any{"cursor": n}
				if bigCursor {
					st["cursor_big"] = json.Number(fmt.Sprintf("%d%016d", 9999, n)) // 20 digits
				}
				enc.Encode(map[string]any{"type": "STATE", "state": map[string]any{
					"type": "STREAM",
					"stream": map[string]any{
						"stream_descriptor": map[string]any{"name": s.name, "namespace": s.namespace},
						"stream_state":      st,
					},
					"sourceStats": map[string]any{"recordCount": float64(since)},
				}})
				since = 0
			}
		}
	}
}

// data is record n of stream s, in the shape the GitHub converters read.
func data(s stream, n int) map[string]any {
	org := s.namespace
	repo := org + "/repo-1"
	if s.name == "mytestsource__github__users" {
		login := fmt.Sprintf("%s-user-%d", org, n)
		return map[string]any{"id": n, "login": login, "name": fmt.Sprintf("User %d of %s", n, org),
			"type": "User", "html_url": "https://github.com/" + login, "repository": repo}
	}
	sum := sha1.Sum([]byte(fmt.Sprintf("%s/%d", repo, n)))
	sha := hex.EncodeToString(sum[:])
	return map[string]any{"id": n, "sha": sha, "repository": repo, "branch": "main",
		"html_url": "https://github.com/" + repo + "/commit/" + sha,
		"author":   map[string]any{"login": fmt.Sprintf("%s-user-%d", org, 1+n%7)},
		"commit": map[string]any{"message": fmt.Sprintf("commit %d: Zürich → 東京 \"quoted\"", n),
			"author": map[string]any{"date": fmt.Sprintf("2026-11-%02dT12:00:00Z", 1+n%28)}}}
}

// readState reads the cursors from the array of AirbyteStateMessage.
func readState(path string) (map[stream]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '[' {
		return nil, fmt.Errorf("state %s: want the JSON array of AirbyteStateMessage, got %.40q", path, t)
	}
	var msgs []struct {
		Type   string `json:"type"`
		Stream *struct {
			Descriptor struct {
				Name      string  `json:"name"`
				Namespace *string `json:"namespace"`
			} `json:"stream_descriptor"`
			State struct {
				Cursor *int `json:"cursor"`
			} `json:"stream_state"`
		} `json:"stream"`
	}
	if err := json.Unmarshal(b, &msgs); err != nil {
		return nil, fmt.Errorf("state %s: want the JSON array of AirbyteStateMessage: %v", path, err)
	}
	start := map[stream]int{}
	for i, m := range msgs {
		if m.Type != "STREAM" || m.Stream == nil || m.Stream.State.Cursor == nil {
			return nil, fmt.Errorf("state %s: message %d is not a STREAM state with a cursor", path, i)
		}
		s := stream{name: m.Stream.Descriptor.Name}
		if m.Stream.Descriptor.Namespace != nil {
			s.namespace = *m.Stream.Descriptor.Namespace
		}
		if _, dup := start[s]; dup {
			return nil, fmt.Errorf("state %s: stream %s (namespace %q) twice", path, s.name, s.namespace)
		}
		start[s] = *m.Stream.State.Cursor
	}
	return start, nil
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "source-recorded:", msg)
	os.Exit(1)
}
