// simdjson-peer: simdjson's C++ parser as a peer of syncbox's scanner in
// run/stream's BenchmarkPeers. Not part of syncbox; `make simdjson-peer`
// builds it beside syncbox, only to measure against.
//
// One round per invocation, so that the Go benchmark can take it in turns
// with the in-process peers: `simdjson-peer CORPUS` loads the newline
// delimited corpus (not timed), then times, on one thread, three ways over
// its non-empty lines:
//   dom        dom::parser::parse on each line (a full validating parse),
//   parse-many dom::parser::parse_many over the whole file,
//   stage1     stage 1 alone (structural indexes, UTF-8 and string checks)
//              on each line, through internal::dom_parser_implementation.
// It prints key=value lines (MB/s over the whole file's bytes, as the Go
// benchmark counts every peer) and the counts of lines and documents and of
// the invalid ones: the benchmark fails unless every line validated.
//
// simdjson comes from the npm package @nozbe/simdjson 3.9.4 (an unmodified
// mirror of simdjson's amalgamation, Apache-2.0 like upstream's
// Apache-2.0-or-MIT), pinned by package-lock.json here; upstream is at
// 4.x, whose numbers on this corpus may differ.
#include "simdjson.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

// parse_many must stay on this one thread, as every other peer does.
#ifdef SIMDJSON_THREADS_ENABLED
#error "build without threads (no -pthread, no SIMDJSON_THREADS_ENABLED): parse_many would use a second thread"
#endif

using namespace simdjson;

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CORPUS (newline delimited JSON)\n", argv[0]);
    return 2;
  }
  padded_string buf;
  if (auto err = padded_string::load(argv[1]).get(buf)) {
    fprintf(stderr, "simdjson-peer: load %s: %s\n", argv[1], error_message(err));
    return 1;
  }
  const char *p = buf.data();
  const size_t n = buf.size();
  std::vector<std::pair<size_t, size_t>> lines;
  size_t longest = 0;
  for (size_t i = 0; i < n;) {
    const char *e = static_cast<const char *>(memchr(p + i, '\n', n - i));
    size_t j = e ? size_t(e - p) : n;
    if (j > i) {
      lines.push_back({i, j - i});
      longest = std::max(longest, j - i);
    }
    i = j + 1;
  }
  if (lines.empty()) {
    fprintf(stderr, "simdjson-peer: %s has no lines\n", argv[1]);
    return 1;
  }
  printf("version=%s\nimplementation=%s\nbytes=%zu\nlines=%zu\n", SIMDJSON_VERSION,
         get_active_implementation()->name().c_str(), n, lines.size());

  // Capacity for the longest line up front: no allocation inside the timing.
  // Lines sit inside buf, so a line's SIMDJSON_PADDING bytes past its end are
  // readable (the next line's, or buf's own padding for the last).
  dom::parser parser;
  if (auto err = parser.allocate(longest)) {
    fprintf(stderr, "simdjson-peer: allocate %zu: %s\n", longest, error_message(err));
    return 1;
  }
  double t = now();
  size_t bad = 0;
  for (auto &l : lines) {
    dom::element el;
    if (parser.parse(p + l.first, l.second, false).get(el)) bad++;
  }
  double d = now() - t;
  printf("dom-MB/s=%.1f\ndom-invalid=%zu\n", n / d / 1e6, bad);

  // parse_many's batch must hold the longest document.
  size_t batch = std::max<size_t>(dom::DEFAULT_BATCH_SIZE, longest + 1);
  dom::parser many;
  t = now();
  size_t docs = 0;
  bad = 0;
  dom::document_stream stream;
  if (auto err = many.parse_many(buf, batch).get(stream)) {
    fprintf(stderr, "simdjson-peer: parse_many: %s\n", error_message(err));
    return 1;
  }
  for (auto doc : stream) {
    if (doc.error()) bad++;
    docs++;
  }
  d = now() - t;
  printf("parse-many-MB/s=%.1f\nparse-many-docs=%zu\nparse-many-invalid=%zu\n", n / d / 1e6, docs, bad);

  std::unique_ptr<internal::dom_parser_implementation> impl;
  if (auto err = get_active_implementation()->create_dom_parser_implementation(longest, DEFAULT_MAX_DEPTH, impl)) {
    fprintf(stderr, "simdjson-peer: stage 1 parser: %s\n", error_message(err));
    return 1;
  }
  t = now();
  size_t structurals = 0;
  bad = 0;
  for (auto &l : lines) {
    if (impl->stage1(reinterpret_cast<const uint8_t *>(p + l.first), l.second, stage1_mode::regular)) bad++;
    structurals += impl->n_structural_indexes;
  }
  d = now() - t;
  printf("stage1-MB/s=%.1f\nstage1-invalid=%zu\nstage1-structurals=%zu\n", n / d / 1e6, bad, structurals);
  return 0;
}
