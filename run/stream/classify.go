package stream

// This file classifies a tokenized line: is it JSON, an object, a known
// message of the protocol (with its required members), and which stream it
// belongs to. RECORDs go on to the size policy (policy.go); the other
// messages are handled here (SCHEMA key properties, STATE, TRACE errors,
// counts) and forwarded byte-exact.

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// message holds the indices (in tok.vals) of the members a message may
// have, -1 for none: the tokenizer's slots (tokenizer.at, keyInfos), in
// readMembers order; slot 0 takes the other members'.
type message [numSlots]int32

func (m *message) typ() int32      { return m[slotRoot] }
func (m *message) stream() int32   { return m[slotRoot+1] }
func (m *message) record() int32   { return m[slotRoot+2] }
func (m *message) value() int32    { return m[slotRoot+3] }
func (m *message) state() int32    { return m[slotRoot+4] }
func (m *message) meta() int32     { return m[slotRoot+5] }
func (m *message) keyProps() int32 { return m[slotRoot+6] }
func (m *message) trace() int32    { return m[slotRoot+7] }
func (m *message) rStream() int32  { return m[slotRecord] } // members of record
func (m *message) rNS() int32      { return m[slotRecord+1] }
func (m *message) rData() int32    { return m[slotRecord+2] }
func (m *message) rMeta() int32    { return m[slotRecord+3] }

// payload is a RECORD resolved for the policy, whichever its protocol.
type payload struct {
	obj    int32 // the payload object: Singer record, Airbyte record.data
	host   int32 // the object that holds the lineage "meta": Singer the message, Airbyte record
	meta   int32 // host's "meta" member, -1 if none
	prefix int   // path components above the payload ("record", "record.data")
}

func (m *message) payload(airbyte bool) payload {
	if airbyte {
		return payload{obj: m.rData(), host: m.record(), meta: m.rMeta(), prefix: 2}
	}
	return payload{obj: m.record(), host: 0, meta: m.meta(), prefix: 1}
}

// keyName returns the raw key of v if it is short, else nil.
func keyName(ld lineData, v *val) []byte {
	if v.key.start < 0 || v.key.end-v.key.start > 32 {
		return nil
	}
	return ld.slice(v.key.start, v.key.end)
}

// handleLine classifies and forwards one complete line; nl says whether it
// ended with a newline (only the last line of the input may not).
func (s *Scanner) handleLine(ld lineData, tokErr error, nl bool) error {
	s.lineNo++
	s.ld, s.nl = ld, nl
	if tokErr == errEmptyLine {
		s.mu.Lock()
		s.st.Lines, s.st.EmptyLines = s.lineNo, s.st.EmptyLines+1
		s.st.InputBytes = s.lineOff + ld.size()
		s.mu.Unlock()
		return nil
	}
	if tokErr != nil {
		return s.badLine(tokErr.Error())
	}
	vals := s.tok.vals
	if vals[0].kind != kObject {
		return s.badLine("not a JSON object")
	}
	if f := s.tok.faults[roleRoot]; f.name != "" {
		return s.badLine(f.reason(roleRoot))
	}
	m := s.members()
	var typ []byte
	if m.typ() >= 0 && vals[m.typ()].kind == kString && vals[m.typ()].end-vals[m.typ()].start <= 40 {
		v := &vals[m.typ()]
		if ml, ok := ld.(*memLine); ok {
			typ = ml.b[v.start+1 : v.end-1] // most lines: no interface call
		} else {
			typ = ld.slice(v.start+1, v.end-1)
		}
	}
	return s.dispatch(m, typ)
}

// members are the message members the policy uses: the last recorded
// value of each read member of the root and of "record", which the
// tokenizer noted in its slots as it recorded them. Not a copy: the
// next tokenizing changes them.
func (s *Scanner) members() *message { return &s.tok.at }

func (s *Scanner) isKind(i int32, k byte) bool { return i >= 0 && s.tok.vals[i].kind == k }

// dispatch handles a message by type and protocol.
func (s *Scanner) dispatch(m *message, typ []byte) error {
	proto := s.cfg.Protocol
	if string(typ) == "RECORD" {
		// Most lines are RECORDs: tested before the switch searches.
		return s.dispatchRecord(m, proto)
	}
	switch string(typ) {
	case "STATE":
		switch {
		case proto != Airbyte && m.value() >= 0:
			return s.stateLine(m.value())
		case proto != Singer && m.state() >= 0:
			return s.stateLine(m.state())
		}
		return s.badLine("STATE message without its value")
	case "SCHEMA":
		if proto == Airbyte {
			break
		}
		if !s.isKind(m.stream(), kString) {
			return s.badLine("SCHEMA message without stream")
		}
		return s.schemaLine(m)
	case "BATCH":
		if proto == Airbyte {
			break
		}
		s.mu.Lock()
		s.st.Batches++
		s.mu.Unlock()
		return s.forward(nil, nil)
	case "ACTIVATE_VERSION":
		if proto == Airbyte {
			break
		}
		return s.forward(nil, nil)
	case "TRACE":
		if proto == Singer {
			break
		}
		if s.isKind(m.trace(), kObject) {
			s.traceLine(m.trace())
		}
		return s.forward(nil, nil)
	case "LOG", "SPEC", "CATALOG", "CONNECTION_STATUS", "CONTROL", "DESTINATION_CATALOG":
		if proto == Singer {
			break
		}
		return s.forward(nil, nil)
	}
	if proto == Auto {
		return s.forward(nil, nil)
	}
	return s.badLine(fmt.Sprintf("not a known %s message (type %.40q)", proto, typ))
}

