package stream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	runreport "syncbox/run/report"
)

// The memory tests run the scanner in a child process (this test binary,
// TestHelperProcess) so that its peak RSS can be measured, and stream
// gigabytes through it over pipes.

const helperEnv = "SYNCBOX_STREAM_HELPER"

// TestHelperProcess is the child: it scans stdin to stdout with the config
// in its environment and writes its final stats as JSON to stderr.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process")
	}
	num := func(k string) int64 { n, _ := strconv.ParseInt(os.Getenv(k), 10, 64); return n }
	act, _ := ParseAction(os.Getenv("SB_ACTION"))
	cfg := Config{MaxFieldSize: num("SB_FIELD"), MaxRecordSize: num("SB_RECORD"), Oversize: act,
		RejectsDir: os.Getenv("SB_REJECTS"), SpoolDir: os.Getenv("SB_SPOOL"),
		MaxLineSize: num("SB_MAX_LINE"), MaxRejectBytes: num("SB_REJECT_BYTES")}
	if p := os.Getenv("SB_FLAGS"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer f.Close()
		cfg.Flags = f
	}
	s := New(cfg)
	err := s.Run(os.Stdout, os.Stdin)
	st := s.Snapshot()
	// Its own peak (VmHWM), measured here: the rusage of a child starts
	// from the parent's high-water mark (TestHelperPeakIsTheChilds).
	json.NewEncoder(os.Stderr).Encode(map[string]any{"err": fmt.Sprint(err), "stats": st, "peak": runreport.RunnerPeakRSS()})
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// tailWriter counts what it is given and keeps its head and tail.
type tailWriter struct {
	n          int64
	head, tail []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if len(w.head) < 4096 {
		w.head = append(w.head, p[:min(len(p), 4096-len(w.head))]...)
	}
	w.tail = append(w.tail, p[max(0, len(p)-4096):]...)
	if len(w.tail) > 8192 {
		w.tail = append(w.tail[:0], w.tail[len(w.tail)-4096:]...)
	}
	return len(p), nil
}

func (w *tailWriter) Tail() string {
	return string(w.tail[max(0, len(w.tail)-4096):])
}

