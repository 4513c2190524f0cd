// Package state is a connector's checkpoint as Singer and Airbyte define it:
// what a STATE message does to the state held so far, and the bytes the
// connector reads back (`--state FILE`) and the state file holds.
//
// Singer: the state is the `value` of the last STATE message, replaced
// wholesale.
//
// Airbyte (AirbyteStateMessage, airbyte-protocol v0): the state is the JSON
// array of AirbyteStateMessage objects that sources read with --state (the
// Python CDK's Source.read_state iterates that list; ConnectorStateManager
// reads it as global only when it is exactly one GLOBAL message, and
// otherwise takes its STREAM messages). The rules:
//
//   - STREAM messages are merged per stream descriptor: name and namespace,
//     where an absent and a null namespace are the same and "" is a
//     namespace of its own. The newest message of a stream replaces that
//     stream's entry; other streams keep theirs.
//   - GLOBAL replaces everything: its shared_state and stream_states are the
//     state of all streams (the spec: "it represents the state for all the
//     streams").
//   - LEGACY (type absent, null or "LEGACY"; the `data` member) replaces
//     everything and is kept as the message it came in.
//   - A message of another type than the state holds replaces the state
//     (the source changed how it checkpoints). The platform rejects mixed
//     types within one sync; we keep the newest instead, because an array
//     that mixes types is one the CDK misreads (a GLOBAL next to STREAM
//     messages is ignored), and dropping the older entries only makes the
//     source re-read, never skip, data.
//
// In a pipeline the tap's STATE only means "emitted": a Tracker keeps the
// tap's messages pending until the target prints a STATE (Singer targets
// and Airbyte destinations print one once the records before it are
// committed), and then commits the matching message and every one sent
// before it, with the tap's bytes (Equivalent matches the echo, which a
// destination may have re-serialized).
//
// Each held message is kept as the connector sent it (compacted, numbers
// and unknown members untouched). Bytes orders STREAM messages by
// namespace (absent first) and then name, so the same state always gives
// the same bytes.
//
// Bounds: a state holds at most Limits.Streams stream entries and
// Limits.Bytes bytes of messages (defaults DefaultMaxStreams and
// DefaultMaxBytes); a message that
// would exceed them is refused with ErrTooLarge and the state is left as
// it was. Every Apply and Load either succeeds wholly or changes nothing.
// Input that is not valid UTF-8 is refused (a Python source could not read
// the file), and so is a descriptor with an unpaired UTF-16 surrogate
// escape (decoded, different ones become the same U+FFFD, which would
// merge streams that are not the same).
//
// The package must not do I/O (the caller persists Bytes atomically) and
// must not know about flags, files or the stream scanner. A State is not
// safe for concurrent use; Clone gives an independent copy.
package state
