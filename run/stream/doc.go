// Package stream scans a connector's stdout (Singer or Airbyte JSON Lines)
// as a record stream: it validates every line, counts records and bytes per
// stream, remembers the last STATE, and enforces field and record size
// limits, in memory bounded by a constant, whatever the input.
//
// It must not re-serialize: a message that needs no change is forwarded
// byte-exact, and a changed one is spliced (bytes before the value, the
// replacement, bytes after, lineage inserted). It must never forward a line
// that is not valid JSON, and never lose data silently.
//
// # Structure
//
// tokenize.go is a resumable JSON state machine (validation and the extents
// of the values a policy may need: the message's members, the members of
// "record", "record.data" and the "meta" objects, and every string under
// "record" larger than the field limit, with its path). String bodies are
// skipped eight bytes at a time (SWAR search for '"', '\\' and control
// bytes). policy.go decides what a line is and what to do with it.
// scanner.go reads lines, holds or spools them, and writes the output.
//
// # Bounded memory: window and spool
//
// A line is read into a window buffer (Config.Window, default 8 MiB; it
// starts at 1 MiB and doubles as long lines need it).
// A line that ends inside the window is tokenized in place and handled from
// memory. A line that outgrows the window is streamed, chunk by chunk, to an
// unlinked spool file (Config.SpoolDir, default os.TempDir()) while it is
// tokenized; the tokenizer keeps only offsets. When the line ends, the
// policy works from those offsets: small reads (keys, stream name, type)
// come from the file, and forwarding copies ranges of the file to the output
// in 1 MiB pieces, splicing the edits in between; a rejected value is copied
// from the file to its rejects file in the same way. Nothing of the line is
// written to the output before the whole line has been validated, so a bad
// line (including one cut short by a dying connector) is never forwarded,
// and lineage can be inserted where the protocol wants it. The cost of a
// huge line is one extra sequential write and read of it on local disk;
// memory stays at about the window plus a few MiB whatever the limits are
// (a 1 GiB field limit needs no 1 GiB buffer). Other bounds: nesting depth
// 10,000 (deeper is a bad line); at most 65,536 recorded members and 4,096
// oversized strings per line: a record beyond that which breaks a limit is
// dropped and flagged ("too_complex"); STATE values are copied into memory
// (OnState needs them as []byte).
//
// Raw protocol is io.Copy(dst, src) (splice between *os.File); Stats then
// only gets totals at the end.
//
// # Throughput
//
// Unchanged lines are not copied: the output writes runs of them straight
// from the read buffer. Tokenizing is the cost, so it is split: a helper
// goroutine tokenizes the second part of each block of complete lines while
// Run tokenizes the first; Run then applies the policy to both parts in
// input order (parallel.go). The split adapts so that neither goroutine
// waits for the other (Run also has the policy to apply, and either may be
// losing its core to the connector). src is read straight into the window
// buffer (a pipe read is already a copy; a read-ahead goroutine costed one
// more copy and more than it saved), and a pipe's buffer is raised to
// 1 MiB, so that one Read returns as much as the producer is ahead; a Read
// returns as soon as anything is available, so a quiet connector's last
// lines (and STATE) are not held back.
//
// # Output
//
// The scanner owns its output buffering (256 KiB). Before OnState is
// called it writes its buffer out and calls dst.Flush() if dst has a
// Flush() error method; it never calls Sync. The STATE line itself is
// forwarded after OnState returns. Every forwarded line ends with "\n"; a
// final line without newline gets one (and a warning).
//
// # Lines
//
// Empty (whitespace-only) lines are skipped and counted in EmptyLines; they
// are not forwarded. A line that is not JSON, not an object, or (Singer or
// Airbyte mode) not a known message with its required fields is a bad line:
// warned with its line number, byte offset and first 200 bytes (quoted),
// counted in InvalidLines, flagged with its offset, written whole to
// RejectsDir as invalid.line<N>.json, and never forwarded. Strict makes the
// first one a *PolicyError. In Auto mode, any valid JSON object whose type
// is unknown passes through.
//
// # Size policy
//
// MaxFieldSize applies to the serialized size of each top-level field of the
// payload (Singer "record", Airbyte "record.data") and of every string under
// it; MaxRecordSize to the payload. For an oversized object or array field
// under null/truncate, the oversized strings inside are acted on if that is
// enough to make the field fit, else the whole field is nulled. truncate
// cuts a string on a UTF-8, escape and surrogate-pair boundary so that the
// result (quotes included) is at most the limit; other values are nulled.
// Key properties (Singer SCHEMA key_properties, or Config.Keys) are never
// changed: a key larger than the field limit drops the record. When the
// record is still too large, the largest non-key fields are nulled until it
// fits; if it cannot fit it is dropped. Each change gets a lineage entry
// {"field","change","reason"}: Airbyte in record.meta.changes (appended to
// existing entries), Singer in a message-level "meta" object. Field paths of
// nested strings look like a.b[2].c (raw JSON string content, unescaped
// neither in meta nor in flags). Rejects files are named
// <stream>.<record number>.<path>.json (sanitized; dropped records:
// <stream>.<n>.record.json). Record numbers count the valid RECORD messages
// of a stream, from 1.
//
// A record beyond the fast path (payload larger than a limit) is
// tokenized a second time with every member recorded; records within the
// limits are never looked at beyond their envelope.
//
// # JSON conformance (JSONTestSuite)
//
// All y_ documents are accepted and all n_ documents rejected. i_ choices:
// numbers of any size or precision are accepted (they are never parsed);
// strings with invalid UTF-8 or lone/invalid surrogate escapes are accepted
// and passed byte-exact (the destination decides; truncation never cuts
// inside a UTF-8 sequence or a surrogate pair); 500 nested arrays are
// accepted (the depth limit is 10,000); a UTF-8 BOM and UTF-16 documents
// are rejected (a BOM is not JSON whitespace; NUL bytes are not JSON).
package stream