// fill writes n bytes of pattern (repeated) to w, 1 MiB at a time.
func fill(w io.Writer, pattern string, n int64) error {
	block := bytes.Repeat([]byte(pattern), (1<<20)/len(pattern))
	for n > 0 {
		k := min(n, int64(len(block)))
		if _, err := w.Write(block[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

type memCase struct {
	name  string
	env   []string
	gen   func(w io.Writer) error
	check func(t *testing.T, out *tailWriter, stats Stats, flags []byte, rejects string)
}

const (
	gib        = int64(1) << 30
	rssLimit   = 64 << 20
	blobPrefix = `{"type":"RECORD","stream":"big","record":{"id":1,"blob":"`
	blobSuffix = `"}}` + "\n"
	stateLine  = `{"type":"STATE","value":{"n":1}}` + "\n"
)

func genBlob(size int64, tail string) func(w io.Writer) error {
	return func(w io.Writer) error {
		if _, err := io.WriteString(w, blobPrefix); err != nil {
			return err
		}
		if err := fill(w, "abcdefgh", size); err != nil {
			return err
		}
		_, err := io.WriteString(w, blobSuffix+tail)
		return err
	}
}

// genNested writes a record whose "doc" field is an object of about size
// bytes: {"items":[{"k":"<1 KiB>","n":[1,2.5,{"x":null}]}, ...]}.
func genNested(size int64) func(w io.Writer) error {
	item := `{"k":"` + strings.Repeat("é\\n", 300) + `","n":[1,2.5,{"x":null}]},`
	return func(w io.Writer) error {
		io.WriteString(w, `{"type":"RECORD","stream":"big","record":{"id":1,"doc":{"items":[`)
		if err := fill(w, item, size); err != nil {
			return err
		}
		_, err := io.WriteString(w, `{}]}}}`+"\n"+stateLine)
		return err
	}
}

func rejectFileSize(t *testing.T, dir string) (string, int64) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("rejects dir has %d files", len(ents))
	}
	fi, _ := ents[0].Info()
	return ents[0].Name(), fi.Size()
}

func TestBoundedMemory(t *testing.T) {
	if testing.Short() || swarPass {
		t.Skip("streams gigabytes")
	}
	nestedSize := gib / int64(len(`{"k":"`+strings.Repeat("é\\n", 300)+`","n":[1,2.5,{"x":null}]},`)) *
		int64(len(`{"k":"`+strings.Repeat("é\\n", 300)+`","n":[1,2.5,{"x":null}]},`))
	cases := []memCase{
		{name: "1GiB string, no limits", gen: genBlob(gib, stateLine),
			check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
				if out.n != int64(len(blobPrefix+blobSuffix+stateLine))+gib || st.Records != 1 || st.States != 1 {
					t.Fatalf("out %d bytes, stats %+v", out.n, st)
				}
			}},
		{name: "1GiB string, field limit, rejects", env: []string{"SB_FIELD=1048576", "SB_RECORD=4194304", "SB_REJECTS=1", "SB_REJECT_BYTES=-1"},
			gen: genBlob(gib, stateLine),
			check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
				want := `{"type":"RECORD","stream":"big","record":{"id":1,"blob":null},"meta":{"changes":[{"field":"blob","change":"NULLED","reason":"PLATFORM_FIELD_SIZE_LIMITATION"}]}}` + "\n" + stateLine
				if string(out.head) != want {
					t.Fatalf("out %q", out.head)
				}
				if name, size := rejectFileSize(t, rej); size != gib+2 || !bytes.Contains(flags, []byte(`"rejects":"`+name+`"`)) ||
					!bytes.Contains(flags, []byte(fmt.Sprintf(`"size":%d`, gib))) {
					t.Fatalf("reject %s %d, flags %s", name, size, flags)
				}
				if st.Largest.Size != gib || st.Largest.Field != "blob" {
					t.Fatalf("stats %+v", st)
				}
			}},
		{name: "1GiB string, truncate", env: []string{"SB_FIELD=1048576", "SB_ACTION=truncate"},
			gen: genBlob(gib, ""),
			check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
				meta := `,"meta":{"changes":[{"field":"blob","change":"TRUNCATED","reason":"PLATFORM_FIELD_SIZE_LIMITATION"}]}}`
				if out.n != int64(len(blobPrefix))+1<<20+int64(len(meta))+3 || !strings.HasSuffix(out.Tail(), `abcdefgh"}`+meta+"\n") {
					t.Fatalf("out %d bytes: %q", out.n, out.Tail())
				}
			}},
		{name: "1GiB nested object, limits, rejects", env: []string{"SB_FIELD=16777216", "SB_RECORD=33554432", "SB_REJECTS=1"},
			gen: genNested(nestedSize),
			check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
				want := `{"type":"RECORD","stream":"big","record":{"id":1,"doc":null},"meta":{"changes":[{"field":"doc","change":"NULLED","reason":"PLATFORM_FIELD_SIZE_LIMITATION"}]}}` + "\n" + stateLine
				if string(out.head) != want {
					t.Fatalf("out %q", out.head)
				}
				if _, size := rejectFileSize(t, rej); size != nestedSize+int64(len(`{"items":[{}]}`)) {
					t.Fatalf("reject size %d", size)
				}
			}},
		{name: "1GiB nested object, no limits", gen: genNested(nestedSize),
			check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
				if out.n != st.InputBytes || st.Records != 1 || !strings.HasSuffix(out.Tail(), `{}]}}}`+"\n"+stateLine) {
					t.Fatalf("out %d stats %+v", out.n, st)
				}
			}},
		{name: "2GiB line without newline, no limits", env: []string{"SB_MAX_LINE=4294967296"},
			gen: func(w io.Writer) error {
				io.WriteString(w, `{"type":"RECORD","record":{"stream":"s","emitted_at":1,"data":{"v":"`)
				fill(w, `0123456789\"\\`, 2*gib/14*14)
				_, err := io.WriteString(w, `"}}}`)
				return err
			},
			check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
				if out.n != st.InputBytes+1 || out.n < 2*gib || !strings.HasSuffix(out.Tail(), `\\"}}}`+"\n") || st.Records != 1 {
					t.Fatalf("out %d stats %+v tail %q", out.n, st, out.Tail())
				}
			}},
		{name: "2GiB line cut short (connector died), rejects", env: []string{"SB_FIELD=1048576", "SB_REJECTS=1", "SB_MAX_LINE=4294967296", "SB_REJECT_BYTES=-1"},
			gen: func(w io.Writer) error {
				io.WriteString(w, stateLine+`{"type":"RECORD","record":{"stream":"s","emitted_at":1,"data":{"v":"`)
				return fill(w, `0123456789`, 2*gib)
			},
			check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
				if string(out.head) != stateLine || st.InvalidLines != 1 {
					t.Fatalf("out %q stats %+v", out.head, st)
				}
				if _, size := rejectFileSize(t, rej); size != st.InputBytes-int64(len(stateLine)) || size < 2*gib {
					t.Fatalf("reject size %d", size)
				}
				if !bytes.Contains(flags, []byte(fmt.Sprintf(`"offset":%d,`, len(stateLine)))) || !bytes.Contains(flags, []byte("truncated")) {
					t.Fatalf("flags %s", flags)
				}
			}},
	}
	runMemCases(t, cases)
}

