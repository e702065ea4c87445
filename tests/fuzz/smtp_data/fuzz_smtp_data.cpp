// Fuzz target for smtp::data_decoder. Properties (any violation traps):
//  1. Split invariance: the stream fed in one piece and fed cut at points
//     chosen by the input produce the same content, the same consumed count,
//     the same end-of-data decision and the same verdict.
//  2. Progress and bounds: each feed of a non-empty chunk consumes at least
//     one byte until data ends; content never exceeds what was fed plus the
//     few bytes normalize mode may owe; nothing past the terminator is touched.
//  3. Safety: when data ends, the bytes just consumed end in "\r\n.\r\n"
//     (or the stream began with ".\r\n"); in normalize mode the content holds
//     no bare CR or LF; in reject mode content stops at a rejection.
//  4. Same as before: each feed() returns what the byte-at-a-time decoder
//     it replaced (session 10, tests/unit/smtp_parser/data_decoder_reference.h)
//     returns for the same bytes, with the same state at the end, for the
//     whole stream and for the cuts.
// Input layout: byte 0 picks the mode and limits, byte 1 seeds the cuts, the
// rest is the stream.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "protocols/smtp/parser/data_decoder.h"
#include "tests/unit/smtp_parser/data_decoder_lockstep.h"

#define CHECK(cond)         \
  do {                      \
    if (!(cond)) {          \
      __builtin_trap();     \
    }                       \
  } while (0)

namespace {

struct outcome {
  std::string content;
  std::size_t consumed = 0;
  bool end_of_data = false;
  smtp::data_rejection rejection = smtp::data_rejection::none;
  std::uint64_t content_size = 0;
  bool operator==(const outcome&) const = default;
};

outcome run(const std::string& stream, const std::vector<std::size_t>& cuts, const smtp::data_limits& limits) {
  smtp::data_decoder decoder(limits);
  outcome o;
  std::size_t begin = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(stream.size());
  for (const std::size_t end : ends) {
    std::string chunk = stream.substr(begin, end - begin);
    const std::string original = chunk;
    std::span<std::byte> rest = std::as_writable_bytes(std::span(chunk.data(), chunk.size()));
    std::size_t offset = 0;  // of `rest` inside `chunk`
    while (!rest.empty() && !o.end_of_data) {
      const smtp::data_step step = decoder.feed(rest);
      CHECK(step.consumed <= rest.size());
      CHECK(step.consumed > 0 || step.end_of_data);
      CHECK(step.content_size <= step.consumed);
      CHECK(step.prefix.size() <= 4);
      o.content.append(reinterpret_cast<const char*>(step.prefix.data()), step.prefix.size());
      o.content.append(reinterpret_cast<const char*>(rest.data()), step.content_size);
      o.consumed += step.consumed;
      o.end_of_data = step.end_of_data;
      offset += step.consumed;
      if (step.end_of_data) {
        // The pipelined bytes after the terminator are untouched.
        CHECK(std::memcmp(chunk.data() + offset, original.data() + offset, chunk.size() - offset) == 0);
      }
      rest = rest.subspan(step.consumed);
    }
    if (o.end_of_data) break;
    begin = end;
  }
  const smtp::data_step flush = decoder.feed({});
  o.content.append(reinterpret_cast<const char*>(flush.prefix.data()), flush.prefix.size());
  o.rejection = decoder.rejection();
  o.content_size = decoder.content_size();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  smtp::data_limits limits;
  limits.bare_line_endings =
      (data[0] & 1) ? smtp::bare_line_ending_policy::normalize : smtp::bare_line_ending_policy::reject;
  if (data[0] & 2) limits.line_size_max = 2 + (data[0] >> 4);
  if (data[0] & 4) limits.message_size_max = (data[0] >> 3);
  const std::string stream(reinterpret_cast<const char*>(data + 2), size - 2);

  const outcome whole = run(stream, {}, limits);

  // Cuts from a small generator seeded by byte 1; also byte by byte for short streams.
  std::vector<std::size_t> cuts;
  std::uint32_t state = data[1] * 2654435761u + 1;
  for (std::size_t at = 0;;) {
    state = state * 1103515245u + 12345u;
    at += 1 + (state >> 16) % 7;
    if (at >= stream.size()) break;
    cuts.push_back(at);
  }
  CHECK(run(stream, cuts, limits) == whole);
  CHECK(smtp::testing_reference::compare_with_reference(stream, {}, limits).empty());
  CHECK(smtp::testing_reference::compare_with_reference(stream, cuts, limits).empty());
  if (stream.size() <= 256) {
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < stream.size(); ++i) every.push_back(i);
    CHECK(run(stream, every, limits) == whole);
  }

  if (whole.end_of_data) {
    const std::string framed = "\r\n" + stream.substr(0, whole.consumed);
    CHECK(framed.size() >= 5 && framed.compare(framed.size() - 5, 5, "\r\n.\r\n") == 0);
    // The first CRLF.CRLF is where data ends, never later.
    CHECK(framed.find("\r\n.\r\n") == framed.size() - 5);
  }
  if (limits.bare_line_endings == smtp::bare_line_ending_policy::normalize &&
      whole.rejection == smtp::data_rejection::none) {
    for (std::size_t i = 0; i < whole.content.size(); ++i) {
      if (whole.content[i] == '\r') CHECK(i + 1 < whole.content.size() ? whole.content[i + 1] == '\n' : !whole.end_of_data);
      if (whole.content[i] == '\n') CHECK(i > 0 && whole.content[i - 1] == '\r');
    }
  }
  if (whole.rejection == smtp::data_rejection::none) CHECK(whole.content.size() == whole.content_size);
  CHECK(whole.content.size() <= limits.message_size_max);
  return 0;
}
