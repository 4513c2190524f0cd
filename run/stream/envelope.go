package stream

// This file is parseLine's shortcut over the start of a message that most
// writers print byte for byte alike: `{"type":"RECORD","stream":` (Singer),
// `{"type":"RECORD","record":{"stream":` (Airbyte), compact or with
// Python's default spaces. For each, the tokenizer's state after it is
// taken once, at start, from the resumable feed (the general grammar); a
// line that begins with one starts from that state instead of tokenizing
// it token by token. What follows is parsed as usual, so a line that only
// begins like a record is judged as any other.

// envelope is a message start and the tokenizer's state after it.
type envelope struct {
	prefix  string
	record  bool // it opens "record": not where record is skipped whole (opaque)
	stack   []frame
	vals    []val
	seen    [len(readMembers)]uint16
	at      []slotIndex // tokenizer.at's slots that are not noMembers'
	rootRec bool
}

type slotIndex struct{ slot, i int32 }

// envelopePrefixes are the message starts, the most common first.
var envelopePrefixes = [...]string{
	`{"type":"RECORD","stream":`,
	`{"type":"RECORD","record":{"stream":`,
	`{"type": "RECORD", "stream": `,
	`{"type": "RECORD", "record": {"stream": `,
}

var envelopes = func() (es [len(envelopePrefixes)]envelope) {
	for k, p := range envelopePrefixes {
		var t tokenizer
		m := &memLine{b: []byte(p)}
		t.reset(m)
		if err := t.feed(m.b, 0); err != nil || t.state != sValue || t.faults != (memberFaults{}) || len(t.bigs) > 0 {
			panic("stream: envelope " + p + " does not end where a value starts")
		}
		es[k] = envelope{prefix: p, record: t.stack[len(t.stack)-1].role == roleRecord,
			stack: t.stack, vals: t.vals, seen: t.seen, rootRec: t.rootRec}
		for slot, i := range t.at {
			if i != noMembers[slot] {
				es[k].at = append(es[k].at, slotIndex{int32(slot), i})
			}
		}
	}
	return es
}()

// envelopeOf returns the envelope p begins with, if the tokenizer may
// start after it: fresh, and "record" not skipped whole if it opens it.
func (t *tokenizer) envelopeOf(p []byte) *envelope {
	if len(p) < len(envelopePrefixes[0]) || string(p[:8]) != `{"type":` || len(t.vals) > 0 || len(t.stack) > 0 {
		return nil
	}
	for k := range envelopes {
		e := &envelopes[k]
		if len(p) >= len(e.prefix) && string(p[:len(e.prefix)]) == e.prefix &&
			(!e.record || t.full || t.noSkip || t.opaque>>roleRecord&1 == 0) {
			return e
		}
	}
	return nil
}

// startAfter sets the fresh tokenizer's state to e's, as if parseLine had
// tokenized e.prefix, and returns the innermost open container. Copied
// element by element: whole-array copies went through the stack and
// stalled on store forwarding.
func (t *tokenizer) startAfter(e *envelope) *frame {
	if cap(t.stack) < len(e.stack) || cap(t.vals) < len(e.vals) {
		t.stack = append(t.stack[:0], e.stack...)
		t.vals = append(t.vals[:0], e.vals...)
	} else {
		t.stack, t.vals = t.stack[:len(e.stack)], t.vals[:len(e.vals)]
		for k := range e.stack {
			t.stack[k] = e.stack[k]
		}
		for k := range e.vals {
			t.vals[k] = e.vals[k]
		}
	}
	for _, a := range e.at {
		t.at[a.slot] = a.i
	}
	t.seen, t.rootRec, t.started = e.seen, e.rootRec, true
	t.state = sKeyOrEnd // as openContainer leaves it
	return &t.stack[len(t.stack)-1]
}
