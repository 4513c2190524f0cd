package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Protocol selects how lines are interpreted.
type Protocol int

const (
	Auto    Protocol = iota // recognise each line's shape (Singer or Airbyte)
	Singer                  // Singer spec messages only
	Airbyte                 // Airbyte protocol messages only
	Raw                     // no inspection: a plain copy
)

func (p Protocol) String() string {
	switch p {
	case Auto:
		return "auto"
	case Singer:
		return "singer"
	case Airbyte:
		return "airbyte"
	case Raw:
		return "raw"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// ParseProtocol parses auto|singer|airbyte|raw ("" is auto).
func ParseProtocol(s string) (Protocol, error) {
	if s == "" {
		return Auto, nil
	}
	for p := Auto; p <= Raw; p++ {
		if strings.EqualFold(s, p.String()) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown protocol %q (want auto, singer, airbyte or raw)", s)
}

// Action is what happens to an oversized value.
type Action int

const (
	Null     Action = iota // replace the value with null (default)
	Truncate               // cut a string at the limit; other values are nulled
	Drop                   // drop the whole record
	Fail                   // stop with a *PolicyError
	Pass                   // only report
)

func (a Action) String() string {
	switch a {
	case Null:
		return "null"
	case Truncate:
		return "truncate"
	case Drop:
		return "drop"
	case Fail:
		return "fail"
	case Pass:
		return "pass"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// ParseAction parses null|truncate|drop|fail|pass ("" is null).
func ParseAction(s string) (Action, error) {
	if s == "" {
		return Null, nil
	}
	for a := Null; a <= Pass; a++ {
		if strings.EqualFold(s, a.String()) {
			return a, nil
		}
	}
	return 0, fmt.Errorf("unknown oversize action %q (want null, truncate, drop, fail or pass)", s)
}

// Config configures a Scanner. The zero value is a validating pass-through
// with the default bounds.
type Config struct {
	Protocol      Protocol
	MaxFieldSize  int64  // bytes per top-level record field and per nested string or number; 0 = no limit
	MaxRecordSize int64  // bytes per record payload (serialized); 0 = no limit
	Oversize      Action // what to do with an oversized value
	Strict        bool   // the first bad line stops the scan with a *PolicyError

	// Keys gives key properties per stream for streams that have no Singer
	// SCHEMA message (Airbyte: the configured catalog's primary key). The
	// map key is the stream's identity as in Stats.ByStream:
	// "namespace.name" for an Airbyte stream with a namespace, else the
	// name; a plain name also applies to that name in any namespace that
	// has no entry of its own.
	Keys map[string][]string

	Flags      io.Writer // one JSON line per flagged value or bad line (optional)
	RejectsDir string    // original values of changed or dropped data (optional)
	Warn       io.Writer // human-readable warnings (optional)

	// OnState is called for each STATE message (Singer: value; Airbyte:
	// the whole AirbyteStateMessage, the "state" member) after every byte
	// before it reached dst and dst was flushed. An error stops the scan
	// and is returned as it is. value must not be modified.
	OnState func(value []byte) error

	// Window is the longest line held in memory (default 8 MiB); longer
	// lines are spooled to a file in SpoolDir (default os.TempDir()).
	Window   int
	SpoolDir string

	// Bounds. 0 means the default; a negative value means no bound.
	MaxLineSize    int64 // longest line (default 2 GiB): the spool never holds more; a longer line is a bad line
	MaxStateSize   int64 // largest STATE value (default 16 MiB); a larger STATE is a bad line
	MaxStreams     int   // streams (default 10,000); a message of a stream beyond is a bad line
	MaxFlags       int64 // flags entries (default 10,000); beyond, counted in Stats.FlagsSkipped
	MaxRejectFiles int64 // rejects files (default 10,000); beyond, counted in Stats.RejectsSkipped
	MaxRejectBytes int64 // bytes in rejects files (default 1 GiB); a value that does not fit is counted, not written
	MaxWarnings    int   // line warnings (default 20); beyond, counted in Stats.WarningsSkipped and summarized
}

// Default bounds (Config's 0 values).
const (
	DefaultMaxLineSize    = 2 << 30
	DefaultMaxStateSize   = 16 << 20
	DefaultMaxStreams     = 10000
	DefaultMaxFlags       = 10000
	DefaultMaxRejectFiles = 10000
	DefaultMaxRejectBytes = 1 << 30
	DefaultMaxWarnings    = 20
)

// bound resolves a Config bound: 0 is def, negative is none (max int64).
func bound(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 1<<63 - 1
	}
	return v
}

// PolicyError stops a scan: an oversized value under the fail action, a
// key too large under fail, or a bad line under Strict.
type PolicyError struct {
	Line   int64  // 1-based line number
	Offset int64  // input byte offset of the line
	Stream string // stream name, if known
	Record int64  // record number within the stream, if a record
	Field  string // field path, if a field
	Size   int64  // size of the value (or line)
	Limit  int64  // the limit it exceeds, if any
	Reason string
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stream: line %d (input offset %d)", e.Line, e.Offset)
	if e.Stream != "" {
		fmt.Fprintf(&b, ", stream %q record %d", e.Stream, e.Record)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ", field %q", e.Field)
	}
	fmt.Fprintf(&b, ": %s", e.Reason)
	if e.Limit > 0 {
		fmt.Fprintf(&b, " (%d bytes, limit %d)", e.Size, e.Limit)
	} else if e.Size > 0 {
		fmt.Fprintf(&b, " (%d bytes)", e.Size)
	}
	return b.String()
}

// StreamStats are per-stream counters.
type StreamStats struct {
	Records int64 // RECORD messages seen
	Bytes   int64 // bytes written for them
}

// FlaggedValue describes a value that broke a limit.
type FlaggedValue struct {
	Stream string
	Record int64
	Field  string
	Size   int64
	Keys   string // JSON object of key property values
}

// InFlight is the large value being scanned now.
type InFlight struct {
	Line  int64
	Field string // path from the message root, e.g. record.payload
	Bytes int64  // bytes of the value seen so far
}

// TraceError is an Airbyte TRACE message of type ERROR.
type TraceError struct {
	Message     string // error.message: at most 4 KiB, made safe to print (controls as \\uXXXX)
	FailureType string // error.failure_type: system_error, config_error, transient_error
}

// Stats is a snapshot of a scan's progress. Stream names in it (ByStream
// keys, CurrentStream, Largest.Stream) are display names: "namespace.name"
// where a namespace is set, decoded, with control, bidi and invalid bytes
// written as \uXXXX / \xNN.
type Stats struct {
	Lines             int64 // lines read, including empty and invalid ones
	Records           int64 // RECORD messages seen
	Dropped           int64 // records dropped by the policy
	Bytes             int64 // bytes written to dst
	InputBytes        int64 // bytes read from src (as of the last complete line)
	ByStream          map[string]StreamStats
	InvalidLines      int64
	EmptyLines        int64 // blank (whitespace-only) lines: counted, not forwarded
	Batches           int64 // Singer BATCH messages
	Flagged           int64 // flagged values (and records)
	Largest           FlaggedValue
	CurrentStream     string
	RecordsSinceState int64
	BytesSinceState   int64
	InFlight          *InFlight // nil unless a line longer than the window is being scanned
	LastState         []byte    // shared, not copied: never modify it
	States            int64
	TraceError        *TraceError // the first Airbyte TRACE ERROR, if any
	TraceErrors       int64       // TRACE ERROR messages

	// What the bounds left out.
	FlagsSkipped    int64 // flags entries not written (Config.MaxFlags)
	RejectFiles     int64 // rejects files written
	RejectBytes     int64 // bytes written to them
	RejectsSkipped  int64 // values or lines not written to rejects (MaxRejectFiles, MaxRejectBytes)
	WarningsSkipped int64 // line warnings not written (MaxWarnings)
	LongLines       int64 // lines longer than MaxLineSize (also in InvalidLines)
}

// Scanner scans one connector output stream. Run it once.
type Scanner struct {
	cfg    Config
	window int

	tok   tokenizer
	out   outWriter
	spool *spoolLine
	mem   memLine

	lineNo  int64
	lineOff int64
	streams map[string]*streamInfo // written under mu
	last    *streamInfo

	helper *helper // tokenizes part of each block of lines in parallel
	share  int     // Run's part of a block (parallel.go)
	serial bool    // tests: no helper

	edits   []edit
	fields  []fieldInfo
	nested  []nestedBig
	changes []byte

	ld lineData // the line being handled
	nl bool     // it ended with a newline

	// Bounds (Config's, resolved) and what they count.
	maxLine, maxState int64
	maxStreams        int
	maxFlags, flagsN  int64
	maxWarn, warnN    int
	tableBytes        int64 // stream table's bytes (streams.go)
	longBy            int64 // bytes of the current line beyond what ld holds (a long line)
	flagsErr          error
	rej               *rejects
	flagBuf, keysBuf  []byte
	keyBuf            []byte
	recent            [4]recentStream // streams of the last lines in memory (streams.go)
	recentNext        int
	errStreams        error
	curName, curNS    span // the current message's stream name and namespace (raw content; curNS empty if none)

	mu sync.Mutex
	st Stats
}

// New returns a Scanner for cfg.
func New(cfg Config) *Scanner {
	w := cfg.Window
	if w <= 0 {
		w = 8 << 20
	}
	if w < 64 {
		w = 64
	}
	s := &Scanner{cfg: cfg, window: w, streams: map[string]*streamInfo{}, share: shareOne / 2,
		maxLine:    bound(cfg.MaxLineSize, DefaultMaxLineSize),
		maxState:   bound(cfg.MaxStateSize, DefaultMaxStateSize),
		maxStreams: int(bound(int64(cfg.MaxStreams), DefaultMaxStreams)),
		maxFlags:   bound(cfg.MaxFlags, DefaultMaxFlags),
		maxWarn:    int(bound(int64(cfg.MaxWarnings), DefaultMaxWarnings)),
	}
	s.tok.strLimit, s.tok.opaque, s.tok.autoSinger = cfg.MaxFieldSize, opaqueRoles(cfg.Protocol), cfg.Protocol == Auto
	return s
}

// opaqueRoles are the containers whose members no message of protocol p
// needs outside the full pass: Airbyte's payload, and under Singer the
// payload "record" (whose members would be record.stream, record.data...
// only in an Airbyte message).
func opaqueRoles(p Protocol) uint8 {
	if p == Singer {
		return 1<<roleRecord | 1<<roleData
	}
	return 1 << roleData
}

// Snapshot returns the current statistics. It is safe to call from any
// goroutine while Run is going.
// CurrentStream is the display name of the stream being read now: what
// Snapshot says, without copying the stream table (for frequent callers).
func (s *Scanner) CurrentStream() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.CurrentStream
}

func (s *Scanner) Snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.ByStream = make(map[string]StreamStats, len(s.streams))
	for _, si := range s.streams {
		// Two streams may share a display name (an ESC byte and the text
		// "\u001B" are both shown as \u001B): one entry, counts summed.
		ss := st.ByStream[si.display]
		st.ByStream[si.display] = StreamStats{Records: ss.Records + si.records, Bytes: ss.Bytes + si.bytes}
	}
	if s.st.InFlight != nil {
		f := *s.st.InFlight
		st.InFlight = &f
	}
	if s.st.TraceError != nil {
		te := *s.st.TraceError
		st.TraceError = &te
	}
	return st
}

// Run scans src to dst until EOF or an error. Policy stops are *PolicyError.
func (s *Scanner) Run(dst io.Writer, src io.Reader) (err error) {
	if s.cfg.Protocol == Raw {
		return s.copyRaw(dst, src)
	}
	if s.cfg.RejectsDir != "" {
		if s.rej, err = openRejects(s.cfg.RejectsDir, bound(s.cfg.MaxRejectFiles, DefaultMaxRejectFiles),
			bound(s.cfg.MaxRejectBytes, DefaultMaxRejectBytes)); err != nil {
			return err
		}
	}
	s.out = outWriter{w: dst, buf: make([]byte, 0, 256<<10)}
	defer func() {
		if ferr := s.out.flush(); err == nil && ferr != nil {
			err = ferr
		}
		s.rej.close()
		s.warnSummary()
		if s.spool != nil {
			s.spool.f.Close()
		}
		s.mu.Lock()
		s.st.Bytes = s.out.n
		s.st.InputBytes = s.lineOff
		s.st.InFlight = nil
		s.mu.Unlock()
	}()
	// The read buffer grows (doubling) up to the window as lines need it.
	growPipe(src)
	buf := make([]byte, min(s.window, 1<<20))
	r, w, scanned := 0, 0, 0
	eof := false
	defer s.stopHelper()
	for {
		// Blocks of at most maxBlock: the helper's per-line results grow
		// with a block's lines.
		if lim := min(w, r+maxBlock); lim-r >= parallelMin && r+scanned < lim && !s.serial {
			if last := bytes.LastIndexByte(buf[r+scanned:lim], '\n'); last >= 0 {
				end := r + scanned + last + 1
				// The helper reads ahead into the free tail of buf while
				// Run finishes the block.
				var next []byte
				if !eof && len(buf)-w >= 64<<10 {
					next = buf[w:]
				}
				n, rerr, err := s.block(buf[r:end], next, src)
				if err != nil {
					return err
				}
				w += n
				if rerr == io.EOF {
					eof = true
				} else if rerr != nil {
					return fmt.Errorf("stream: reading connector output: %w", rerr)
				}
				r, scanned = end, 0
				continue
			}
		}
		if i := bytes.IndexByte(buf[r+scanned:w], '\n'); i >= 0 {
			end := r + scanned + i
			if err := s.memLineDone(buf[r:end], true); err != nil {
				return err
			}
			s.lineOff += int64(end - r + 1)
			r, scanned = end+1, 0
			continue
		}
		scanned = w - r
		if eof {
			if w > r {
				if err := s.memLineDone(buf[r:w], false); err != nil {
					return err
				}
				s.lineOff += int64(w - r)
			} else if s.lineNo == 0 {
				s.warnf("empty stream: the connector wrote nothing")
			}
			return nil
		}
		if r > 0 && len(buf)-w < 64<<10 {
			if err := s.out.drainRef(); err != nil {
				return err
			}
			copy(buf, buf[r:w])
			w -= r
			r = 0
		}
		if w == len(buf) && len(buf) < s.window {
			if err := s.out.drainRef(); err != nil {
				return err
			}
			nb := make([]byte, min(2*len(buf), s.window))
			copy(nb, buf[r:w])
			buf, w, r = nb, w-r, 0
		}
		if w == len(buf) {
			// The line outgrew the window: spool it.
			if err := s.out.drainRef(); err != nil {
				return err
			}
			rest, more, err := s.spoolRun(buf, w, src)
			if err != nil {
				return err
			}
			r, w, scanned, eof = 0, rest, 0, !more
			continue
		}
		n, rerr := src.Read(buf[w:])
		w += n
		if rerr == io.EOF {
			eof = true
		} else if rerr != nil {
			return fmt.Errorf("stream: reading connector output: %w", rerr)
		}
	}
}

// memLineDone tokenizes and handles a line held in memory.
func (s *Scanner) memLineDone(line []byte, nl bool) error {
	s.mem.b = line
	if int64(len(line)) > s.maxLine {
		s.tok.reset(&s.mem)
		return s.longLine(&s.mem, 0, nl)
	}
	s.tok.reset(&s.mem)
	err := s.tok.parseLine(line)
	return s.handleLine(&s.mem, err, nl)
}

// spoolRun streams a line longer than the window to a spool file while
// tokenizing it. buf[:w] holds its beginning. It returns how many bytes of
// the next line(s) it left at the start of buf and whether src has more.
func (s *Scanner) spoolRun(buf []byte, w int, src io.Reader) (rest int, more bool, err error) {
	if s.spool == nil {
		dir := s.cfg.SpoolDir
		if dir == "" {
			dir = os.TempDir()
		}
		f, err := os.CreateTemp(dir, "syncbox-spool-*")
		if err != nil {
			return 0, false, fmt.Errorf("stream: spool file for a long line: %w", err)
		}
		os.Remove(f.Name()) // unlinked: disappears with the process
		s.spool = &spoolLine{f: f, copyBuf: make([]byte, 1<<20)}
	}
	sp := s.spool
	if err := sp.reset(); err != nil {
		return 0, false, err
	}
	s.tok.reset(sp)
	s.tok.full = true
	defer func() { s.tok.full = false }()
	var tokErr error
	add := func(p []byte) error {
		if err := sp.append(p); err != nil {
			return err
		}
		if tokErr == nil {
			tokErr = s.tok.feed(p, sp.n-int64(len(p)))
		}
		return nil
	}
	var over int64 // bytes beyond MaxLineSize: read, not spooled
	first := buf[:w]
	if int64(len(first)) > s.maxLine {
		over, first = int64(len(first))-s.maxLine, first[:s.maxLine]
	}
	if err := add(first); err != nil {
		return 0, false, err
	}
	nl, eof := false, false
	for !nl && !eof {
		s.noteInFlight(sp.n + over)
		n, rerr := src.Read(buf)
		if rerr == io.EOF {
			eof = true
		} else if rerr != nil {
			return 0, false, fmt.Errorf("stream: reading connector output: %w", rerr)
		}
		chunk := buf[:n]
		i := bytes.IndexByte(chunk, '\n')
		if i >= 0 {
			chunk = chunk[:i]
		}
		if room := s.maxLine - sp.n; int64(len(chunk)) > room {
			over += int64(len(chunk)) - room
			chunk = chunk[:room]
		}
		if err := add(chunk); err != nil {
			return 0, false, err
		}
		if i >= 0 {
			nl = true
			rest = copy(buf, buf[i+1:n])
		}
	}
	if over > 0 {
		if err := s.longLine(sp, over, nl); err != nil {
			return 0, false, err
		}
		s.lineOff += sp.n + over
		if nl {
			s.lineOff++
		}
		s.mu.Lock()
		s.st.InFlight = nil
		s.mu.Unlock()
		return rest, !eof, nil
	}
	if tokErr == nil {
		tokErr = s.tok.finish(sp.n)
	}
	if err := s.handleLine(sp, tokErr, nl); err != nil {
		return 0, false, err
	}
	s.lineOff += sp.n
	if nl {
		s.lineOff++
	}
	s.mu.Lock()
	s.st.InFlight = nil
	s.mu.Unlock()
	return rest, !eof, nil
}

// longLine rejects a line longer than MaxLineSize: ld holds its first
// bytes (all of them in memory, the first MaxLineSize spooled), over
// counts the bytes beyond that were read and dropped.
func (s *Scanner) longLine(ld lineData, over int64, nl bool) error {
	s.lineNo++
	s.ld, s.nl = ld, nl
	s.longBy = over
	defer func() { s.longBy = 0 }()
	s.mu.Lock()
	s.st.LongLines++
	s.mu.Unlock()
	return s.badLine(fmt.Sprintf("line of %d bytes is longer than the line size limit (%d bytes)", ld.size()+over, s.maxLine))
}

func (s *Scanner) noteInFlight(n int64) {
	path, start := s.tok.inFlight()
	s.mu.Lock()
	s.st.InFlight = &InFlight{Line: s.lineNo + 1, Field: path, Bytes: n - start}
	s.st.InputBytes = s.lineOff + n
	s.mu.Unlock()
}

// lineData is a complete line, in memory or spooled.
type lineData interface {
	byteSource
	size() int64
	// copyTo writes bytes [start,end) of the line to w.
	copyTo(w io.Writer, start, end int64) error
}

type memLine struct{ b []byte }

func (m *memLine) slice(start, end int64) []byte { return m.b[start:end] }
func (m *memLine) size() int64                   { return int64(len(m.b)) }
func (m *memLine) copyTo(w io.Writer, start, end int64) error {
	_, err := w.Write(m.b[start:end])
	return err
}

// spoolLine is a line in an unlinked temporary file.
type spoolLine struct {
	f       *os.File
	n       int64
	small   []byte
	copyBuf []byte
}

func (sp *spoolLine) reset() error {
	sp.n = 0
	if err := sp.f.Truncate(0); err != nil {
		return fmt.Errorf("stream: spool: %w", err)
	}
	return nil
}

func (sp *spoolLine) append(p []byte) error {
	if _, err := sp.f.WriteAt(p, sp.n); err != nil {
		return fmt.Errorf("stream: spool: %w", err)
	}
	sp.n += int64(len(p))
	return nil
}

func (sp *spoolLine) size() int64 { return sp.n }

// slice reads a small range; the result is valid until the next call.
func (sp *spoolLine) slice(start, end int64) []byte {
	n := int(end - start)
	if cap(sp.small) < n {
		sp.small = make([]byte, n)
	}
	b := sp.small[:n]
	if _, err := sp.f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
		// Reads of a file we just wrote do not fail short of I/O errors;
		// the caller sees zero bytes in that case.
		clear(b)
	}
	return b
}

func (sp *spoolLine) copyTo(w io.Writer, start, end int64) error {
	for start < end {
		n := min(int64(len(sp.copyBuf)), end-start)
		b := sp.copyBuf[:n]
		if _, err := sp.f.ReadAt(b, start); err != nil && !(errors.Is(err, io.EOF) && int64(len(b)) == n) {
			return fmt.Errorf("stream: spool: %w", err)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		start += n
	}
	return nil
}

// readCopy returns a new copy of line bytes [start,end) (a spooled line's
// slice buffer is not grown to hold it).
func readCopy(ld lineData, start, end int64) []byte {
	if m, ok := ld.(*memLine); ok {
		return append([]byte(nil), m.b[start:end]...)
	}
	var b bytes.Buffer
	b.Grow(int(end - start))
	if ld.copyTo(&b, start, end) != nil {
		return nil
	}
	return b.Bytes()
}
