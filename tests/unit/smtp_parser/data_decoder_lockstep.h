#pragma once
// Test support for smtp::data_decoder (the unit diff test, the fuzz target,
// the bench): the decoder and the byte-at-a-time reference it replaced fed
// in lockstep, and a message file put in its DATA wire form.
#include <algorithm>
#include <string>
#include <vector>

#include "protocols/smtp/parser/data_decoder.h"
#include "tests/unit/smtp_parser/data_decoder_reference.h"

namespace smtp::testing_reference {

// Feeds `input` cut at `cuts` to both decoders in lockstep. Returns "" when
// they agree, else what differed first.
inline std::string compare_with_reference(const std::string& input, const std::vector<std::size_t>& cuts,
                                          const data_limits& limits) {
  data_decoder decoder(limits);
  reference_data_decoder reference(limits);
  std::size_t begin = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  bool ended = false;
  std::size_t feeds = 0;
  for (const std::size_t end : ends) {
    std::string a = input.substr(begin, end - begin);
    std::string b = a;
    const std::string original = a;
    std::size_t offset = 0;
    while (offset < a.size() && !ended) {
      std::span<std::byte> ra = std::as_writable_bytes(std::span(a.data() + offset, a.size() - offset));
      std::span<std::byte> rb = std::as_writable_bytes(std::span(b.data() + offset, b.size() - offset));
      const data_step sa = decoder.feed(ra);
      const data_step sb = reference.feed(rb);
      ++feeds;
      const std::string where = "feed " + std::to_string(feeds) + " at input offset " + std::to_string(begin + offset) + ": ";
      if (sa.consumed != sb.consumed) return where + "consumed differs";
      if (sa.content_size != sb.content_size) return where + "content_size differs";
      if (sa.end_of_data != sb.end_of_data) return where + "end_of_data differs";
      if (!std::ranges::equal(sa.prefix, sb.prefix)) return where + "prefix differs";
      if (a.compare(offset, sa.content_size, b, offset, sb.content_size) != 0) return where + "content differs";
      const std::size_t after = offset + sa.consumed;
      if (a.compare(after, std::string::npos, original, after) != 0) return where + "bytes after consumed changed";
      if (sa.consumed == 0 && !sa.end_of_data) return where + "no progress";
      ended = sa.end_of_data;
      offset += sa.consumed;
    }
    if (ended) break;
    begin = end;
  }
  const data_step fa = decoder.feed({});
  const data_step fb = reference.feed({});
  if (!std::ranges::equal(fa.prefix, fb.prefix) || fa.end_of_data != fb.end_of_data) return "final flush differs";
  if (decoder.done() != reference.done()) return "done differs";
  if (decoder.rejection() != reference.rejection()) return "rejection differs";
  if (decoder.content_size() != reference.content_size()) return "content_size() differs";
  if (decoder.nul_seen() != reference.nul_seen()) return "nul_seen differs";
  if (decoder.eight_bit_seen() != reference.eight_bit_seen()) return "eight_bit_seen differs";
  if (decoder.bare_line_ending_seen() != reference.bare_line_ending_seen()) return "bare differs";
  if (decoder.oversize() != reference.oversize()) return "oversize differs";
  if (decoder.line_too_long() != reference.line_too_long()) return "line_too_long differs";
  return "";
}

// A message file as a client sends it in DATA, without the terminator:
// bare LFs become CRLF, lines starting with '.' are dot-stuffed, and a last
// line without a line end gets one.
inline std::string dot_stuffed(const std::string& raw) {
  std::string wire;
  wire.reserve(raw.size() + raw.size() / 32 + 8);
  bool line_start = true;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (line_start && c == '.') wire += '.';
    if (c == '\n' && (i == 0 || raw[i - 1] != '\r')) wire += '\r';
    wire += c;
    line_start = c == '\n';
  }
  if (!line_start) wire += "\r\n";
  return wire;
}

}  // namespace smtp::testing_reference