// The hostile line shapes of issue 13, each of which took the runner's
// memory far past any limit: every one must stay within rssLimit.
func TestHostileLinesBoundedMemory(t *testing.T) {
	if testing.Short() || swarPass {
		t.Skip("streams hundreds of megabytes")
	}
	const depth, strs = 3000, 4096
	key := strings.Repeat("k", 250)
	cases := []memCase{
		{name: "deep nesting of long keys holding many oversized strings", env: []string{"SB_FIELD=16"},
			gen: func(w io.Writer) error {
				var b strings.Builder
				b.WriteString(`{"type":"RECORD","stream":"h","record":{"id":1,"d":`)
				for range depth {
					b.WriteString(`{"` + key + `":`)
				}
				b.WriteString("[")
				for i := range strs {
					if i > 0 {
						b.WriteString(",")
					}
					b.WriteString(`"0123456789abcdefghij"`)
				}
				b.WriteString("]" + strings.Repeat("}", depth) + "}}\n" + stateLine)
				_, err := io.WriteString(w, b.String())
				return err
			},
			check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
				if st.Records != 1 || st.States != 1 || st.Flagged == 0 || !strings.HasSuffix(out.Tail(), stateLine) {
					t.Fatalf("stats %+v", st)
				}
			}},
		{name: "300 MiB STATE", gen: func(w io.Writer) error {
			io.WriteString(w, `{"type":"STATE","value":{"cursor":"`)
			if err := fill(w, "abcdefgh", 300<<20); err != nil {
				return err
			}
			_, err := io.WriteString(w, `"}}`+"\n"+stateLine)
			return err
		}, check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
			if st.States != 1 || st.InvalidLines != 1 || string(out.head) != stateLine || !bytes.Contains(flags, []byte("larger than the state limit")) {
				t.Fatalf("out %q stats %+v", out.head, st)
			}
		}},
		{name: "200 MiB stream name", gen: func(w io.Writer) error {
			io.WriteString(w, `{"type":"RECORD","stream":"`)
			if err := fill(w, "abcdefgh", 200<<20); err != nil {
				return err
			}
			_, err := io.WriteString(w, `","record":{}}`+"\n"+stateLine)
			return err
		}, check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
			if st.Records != 0 || st.InvalidLines != 1 || string(out.head) != stateLine || len(st.ByStream) != 0 {
				t.Fatalf("out %q stats %+v", out.head, st)
			}
		}},
		{name: "1M streams", gen: func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 1<<20)
			for i := range 1000000 {
				fmt.Fprintf(bw, `{"type":"RECORD","stream":"stream-%d-%s","record":{"i":%d}}`+"\n", i, key[:100], i)
			}
			return bw.Flush()
		}, check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
			if len(st.ByStream) != DefaultMaxStreams || st.Records != DefaultMaxStreams || st.InvalidLines != 1000000-DefaultMaxStreams ||
				st.FlagsSkipped != st.InvalidLines-DefaultMaxFlags || st.WarningsSkipped != st.InvalidLines-DefaultMaxWarnings {
				t.Fatalf("stats: %d streams %+v", len(st.ByStream), st)
			}
		}},
		{name: "blocks of tiny lines with many members", gen: func(w io.Writer) error {
			return fill(w, `{"a":0,"b":0,"c":0,"d":0,"e":0}`+"\n"+`[0,0,0,0,0,0,0,0,0,0,0,0,0]`+"\n", 64<<20)
		}, check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
			if st.InvalidLines == 0 || out.n == 0 {
				t.Fatalf("stats %+v", st)
			}
		}},
	}
	runMemCases(t, cases)
}

