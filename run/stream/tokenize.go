package stream

// This file is the tokenizer: a resumable JSON state machine that validates
// one line (one message) fed to it in one or more chunks and records where
// the values the size policy may care about lie. It knows nothing about
// limits actions or protocols beyond the names of the containers whose
// members it records ("record", "meta", "record.data", "record.meta").

import (
	"bytes"
	"fmt"
)

// Value kinds, as the first byte of their serialization.
const (
	kObject = '{'
	kArray  = '['
	kString = '"'
	kNumber = '0'
	kTrue   = 't'
	kFalse  = 'f'
	kNull   = 'n'
)

// Tokenizer bounds. They keep memory independent of the input.
const (
	maxDepth   = 10000   // deeper nesting makes the line invalid
	maxVals    = 1 << 16 // recorded members per line; beyond, overflow is set
	maxBigs    = 4096    // recorded oversized strings per line; beyond, overflow is set
	maxPathSeg = 256     // bytes of one key kept in a field path
	maxPath    = 1024    // bytes of a field path (then "…")
)

// span is a byte range [start, end) within the line.
type span struct{ start, end int64 }

// val is a recorded value: a member of a tracked container.
type val struct {
	parent int32 // index in vals of the container, -1 for the root
	kind   byte
	role   byte  // for containers: what the tokenizer tracks inside
	key    span  // raw key content without quotes; start<0 for array elements
	start  int64 // value extent
	end    int64
}

// bigStr is a string or number under the root member "record" whose
// serialized size (a string's quotes included) exceeds the tokenizer's
// strLimit.
type bigStr struct {
	start, end int64
	path       span // into tokenizer.paths: "record.a.b[2]"
}

// Container roles: which containers have their members recorded.
const (
	roleNone byte = iota
	roleRoot
	roleRecord  // root member "record"
	roleMeta    // root member "meta" (Singer lineage)
	roleData    // record.data (Airbyte payload)
	roleRecMeta // record.meta (Airbyte lineage)
)

// frame is an open container.
type frame struct {
	kind   byte
	role   byte
	idx    int32 // index in vals, -1 if not recorded
	key    span  // current member's key content (objects)
	krole  byte  // the role a container value of that key gets (keyInfos)
	n      int64 // current element index (arrays)
	vstart int64 // start of the current member value
	rec    bool  // the current member is recorded in vals
	slot   uint8 // the current member's slot in tokenizer.at (0: none)
}

// Tokenizer states.
const (
	sValue      = iota // a value must follow
	sValueOrEnd        // after '[': a value or ']'
	sKeyOrEnd          // after '{': a key or '}'
	sKey               // after ',' in an object: a key
	sColon             // after a key
	sAfter             // after a member value: ',' or the container's close
	sString            // inside a string
	sEsc               // after a backslash in a string
	sUnicode           // inside \uXXXX
	sNumber            // inside a number (sub-state in nstate)
	sLiteral           // inside true/false/null
	sDone              // root value complete: only whitespace may follow
)

// Number sub-states.
const (
	nMinus = iota // after '-'
	nZero         // after a leading 0
	nInt          // in integer digits
	nDot          // after '.'
	nFrac         // in fraction digits
	nE            // after e/E
	nESign        // after exponent sign
	nExp          // in exponent digits
)

// SyntaxError is a JSON error at a byte offset within the line.
type SyntaxError struct {
	Offset int64
	Msg    string
}

// errEmptyLine: the line held only whitespace.
var errEmptyLine = &SyntaxError{Msg: "empty line"}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// byteSource gives access to earlier bytes of the line (keys that straddle
// chunk boundaries, path building). For an in-memory line it is the line.
type byteSource interface {
	slice(start, end int64) []byte
}

