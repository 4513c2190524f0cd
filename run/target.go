package run

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"syncbox/run/stream"
)

// maxTargetLine bounds one line of a target's output held in memory: it
// can only confirm a state the tap sent, and the scanner refuses a STATE
// over 16 MiB, so anything longer is passed through unparsed.
const maxTargetLine = 16<<20 + 64<<10

// targetOutput is what a pipeline's target printed.
type targetOutput struct {
	Lines     int64
	States    int64  // STATEs the target printed that stood for one the tap sent
	TraceErr  string // an Airbyte TRACE ERROR's message, with its failure_type
	Oversized int64  // lines too long to parse
}

// readTarget copies a target's stdout to out line by line and confirms
// every STATE it prints. Singer targets print a state once the records
// before it are committed, either bare (the state value as a JSON object,
// as singer-sdk and pipelinewise targets do) or as a STATE message;
// Airbyte destinations print AirbyteMessages, STATE among them. proto is
// the tap's protocol as far as known (Auto: guessed from each line).
// confirm errors stop the copy: the checkpoint must not skip a state.
func readTarget(r io.Reader, out io.Writer, proto func() stream.Protocol, confirm func([]byte) (bool, error)) (targetOutput, error) {
	var to targetOutput
	br := bufio.NewReaderSize(r, 1<<16)
	var line []byte
	skipping := false
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if _, werr := out.Write(chunk); werr != nil {
				return to, werr
			}
		}
		if !skipping {
			if len(line)+len(chunk) > maxTargetLine {
				skipping, line = true, nil
				to.Oversized++
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			to.Lines++
			if msg, trace := targetState(t, proto()); msg != nil {
				matched, cerr := confirm(msg)
				if cerr != nil {
					return to, cerr
				}
				if matched {
					to.States++
				}
			} else if trace != "" && to.TraceErr == "" {
				to.TraceErr = trace
			}
		}
		skipping = false
		if cap(line) > 1<<20 {
			line = nil
		}
		line = line[:0]
		if err == io.EOF {
			return to, nil
		}
		if err != nil {
			return to, fmt.Errorf("read target output: %w", err)
		}
	}
}

// targetState returns the state a target's output line confirms, or an
// Airbyte TRACE ERROR's text.
func targetState(line []byte, proto stream.Protocol) (state []byte, traceErr string) {
	if len(line) == 0 || line[0] != '{' {
		return nil, ""
	}
	var m struct {
		Type  *string         `json:"type"`
		Value json.RawMessage `json:"value"`
		State json.RawMessage `json:"state"`
		Trace *struct {
			Type  string `json:"type"`
			Error *struct {
				Message     string `json:"message"`
				FailureType string `json:"failure_type"`
			} `json:"error"`
		} `json:"trace"`
	}
	if json.Unmarshal(line, &m) != nil {
		return nil, ""
	}
	switch {
	case m.Type == nil:
		// A bare JSON object: Singer targets print the state value so.
		if proto != stream.Airbyte {
			return line, ""
		}
	case *m.Type == "STATE" && len(m.State) > 0 && proto != stream.Singer:
		return m.State, ""
	case *m.Type == "STATE" && len(m.Value) > 0 && proto != stream.Airbyte:
		return m.Value, ""
	case *m.Type == "TRACE" && m.Trace != nil && m.Trace.Type == "ERROR" && m.Trace.Error != nil:
		msg := m.Trace.Error.Message
		if ft := m.Trace.Error.FailureType; ft != "" {
			msg += " (" + ft + ")"
		}
		return nil, msg
	}
	return nil, ""
}