// dispatchRecord handles a RECORD message.
func (s *Scanner) dispatchRecord(m *message, proto Protocol) error {
	singer := s.isKind(m.stream(), kString) && s.isKind(m.record(), kObject)
	airbyte := s.isKind(m.record(), kObject) && s.isKind(m.rData(), kObject) && s.isKind(m.rStream(), kString)
	switch {
	case proto != Airbyte && singer:
		if f := s.tok.faults[roleMeta]; f.name != "" {
			return s.badLine(f.reason(roleMeta))
		}
		return s.recordLine(m, false)
	case proto != Singer && airbyte:
		for _, role := range [...]byte{roleRecord, roleRecMeta} {
			if f := s.tok.faults[role]; f.name != "" {
				return s.badLine(f.reason(role))
			}
		}
		return s.recordLine(m, true)
	}
	return s.badLine(fmt.Sprintf("RECORD message without the %s fields", s.shapeName()))
}

func (s *Scanner) shapeName() string {
	switch s.cfg.Protocol {
	case Singer:
		return "Singer (stream, record object)"
	case Airbyte:
		return "Airbyte (record.stream, record.data object)"
	}
	return "Singer or Airbyte"
}

// maxSmallMember bounds the members read whole into memory (key_properties,
// a TRACE): larger ones are not read.
const maxSmallMember = 1 << 20

func (s *Scanner) schemaLine(m *message) error {
	v := &s.tok.vals[m.stream()]
	si, err := s.stream(v, nil)
	if err != nil {
		return s.badLine(err.Error())
	}
	if m.keyProps() < 0 {
		return s.forward(nil, nil)
	}
	kp := &s.tok.vals[m.keyProps()]
	var keys []string
	if kp.end-kp.start > maxSmallMember || json.Unmarshal(s.ld.slice(kp.start, kp.end), &keys) != nil {
		s.warnLine("line %d: SCHEMA for stream %s: key_properties is not a list of strings (of at most %d bytes)",
			s.lineNo, si.display, maxSmallMember)
		return s.forward(nil, nil)
	}
	if err := s.setKeys(si, keys); err != nil {
		return s.badLine(err.Error())
	}
	return s.forward(nil, nil)
}

// stateLine checkpoints a STATE value (Singer: value; Airbyte: the
// AirbyteStateMessage) and forwards the line after OnState returned.
func (s *Scanner) stateLine(idx int32) error {
	v := &s.tok.vals[idx]
	if size := v.end - v.start; size > s.maxState {
		return s.badLine(fmt.Sprintf("STATE value of %d bytes is larger than the state limit (%d bytes)", size, s.maxState))
	}
	value := readCopy(s.ld, v.start, v.end)
	if err := s.out.flush(); err != nil {
		return err
	}
	if s.cfg.OnState != nil {
		if err := s.cfg.OnState(value); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.st.LastState = value
	s.st.States++
	s.st.RecordsSinceState, s.st.BytesSinceState = 0, 0
	s.mu.Unlock()
	return s.forward(nil, nil)
}

// maxTraceMessage bounds a TRACE error's message kept in Stats (made
// safe to print: it goes to the report and the summary line).
const maxTraceMessage = 4096

// traceLine keeps the first Airbyte TRACE of type ERROR in the stats.
func (s *Scanner) traceLine(idx int32) {
	v := &s.tok.vals[idx]
	var tr struct {
		Type  string
		Error struct {
			Message     string
			FailureType string `json:"failure_type"`
		}
	}
	if v.end-v.start > maxSmallMember {
		// Too large to read: its type is unknown, an error is likely.
		tr.Type, tr.Error.Message = "ERROR", fmt.Sprintf("(a TRACE message of %d bytes, not read)", v.end-v.start)
	} else if json.Unmarshal(s.ld.slice(v.start, v.end), &tr) != nil {
		return
	}
	if tr.Type != "ERROR" {
		return
	}
	msg := safeTextN(tr.Error.Message, maxTraceMessage)
	s.mu.Lock()
	s.st.TraceErrors++
	if s.st.TraceError == nil {
		s.st.TraceError = &TraceError{Message: msg, FailureType: tr.Error.FailureType}
	}
	s.mu.Unlock()
}

// badLine reports the current line, which is not forwarded: a warning
// (bounded), a flags entry, the line in the rejects dir, the counts.
func (s *Scanner) badLine(reason string) error {
	ld := s.ld
	size := ld.size() + s.longBy
	head := ld.slice(0, min(ld.size(), 200))
	if s.warnRoom() {
		s.warnf("line %d (input offset %d): %s; first bytes: %q", s.lineNo, s.lineOff, reason, head)
	}
	s.mu.Lock()
	s.st.InvalidLines++
	s.st.Lines = s.lineNo
	s.st.InputBytes = s.lineOff + size
	s.mu.Unlock()
	file := ""
	if s.rej != nil {
		// A long line's rejects file holds the bytes that were kept.
		var err error
		if file, err = s.writeReject("invalid.line"+strconv.FormatInt(s.lineNo, 10), ld, 0, ld.size()); err != nil {
			return err
		}
	}
	if err := s.flagBadLine(size, reason, file); err != nil {
		return err
	}
	if s.cfg.Strict {
		return &PolicyError{Line: s.lineNo, Offset: s.lineOff, Size: size, Reason: "bad line: " + reason}
	}
	return nil
}