type tokenizer struct {
	strLimit int64 // strings under "record" larger than this are recorded in bigs (0: none)
	// full records the members of every tracked container. Without it,
	// only the root's members and record.stream/namespace/data/meta are recorded:
	// enough to classify a message and measure its payload; the policy
	// asks for a full pass only for a record that may break a limit.
	full bool
	// opaque has bit r set for the container roles whose members the
	// policy reads only in the full pass (for the protocol in use): outside
	// it such a container is recorded whole and validated by skipValue.
	opaque uint8
	// autoSinger (protocol Auto): a root "stream" string before "record"
	// makes the line a Singer message if it is a RECORD (dispatch tries
	// Singer's shape first), so "record" is opaque there too.
	autoSinger bool

	state    int
	nstate   int
	isKey    bool
	ucount   int
	lit      string
	litPos   int
	strStart int64 // start of the current string/number/literal
	rootRec  bool  // the root's current member key is "record"
	started  bool  // a value has begun

	stack    []frame
	mscan    maskScan // skipMasked's state
	noSkip   bool     // parseAgain: no skipValue
	vals     []val
	bigs     []bigStr
	paths    []byte
	overflow bool // vals or bigs were capped

	// Read members the line repeats or escapes (members.go): every member
	// of an object with a role is seen, recorded or not.
	seen   [len(readMembers)]uint16
	faults memberFaults
	faulty bool // faults may be set
	// at is, per slot (keyInfos), the index in vals of the last recorded
	// read member of the root or of "record": members() reads the message
	// from it instead of walking vals. Slot 0 takes the other members'.
	at message

	chunk    []byte // current chunk and its line offset
	base     int64
	src      byteSource
	skipDeep []uint64 // skipBytes' kinds of containers 64 and more deep
}

func (t *tokenizer) reset(src byteSource) {
	t.state, t.nstate, t.isKey, t.ucount, t.litPos = sValue, 0, false, 0, 0
	t.rootRec, t.started, t.overflow = false, false, false
	// One by one: a tuple assignment built the values on the stack
	// first, and the copies stalled on store forwarding.
	t.seen = [len(readMembers)]uint16{}
	if t.faulty {
		t.faults, t.faulty = memberFaults{}, false
	}
	t.at = noMembers
	t.stack = t.stack[:0]
	t.vals = t.vals[:0]
	t.bigs = t.bigs[:0]
	t.paths = t.paths[:0]
	t.src = src
	t.chunk, t.base = nil, 0
}

// bytesAt returns line bytes [start,end), from the current chunk if possible.
func (t *tokenizer) bytesAt(start, end int64) []byte {
	if start >= t.base && end <= t.base+int64(len(t.chunk)) {
		return t.chunk[start-t.base : end-t.base]
	}
	return t.src.slice(start, end)
}