// runMemCases runs each case's generator into the helper process and
// checks its output, stats and peak RSS.
func runMemCases(t *testing.T, cases []memCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rej := filepath.Join(dir, "rejects")
			flagsPath := filepath.Join(dir, "flags.jsonl")
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
			cmd.Env = append(os.Environ(), helperEnv+"=1", "SB_SPOOL="+dir, "SB_FLAGS="+flagsPath)
			for _, e := range tc.env {
				if e == "SB_REJECTS=1" {
					e = "SB_REJECTS=" + rej
				}
				cmd.Env = append(cmd.Env, e)
			}
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			out := &tailWriter{}
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = out, &stderr
			start := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			genErr := make(chan error, 1)
			go func() {
				err := tc.gen(in)
				in.Close()
				genErr <- err
			}()
			werr := cmd.Wait()
			if err := <-genErr; err != nil {
				t.Fatalf("generator: %v (child: %v, %s)", err, werr, stderr.Bytes())
			}
			if werr != nil {
				t.Fatalf("child: %v\n%s", werr, stderr.Bytes())
			}
			var res struct {
				Err   string
				Stats Stats
				Peak  int64
			}
			if err := json.Unmarshal(bytes.TrimSpace(stderr.Bytes()), &res); err != nil {
				t.Fatalf("child stderr %q", stderr.Bytes())
			}
			rss := res.Peak
			if rss <= 0 {
				t.Fatalf("the helper could not read its peak RSS (VmHWM): %q", stderr.Bytes())
			}
			flags, _ := os.ReadFile(flagsPath)
			t.Logf("%s: in %d bytes, out %d bytes in %v, peak RSS %.1f MiB", tc.name, res.Stats.InputBytes, out.n,
				time.Since(start).Round(time.Millisecond), float64(rss)/(1<<20))
			if rss > rssLimit {
				t.Errorf("peak RSS %d bytes > %d", rss, rssLimit)
			}
			tc.check(t, out, res.Stats, flags, rej)
		})
	}
}

// TestHelperPeakIsTheChilds: the peak RSS the memory tests check is the
// helper process's own, whatever the test process holds. (A child's
// rusage Maxrss starts from its parent's high-water mark at exec, so a
// test process that had grown past rssLimit failed every case at once.)
func TestHelperPeakIsTheChilds(t *testing.T) {
	if swarPass {
		t.Skip("the same in both passes")
	}
	held := make([]byte, 2*rssLimit)
	for i := range held {
		held[i] = byte(i)
	}
	runMemCases(t, []memCase{{name: "one small record while the parent holds 2x the limit",
		gen: func(w io.Writer) error {
			_, err := io.WriteString(w, `{"type":"RECORD","stream":"s","record":{"a":1}}`+"\n")
			return err
		},
		check: func(t *testing.T, out *tailWriter, st Stats, flags []byte, rej string) {
			if st.Records != 1 {
				t.Fatalf("stats %+v", st)
			}
		}}})
	runtime.KeepAlive(held)
}
