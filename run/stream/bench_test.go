package stream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"sync"
	"testing"

	"syncbox/testdata/corpus"
)

// singerCorpus is the shared benchmark corpus (testdata/corpus).
func singerCorpus(size int) ([]byte, int) { return corpus.Singer(size) }

var benchData struct {
	once    sync.Once
	b       []byte
	records int
}

func benchCorpus() ([]byte, int) {
	benchData.once.Do(func() {
		size := 256 << 20
		if s, err := strconv.Atoi(os.Getenv("SYNCBOX_BENCH_MB")); err == nil {
			size = s << 20
		}
		benchData.b, benchData.records = singerCorpus(size)
	})
	return benchData.b, benchData.records
}

func report(b *testing.B, size, records int) {
	b.SetBytes(int64(size))
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkScan: the scanner with inspection on (limits set, nothing oversized).
func BenchmarkScan(b *testing.B) {
	c, n := benchCorpus()
	b.ResetTimer()
	for range b.N {
		s := New(Config{Protocol: Singer, MaxFieldSize: 16 << 20, MaxRecordSize: 64 << 20})
		if err := s.Run(io.Discard, bytes.NewReader(c)); err != nil {
			b.Fatal(err)
		}
		if st := s.Snapshot(); st.Records != int64(n) || st.Bytes != int64(len(c)) {
			b.Fatalf("stats %+v", st)
		}
	}
	report(b, len(c), n)
}

// BenchmarkScanTinyLimits: limits small enough that policy runs on records.
func BenchmarkScanPolicy(b *testing.B) {
	c, n := benchCorpus()
	b.ResetTimer()
	for range b.N {
		s := New(Config{Protocol: Singer, MaxFieldSize: 100, MaxRecordSize: 400})
		if err := s.Run(io.Discard, bytes.NewReader(c)); err != nil {
			b.Fatal(err)
		}
	}
	report(b, len(c), n)
}

// BenchmarkJSONDecode: a bufio.Scanner + encoding/json map decode loop.
func BenchmarkJSONDecode(b *testing.B) {
	c, n := benchCorpus()
	b.ResetTimer()
	for range b.N {
		sc := bufio.NewScanner(bytes.NewReader(c))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				b.Fatal(err)
			}
		}
	}
	report(b, len(c), n)
}

// onlyReader hides bytes.Reader's WriterTo so io.Copy really copies.
type onlyReader struct{ io.Reader }

// BenchmarkIOCopy: a plain io.Copy (32 KiB buffer) baseline.
func BenchmarkIOCopy(b *testing.B) {
	c, n := benchCorpus()
	b.ResetTimer()
	for range b.N {
		if _, err := io.Copy(io.Discard, onlyReader{bytes.NewReader(c)}); err != nil {
			b.Fatal(err)
		}
	}
	report(b, len(c), n)
}

// BenchmarkScanPipe: the scanner between OS pipes, as in production.
func BenchmarkScanPipe(b *testing.B) {
	c, n := benchCorpus()
	b.ResetTimer()
	for range b.N {
		inR, inW, _ := os.Pipe()
		outR, outW, _ := os.Pipe()
		go func() { inW.Write(c); inW.Close() }()
		done := make(chan struct{})
		go func() { io.Copy(io.Discard, outR); close(done) }()
		s := New(Config{Protocol: Singer, MaxFieldSize: 16 << 20, MaxRecordSize: 64 << 20})
		if err := s.Run(outW, inR); err != nil {
			b.Fatal(err)
		}
		outW.Close()
		<-done
		inR.Close()
		outR.Close()
	}
	report(b, len(c), n)
}

func TestCorpusIsValid(t *testing.T) {
	c, n := singerCorpus(1 << 20)
	sc := bufio.NewScanner(bytes.NewReader(c))
	lines := 0
	for sc.Scan() {
		lines++
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("invalid corpus line %q", sc.Bytes())
		}
	}
	var out bytes.Buffer
	s := New(Config{Protocol: Singer, MaxFieldSize: 1 << 20})
	if err := s.Run(&out, bytes.NewReader(c)); err != nil || !bytes.Equal(out.Bytes(), c) || s.Snapshot().Records != int64(n) {
		t.Fatalf("err %v, records %d/%d", err, s.Snapshot().Records, n)
	}
	t.Logf("%d records, %d lines, %.0f bytes/record", n, lines, float64(len(c))/float64(n))
}

// BenchmarkTokenize: the in-memory tokenizer alone over the corpus lines.
func BenchmarkTokenize(b *testing.B) {
	c, n := benchCorpus()
	var lines [][]byte
	for l := range bytes.SplitSeq(c, []byte("\n")) {
		if len(l) > 0 {
			lines = append(lines, l)
		}
	}
	var t tokenizer
	t.strLimit = 16 << 20
	var m memLine
	b.ResetTimer()
	for range b.N {
		for _, l := range lines {
			m.b = l
			t.reset(&m)
			if err := t.parseLine(l); err != nil {
				b.Fatal(err)
			}
		}
	}
	report(b, len(c), n)
}