func (t *tokenizer) errAt(off int64, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// feed tokenizes p, which starts at line offset base.
func (t *tokenizer) feed(p []byte, base int64) error {
	t.chunk, t.base = p, base
	i := 0
	for i < len(p) {
		switch t.state {
		case sString:
			j := strStop(p, i)
			if j == len(p) {
				return nil
			}
			switch c := p[j]; {
			case c == '"':
				i = j + 1
				if err := t.endString(base + int64(j)); err != nil {
					return err
				}
			case c == '\\':
				// A whole escape in this chunk: the shared check; one cut
				// by the chunk's end goes on in the escape states.
				n, err := t.escape(p, j, base)
				if err != nil {
					return err
				}
				if n > 0 {
					i = j + n
				} else {
					i = j + 1
					t.state = sEsc
				}
			default:
				return t.errAt(base+int64(j), "control character 0x%02x in string", c)
			}
		case sEsc:
			switch p[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				t.state = sString
			case 'u':
				t.state, t.ucount = sUnicode, 0
			default:
				return t.errAt(base+int64(i), "invalid escape %q", p[i])
			}
			i++
		case sUnicode:
			c := p[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return t.errAt(base+int64(i), "invalid hex digit %q in \\u escape", c)
			}
			i++
			if t.ucount++; t.ucount == 4 {
				t.state = sString
			}
		case sNumber:
			var err error
			if i, err = t.number(p, i); err != nil {
				return err
			}
		case sLiteral:
			for i < len(p) && t.litPos < len(t.lit) {
				if p[i] != t.lit[t.litPos] {
					return t.errAt(base+int64(i), "invalid literal")
				}
				i++
				t.litPos++
			}
			if t.litPos == len(t.lit) {
				t.endScalar(base+int64(i), t.lit[0])
			}
		default:
			c := p[i]
			if isSpace(c) {
				i++
				continue
			}
			if err := t.structural(c, base+int64(i)); err != nil {
				return err
			}
			i++
		}
	}
	return nil
}

// number continues a number at p[i]; on its end it leaves the terminating
// byte unconsumed.
func (t *tokenizer) number(p []byte, i int) (int, error) {
	for ; i < len(p); i++ {
		c := p[i]
		digit := '0' <= c && c <= '9'
		switch t.nstate {
		case nMinus:
			if !digit {
				return i, t.errAt(t.base+int64(i), "invalid number")
			}
			if c == '0' {
				t.nstate = nZero
			} else {
				t.nstate = nInt
			}
			continue
		case nInt, nZero:
			if digit && t.nstate == nInt {
				continue
			}
			if c == '.' {
				t.nstate = nDot
				continue
			}
			if c == 'e' || c == 'E' {
				t.nstate = nE
				continue
			}
			if digit {
				return i, t.errAt(t.base+int64(i), "leading zero in number")
			}
		case nDot:
			if !digit {
				return i, t.errAt(t.base+int64(i), "invalid number")
			}
			t.nstate = nFrac
			continue
		case nFrac:
			if digit {
				continue
			}
			if c == 'e' || c == 'E' {
				t.nstate = nE
				continue
			}
		case nE:
			if c == '+' || c == '-' {
				t.nstate = nESign
				continue
			}
			if !digit {
				return i, t.errAt(t.base+int64(i), "invalid number exponent")
			}
			t.nstate = nExp
			continue
		case nESign:
			if !digit {
				return i, t.errAt(t.base+int64(i), "invalid number exponent")
			}
			t.nstate = nExp
			continue
		case nExp:
			if digit {
				continue
			}
		}
		// the number ended before p[i]
		t.endNumber(t.base + int64(i))
		return i, nil
	}
	return i, nil
}

// numberComplete reports whether a number in progress may end here.
func (t *tokenizer) numberComplete() bool {
	return t.nstate == nZero || t.nstate == nInt || t.nstate == nFrac || t.nstate == nExp
}

// structural handles a non-space byte outside strings, numbers and literals.
func (t *tokenizer) structural(c byte, off int64) error {
	switch t.state {
	case sValue, sValueOrEnd:
		if c == ']' && t.state == sValueOrEnd {
			return t.closeContainer(off)
		}
		return t.beginValue(c, off)
	case sKeyOrEnd, sKey:
		if c == '"' {
			t.state, t.isKey, t.strStart = sString, true, off
			return nil
		}
		if c == '}' && t.state == sKeyOrEnd {
			return t.closeContainer(off)
		}
		return t.errAt(off, "expected object key, got %q", c)
	case sColon:
		if c != ':' {
			return t.errAt(off, "expected ':', got %q", c)
		}
		t.state = sValue
		return nil
	case sAfter:
		f := &t.stack[len(t.stack)-1]
		switch {
		case c == ',' && f.kind == kObject:
			t.state = sKey
		case c == ',':
			f.n++
			t.state = sValue
		case c == '}' && f.kind == kObject, c == ']' && f.kind == kArray:
			return t.closeContainer(off)
		default:
			return t.errAt(off, "expected ',' or close, got %q", c)
		}
		return nil
	case sDone:
		return t.errAt(off, "data after the top-level value: %q", c)
	}
	return t.errAt(off, "internal tokenizer state %d", t.state)
}

func (t *tokenizer) beginValue(c byte, off int64) error {
	t.started = true
	if n := len(t.stack); n > 0 {
		t.stack[n-1].vstart = off
	}
	switch c {
	case '{', '[':
		return t.openContainer(c, off)
	case '"':
		t.state, t.isKey, t.strStart = sString, false, off
	case 't':
		t.state, t.lit, t.litPos, t.strStart = sLiteral, "true", 1, off
	case 'f':
		t.state, t.lit, t.litPos, t.strStart = sLiteral, "false", 1, off
	case 'n':
		t.state, t.lit, t.litPos, t.strStart = sLiteral, "null", 1, off
	case '-':
		t.state, t.nstate, t.strStart = sNumber, nMinus, off
	default:
		if '0' <= c && c <= '9' {
			t.state, t.strStart = sNumber, off
			if c == '0' {
				t.nstate = nZero
			} else {
				t.nstate = nInt
			}
			return nil
		}
		return t.errAt(off, "unexpected %q where a value must start", c)
	}
	return nil
}

// memberKeys is the one table of the members the tokenizer tracks, for
// both grammars: under a container of role parent, the key, the role its
// value gets if it is a container, and whether it is recorded outside the
// full pass (every member of the root is recorded). Keys are raw JSON
// string content: "rec\u006frd" is not "record" (and such a line is a bad
// line: members.go).
var memberKeys = [...]struct {
	parent byte
	key    string
	role   byte
}{
	{roleRoot, "record", roleRecord},
	{roleRoot, "meta", roleMeta},
	{roleRecord, "data", roleData},
	{roleRecord, "meta", roleRecMeta},
	{roleRecord, "stream", roleNone},
	{roleRecord, "namespace", roleNone},
}

// keyInfo is what the tokenizer does with a member: the role its value
// gets if it is a container, whether it is recorded outside the full pass,
// and its slot in tokenizer.at (0: none).
type keyInfo struct {
	role byte
	rec  bool
	slot uint8
}

// Slots in tokenizer.at: the root's read members, then record's, in
// readMembers order (the order of message's fields).
const (
	slotRoot   = 1
	slotRecord = slotRoot + 8
	numSlots   = slotRecord + 4
)

// noMembers is tokenizer.at with no member recorded.
var noMembers = func() (a message) {
	for i := range a {
		a[i] = -1
	}
	return a
}()

// keyInfos is memberKeys by read member: keyInfos[parent][i+1] for
// readMembers[parent][i], keyInfos[parent][0] for any other key (recorded
// only at the root).
var keyInfos = func() (k [len(readMembers)][17]keyInfo) {
	for parent := range readMembers {
		k[parent][0].rec = byte(parent) == roleRoot
		for i, name := range readMembers[parent] {
			ki := keyInfo{rec: byte(parent) == roleRoot}
			switch byte(parent) {
			case roleRoot:
				ki.slot = uint8(slotRoot + i)
			case roleRecord:
				ki.slot = uint8(slotRecord + i)
			}
			for _, m := range memberKeys {
				if int(m.parent) == parent && m.key == name {
					ki.role, ki.rec = m.role, true
				}
			}
			k[parent][i+1] = ki
		}
	}
	for _, m := range memberKeys {
		if readIndex(m.parent, []byte(m.key)) < 0 {
			panic("stream: memberKeys has " + m.key + ", which is not in readMembers")
		}
	}
	return k
}()

func (t *tokenizer) openContainer(c byte, off int64) error {
	if len(t.stack) >= maxDepth {
		return t.errAt(off, "nesting deeper than %d", maxDepth)
	}
	nf := frame{kind: c, idx: -1}
	if n := len(t.stack); n == 0 {
		nf.role = roleRoot
		nf.idx = t.record(-1, c, span{-1, -1}, off, -1)
	} else if f := &t.stack[n-1]; f.rec {
		if f.kind == kObject {
			nf.role = f.krole
		}
		nf.idx = t.member(f, c, off, -1)
		if nf.idx < 0 {
			nf.role = roleNone
		}
	}
	if nf.idx >= 0 {
		t.vals[nf.idx].role = nf.role
		// A root array is a bad line whatever it holds: its elements are
		// not recorded (a line of them would cost 20 bytes a byte).
		nf.rec = c == kArray && nf.role != roleNone && nf.role != roleRoot && t.full
	}
	t.stack = append(t.stack, nf)
	if c == kObject {
		t.state = sKeyOrEnd
	} else {
		t.state = sValueOrEnd
	}
	return nil
}

// record appends a val if there is room; it returns its index or -1.
func (t *tokenizer) record(parent int32, kind byte, key span, start, end int64) int32 {
	n := len(t.vals)
	if n >= maxVals {
		t.overflow = true
		return -1
	}
	if n == cap(t.vals) {
		t.vals = append(t.vals, val{})
	}
	// Written in place: a val built on the stack and copied cost a
	// store-forwarding stall per member.
	t.vals = t.vals[:n+1]
	v := &t.vals[n]
	v.parent, v.kind, v.role, v.key, v.start, v.end = parent, kind, roleNone, key, start, end
	return int32(n)
}

// member records the current member (object) or element (array) of the
// recorded container f, and notes a read member's index in its slot.
func (t *tokenizer) member(f *frame, kind byte, start, end int64) int32 {
	key := span{-1, -1}
	if f.kind == kObject {
		key = f.key
	}
	i := t.record(f.idx, kind, key, start, end)
	if i > 0 {
		t.at[f.slot] = i
	}
	return i
}

func (t *tokenizer) closeContainer(off int64) error {
	n := len(t.stack)
	if f := &t.stack[n-1]; f.idx >= 0 {
		t.vals[f.idx].end = off + 1
	}
	t.stack = t.stack[:n-1]
	t.afterValue()
	return nil
}

// afterValue moves to the state that follows a complete value.
func (t *tokenizer) afterValue() {
	if len(t.stack) == 0 {
		t.state = sDone
	} else {
		t.state = sAfter
	}
}

// endString is called at the closing quote at offset off.
func (t *tokenizer) endString(off int64) error {
	if t.isKey {
		t.setKey(t.strStart, off)
		t.isKey = false
		t.state = sColon
		return nil
	}
	end := off + 1
	if t.strLimit > 0 && end-t.strStart > t.strLimit && len(t.stack) >= 2 && t.rootRec {
		t.addBig(t.strStart, end)
	}
	t.endScalar(end, kString)
	return nil
}

// endNumber completes a number ending before end; one under "record"
// larger than strLimit is recorded like an oversized string.
func (t *tokenizer) endNumber(end int64) {
	if t.strLimit > 0 && end-t.strStart > t.strLimit && len(t.stack) >= 2 && t.rootRec {
		t.addBig(t.strStart, end)
	}
	t.endScalar(end, kNumber)
}

// endScalar completes a string, number or literal ending before end.
func (t *tokenizer) endScalar(end int64, kind byte) {
	t.started = true
	if n := len(t.stack); n == 0 {
		t.record(-1, kind, span{-1, -1}, t.strStart, end)
	} else if f := &t.stack[n-1]; f.rec {
		t.member(f, kind, t.strStart, end)
	}
	t.afterValue()
}

// scalar records a complete scalar [start,end) if its container records it.
func (t *tokenizer) scalar(start, end int64, kind byte) {
	n := len(t.stack)
	if n == 0 {
		t.record(-1, kind, span{-1, -1}, start, end)
		return
	}
	if f := &t.stack[n-1]; f.rec {
		t.member(f, kind, start, end)
	}
}

// setKey sets the current member key of the innermost object to the
// string whose quotes are at start and end.
func (t *tokenizer) setKey(start, end int64) {
	n := len(t.stack)
	f := &t.stack[n-1]
	f.key = span{start + 1, end}
	if f.role == roleNone || f.idx < 0 {
		f.rec, f.krole, f.slot = false, roleNone, 0
		return
	}
	key := t.bytesAt(start+1, end)
	i := -1 // readIndex of the raw key
	if kl := len(key); kl < 32 && nameLens[f.role]>>kl&1 != 0 || kl >= minEscName && kl <= maxEscName && nameLens[f.role] != 0 {
		i = t.noteMember(f.role, key) // the length may be a read member's
	}
	ki := &keyInfos[f.role][i+1]
	f.rec, f.krole, f.slot = ki.rec || t.full, ki.role, ki.slot
	if n == 1 {
		t.rootRec = ki.role == roleRecord
	}
}

// addBig records an oversized string or number with its path from the
// root. A path keeps at most maxPathSeg bytes of each key and about
// maxPath bytes in all (then "…"), cut on escape boundaries: deep nesting
// of long keys costs no more than a short path.
func (t *tokenizer) addBig(start, end int64) {
	if len(t.bigs) >= maxBigs {
		t.overflow = true
		return
	}
	ps := int64(len(t.paths))
	for i := range t.stack {
		if int64(len(t.paths))-ps > maxPath {
			t.paths = append(t.paths, "…"...)
			break
		}
		f := &t.stack[i]
		if f.kind == kArray {
			t.paths = fmt.Appendf(t.paths, "[%d]", f.n)
			continue
		}
		if i > 0 {
			t.paths = append(t.paths, '.')
		}
		t.paths = appendCut(t.paths, t, f.key.start, f.key.end, maxPathSeg)
	}
	t.bigs = append(t.bigs, bigStr{start: start, end: end, path: span{ps, int64(len(t.paths))}})
}

// slice makes the tokenizer a byteSource of the line it is reading.
func (t *tokenizer) slice(start, end int64) []byte { return t.bytesAt(start, end) }

// finish ends the line at offset end. It reports truncated values.
func (t *tokenizer) finish(end int64) error {
	if t.state == sNumber && t.numberComplete() {
		t.endNumber(end)
	}
	switch {
	case t.state == sDone:
		return nil
	case !t.started:
		return errEmptyLine
	}
	return t.errAt(end, "unexpected end of line inside a value (truncated JSON)")
}

// inFlight describes the innermost value being scanned: its path and start.
func (t *tokenizer) inFlight() (path string, start int64) {
	var b []byte
	for i := range t.stack[:min(len(t.stack), 64)] {
		f := &t.stack[i]
		if f.kind == kArray {
			b = fmt.Appendf(b, "[%d]", f.n)
			continue
		}
		if i > 0 {
			b = append(b, '.')
		}
		k := f.key
		if k.start < 0 {
			continue
		}
		if k.end-k.start > maxPathSeg {
			k.end = k.start + maxPathSeg
		}
		b = append(b, t.bytesAt(k.start, k.end)...)
	}
	if n := len(t.stack); n > 0 {
		start = t.stack[n-1].vstart
	}
	if t.state == sString || t.state == sEsc || t.state == sUnicode {
		start = t.strStart
	}
	return string(b), start
}

// parseLine tokenizes a complete line held in memory. It is the fast path
// of feed+finish: the same grammar, records and error messages (a test runs
// every case through both), with the state in local variables and the bulk
// loops inline.
func (t *tokenizer) parseLine(p []byte) error {
	t.chunk, t.base = p, 0
	n := len(p)
	const (
		wantValue = iota
		wantKey
		wantAfter
	)
	st := wantValue
	i := 0
	var top *frame // innermost open container
	if e := t.envelopeOf(p); e != nil {
		top, i = t.startAfter(e), len(e.prefix)
	}
	for {
		for i < n && p[i] <= ' ' && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n') {
			i++
		}
		switch st {
		case wantValue:
			if i >= n {
				if !t.started {
					return errEmptyLine
				}
				return t.truncated(n)
			}
			c := p[i]
			t.started = true
			if top != nil {
				top.vstart = int64(i)
			}
			switch {
			case c == '"':
				j, ok := shortString(p, i+1)
				if !ok {
					var err error
					if j, err = t.skipString(p, j); err != nil {
						return err
					}
				}
				if t.strLimit > 0 && int64(j+1-i) > t.strLimit && len(t.stack) >= 2 && t.rootRec {
					t.addBig(int64(i), int64(j+1))
				}
				if top == nil {
					t.scalar(int64(i), int64(j+1), kString)
				} else if k := len(t.vals); top.rec && top.kind == kObject && k < cap(t.vals) && k < maxVals {
					// member(), inline: a call costs parseLine its
					// registers, and most members are strings.
					t.vals = t.vals[:k+1]
					v := &t.vals[k]
					v.parent, v.kind, v.role, v.key, v.start, v.end = top.idx, kString, roleNone, top.key, int64(i), int64(j+1)
					t.at[top.slot] = int32(k)
				} else if top.rec {
					t.member(top, kString, int64(i), int64(j+1))
				}
				i = j + 1
				st = wantAfter
			case c == '{' || c == '[':
				if top != nil && top.rec && c == '{' && (t.opaque>>top.krole&1 != 0 || t.singerRecord(top)) && !t.full && !t.noSkip {
					// A member recorded whole whose members matter only
					// to the full pass (Singer's record, Airbyte's
					// record.data): its extent, validated in one loop.
					idx := t.member(top, c, int64(i), -1)
					j, ok := t.skipValue(p, i, maxDepth-len(t.stack))
					if !ok {
						return t.parseAgain(p)
					}
					if idx >= 0 {
						t.vals[idx].role = top.krole
						t.vals[idx].end = int64(j)
					}
					i = j
					st = wantAfter
					continue
				}
				if top != nil && !top.rec && !t.full && !t.noSkip {
					// Nothing inside a value that is not recorded is
					// recorded (its oversized strings matter only to
					// the full pass): validate it in one tight loop.
					// On any error, parse again the general way, which
					// gives the error and offset the resumable feed gives.
					j, ok := t.skipValue(p, i, maxDepth-len(t.stack))
					if !ok {
						return t.parseAgain(p)
					}
					i = j
					st = wantAfter
					continue
				}
				if err := t.openContainer(c, int64(i)); err != nil {
					return err
				}
				top = &t.stack[len(t.stack)-1]
				i++
				for i < n && p[i] <= ' ' && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n') {
					i++
				}
				if i < n && (c == '{' && p[i] == '}' || c == '[' && p[i] == ']') {
					t.closeContainer(int64(i))
					top = t.topFrame()
					i++
					st = wantAfter
				} else if c == '{' {
					if i < n && p[i] != '"' {
						return t.errAt(int64(i), "expected object key, got %q", p[i])
					}
					st = wantKey
				}
			case c == 't' || c == 'f' || c == 'n':
				lit := "null"
				if c == 't' {
					lit = "true"
				} else if c == 'f' {
					lit = "false"
				}
				for k := 1; k < len(lit); k++ {
					if i+k >= n {
						return t.truncated(n)
					}
					if p[i+k] != lit[k] {
						return t.errAt(int64(i+k), "invalid literal")
					}
				}
				if top == nil {
					t.scalar(int64(i), int64(i+len(lit)), c)
				} else if top.rec {
					t.member(top, c, int64(i), int64(i+len(lit)))
				}
				i += len(lit)
				st = wantAfter
			case c == '-' || '0' <= c && c <= '9':
				j, err := t.skipNumber(p, i)
				if err != nil {
					return err
				}
				if t.strLimit > 0 && int64(j-i) > t.strLimit && len(t.stack) >= 2 && t.rootRec {
					t.addBig(int64(i), int64(j))
				}
				if top == nil {
					t.scalar(int64(i), int64(j), kNumber)
				} else if top.rec {
					t.member(top, kNumber, int64(i), int64(j))
				}
				i = j
				st = wantAfter
			default:
				return t.errAt(int64(i), "unexpected %q where a value must start", c)
			}
		case wantKey:
			if i >= n {
				return t.truncated(n)
			}
			if p[i] != '"' {
				return t.errAt(int64(i), "expected object key, got %q", p[i])
			}
			j, ok := shortString(p, i+1)
			if !ok {
				var err error
				if j, err = t.skipString(p, j); err != nil {
					return err
				}
			}
			switch key := p[i+1 : j]; {
			case top.role == roleNone:
				top.key = span{int64(i + 1), int64(j)}
			case top.role == roleRoot && (ok || len(key) < minEscName || bytes.IndexByte(key, '\\') < 0):
				// setKey for a root key without escapes, inline: every
				// line has a few.
				top.key = span{int64(i + 1), int64(j)}
				r := readIndex(roleRoot, key)
				if r >= 0 {
					t.seeMember(roleRoot, r, false)
				}
				ki := &keyInfos[roleRoot][r+1]
				top.rec, top.krole, top.slot = true, ki.role, ki.slot
				t.rootRec = ki.role == roleRecord
			default:
				t.setKey(int64(i), int64(j))
			}
			i = j + 1
			for i < n && p[i] <= ' ' && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n') {
				i++
			}
			if i >= n {
				return t.truncated(n)
			}
			if p[i] != ':' {
				return t.errAt(int64(i), "expected ':', got %q", p[i])
			}
			i++
			st = wantValue
		case wantAfter:
			k := len(t.stack)
			if k == 0 {
				if i < n {
					return t.errAt(int64(i), "data after the top-level value: %q", p[i])
				}
				t.state = sDone
				return nil
			}
			if i >= n {
				return t.truncated(n)
			}
			f := top
			switch c := p[i]; {
			case c == ',' && f.kind == kObject:
				st = wantKey
			case c == ',':
				f.n++
				st = wantValue
			case c == '}' && f.kind == kObject, c == ']' && f.kind == kArray:
				t.closeContainer(int64(i))
				top = t.topFrame()
			default:
				return t.errAt(int64(i), "expected ',' or close, got %q", c)
			}
			i++
		}
	}
}

