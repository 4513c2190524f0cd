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
// One concern per file: tokenize.go is a resumable JSON state machine
// (validation and the extents of the values a policy may need: the
// message's members, the members of "record", "record.data" and the "meta"
// objects, and every string or number under "record" larger than the field
// limit, with its path) and its in-memory fast path; both take the members
// they track from one table (memberKeys) and strings from one scanner
// (scanstr.go); the fast path validates the values it records nothing in
// with skipValue (skipmask.go on AVX2). members.go notes the read members a
// line repeats or escapes, and the tokenizer notes where each read member's
// value is as it records it (tokenizer.at), so that classify.go does not
// look for them again; envelope.go lets parseLine start after the message
// start most writers print alike (`{"type":"RECORD","stream":`). classify.go decides
// what a line is (message type, protocol, stream) and handles the messages
// that are not records; streams.go is the bounded stream table; policy.go
// applies the size limits to a record and plans the edits; truncate.go
// measures strings (decoded size) and cuts them; lineage.go writes the
// change entries; forward.go writes a line byte-exact or spliced;
// rejects.go, flags.go and warn.go are the three reports, each bounded;
// output.go is the buffered output and OutputError; scanner.go reads lines,
// holds or spools them; parallel.go splits tokenizing over two goroutines.
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
// (a 1 GiB field limit needs no 1 GiB buffer).
//
// # Bounds, whatever the input
//
// Every structure that input could grow has a bound, so that the runner's
// memory, disk and time follow the bytes read, never their shape:
//   - a line: Config.MaxLineSize (default 2 GiB) is the most the spool
//     holds; a longer line is read to its end but not kept, and rejected as a
//     bad line (flags entry with line, offset and full size; its first
//     MaxLineSize bytes in rejects if they fit), Stats.LongLines;
//   - nesting depth 10,000 (deeper is a bad line); at most 65,536 recorded
//     members and 4,096 oversized values per line: a record beyond that which
//     breaks a limit is dropped and flagged ("too_complex");
//   - field paths: 256 bytes of each key and about 1 KiB in all (then "…"),
//     cut on escape and UTF-8 boundaries, so deep nesting of long keys costs
//     no more than a short path;
//   - STATE values: copied into memory for OnState, so at most
//     Config.MaxStateSize (default 16 MiB); a larger STATE is a bad line (not
//     forwarded, not checkpointed: a rerun resumes from the state before it);
//   - streams: at most Config.MaxStreams (default 10,000) and 8 MiB of names
//     and key properties; names and namespaces of at most 4,096 bytes as
//     written; a message beyond is a bad line;
//   - reports: Config.MaxFlags flags entries (10,000), Config.MaxRejectFiles
//     rejects files (10,000) and Config.MaxRejectBytes (1 GiB),
//     Config.MaxWarnings line warnings (20, then one summary line); what is
//     left out is counted in Stats (FlagsSkipped, RejectsSkipped,
//     WarningsSkipped), never formatted;
//   - time: key properties are hashed once per SCHEMA, reject names are
//     numbered per name (no retries over duplicates), each value is measured
//     at most twice; BenchmarkHostile shows time per byte at two scales.
//
// Raw protocol is io.Copy(dst, src) (splice between *os.File); Stats then
// only gets totals at the end.
//
// # Throughput
//
// Unchanged lines are not copied: the output writes runs of them straight
// from the read buffer. String bodies are skipped in bulk by one scanner
// both grammars share (scanstr.go): AVX2 or AVX-512 when the CPU has them
// and the build has GOEXPERIMENT=simd (the Makefile sets it), SWAR eight
// bytes at a time otherwise. The values parseLine records nothing in (the
// payload: Singer's record under Protocol Singer, or under Auto after a
// root "stream" string; Airbyte's record.data;
// nested values of the envelope) are validated whole by skipValue: on AVX2,
// a block at a time (skipmask.go: byte classes by hand-written AVX2 in
// skipmask_amd64.s, the grammar checked on bitmasks, simdjson's stage 1
// without a stage 2), else a token at a time (skipbytes.go: the states as
// labels, strings eight bytes at a time); on any error the
// line is parsed again byte by byte for the message and offset. Tokenizing
// is the cost, so it is split: a helper
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
// final line without newline gets one (and a warning). Every write is
// checked: the first failure of dst, the flags writer or the rejects dir
// ends Run with an *OutputError naming that output, and nothing more is
// written to it (a later write that succeeded would leave a hole).
//
// # Lines
//
// Empty (whitespace-only) lines are skipped and counted in EmptyLines; they
// are not forwarded. A line that is not JSON, not an object, or (Singer or
// Airbyte mode) not a known message with its required fields is a bad line:
// warned with its line number, byte offset and first 200 bytes (quoted),
// counted in InvalidLines, flagged with its offset, written whole to
// RejectsDir as invalid.line<N>.json, and never forwarded. Strict makes the
// first one a *PolicyError. A message that repeats a member syncbox reads,
// or spells one with escapes, is a bad line too ("duplicate member
// \"record\"", "member \"type\" written with escapes"): the policy checks
// one copy, and a consumer that keeps the first, or decodes the key, would
// get another (or not see the lineage). The members are type, stream,
// record, value, state, meta, key_properties and trace at the root; for a
// Singer RECORD meta.changes; for an Airbyte RECORD record.stream,
// namespace, data, meta and record.meta.changes (members.go). Any other
// member may repeat (a Singer payload's repeated fields are each checked). In
// Auto mode, any valid JSON object whose type
// is unknown passes through. Singer BATCH messages are counted (Batches);
// Airbyte DESTINATION_CATALOG is known; the first Airbyte TRACE of type
// ERROR is kept in Stats.TraceError (message and failure_type).
//
// # Streams
//
// A stream is (namespace, name), both decoded: Airbyte's record.namespace,
// if a string, and the name; Singer streams have no namespace. "s" and
// "\u0073" are one stream: the same key properties (SCHEMA or
// Config.Keys), record numbers and counts, whichever spelling each message
// uses. Stats.ByStream, Config.Keys and the flags say "namespace.name"
// where a namespace is set (flags: the "stream" and "namespace" members raw,
// as that line spells them; the record number counts the decoded stream).
// Names shown in Stats and warnings
// are decoded and made safe for a terminal: control, C1, bidi and other
// invisible format characters and invalid UTF-8 are written as \uXXXX /
// \xNN (a name from the input never reaches a terminal as it is).
//
// # Size policy
//
// MaxFieldSize applies to each top-level field of the payload (Singer
// "record", Airbyte "record.data") and to every string and number under
// it. A string's size is its decoded UTF-8 byte length, as destinations
// count it (Redshift VARCHAR, Snowflake, Postgres: bytes of UTF-8; "\u039a"
// is 2 bytes, not 6); any other value's size is its serialized length. The
// flags entry says which ("measure": "utf8" or "json"). MaxRecordSize
// applies to the serialized payload. For an oversized object or array field
// under null/truncate, the oversized strings and numbers inside are acted
// on if that is enough to make the field fit, else the whole field is
// nulled. truncate cuts a string on a UTF-8, escape and surrogate-pair
// boundary so that its decoded value is at most the limit (at most one
// character short of it); other values are nulled.
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