// singerRecord says whether the member top opens is Auto's Singer payload:
// the root's "record" after a "stream" string (see autoSinger).
func (t *tokenizer) singerRecord(top *frame) bool {
	if !t.autoSinger || top.krole != roleRecord || len(t.stack) != 1 {
		return false
	}
	k := t.at[slotRoot+1] // readMembers[roleRoot][1], "stream"
	return k >= 0 && t.vals[k].kind == kString
}

// parseAgain parses the line from its start without skipValue.
func (t *tokenizer) parseAgain(p []byte) error {
	t.reset(t.src)
	t.noSkip = true
	err := t.parseLine(p)
	t.noSkip = false
	return err
}

// skipValue validates the object or array at p[i], which nests at most
// room deep, and returns the index after it; false on anything that is not
// valid JSON (the caller parses again for the error). With SIMD it checks
// blocks of bytes (skipmask.go), else a token at a time (skipbytes.go).
func (t *tokenizer) skipValue(p []byte, i, room int) (int, bool) {
	if useSIMD {
		return t.skipMasked(p, i, room)
	}
	return t.skipBytes(p, i, room)
}

func (t *tokenizer) topFrame() *frame {
	if n := len(t.stack); n > 0 {
		return &t.stack[n-1]
	}
	return nil
}

func (t *tokenizer) truncated(end int) error {
	return t.errAt(int64(end), "unexpected end of line inside a value (truncated JSON)")
}

// skipNumber returns the end of the number starting at p[i].
func (t *tokenizer) skipNumber(p []byte, i int) (int, error) {
	n := len(p)
	digit := func(j int) bool { return j < n && '0' <= p[j] && p[j] <= '9' }
	j := i
	if p[j] == '-' {
		j++
		if j >= n {
			return 0, t.truncated(n)
		}
		if !digit(j) {
			return 0, t.errAt(int64(j), "invalid number")
		}
	}
	if p[j] == '0' {
		j++
		if digit(j) {
			return 0, t.errAt(int64(j), "leading zero in number")
		}
	} else {
		for digit(j) {
			j++
		}
	}
	if j < n && p[j] == '.' {
		j++
		if j >= n {
			return 0, t.truncated(n)
		}
		if !digit(j) {
			return 0, t.errAt(int64(j), "invalid number")
		}
		for digit(j) {
			j++
		}
	}
	if j < n && (p[j] == 'e' || p[j] == 'E') {
		j++
		if j < n && (p[j] == '+' || p[j] == '-') {
			j++
		}
		if j >= n {
			return 0, t.truncated(n)
		}
		if !digit(j) {
			return 0, t.errAt(int64(j), "invalid number exponent")
		}
		for digit(j) {
			j++
		}
	}
	return j, nil
}
