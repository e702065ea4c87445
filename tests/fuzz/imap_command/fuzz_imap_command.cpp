// Fuzzes the IMAP command reader and parser with two consistency properties:
//  1. Split invariance: feeding the input whole, byte by byte, or cut at
//     pseudo-random points gives the same sequence of events and parses.
//  2. Round trip: every command that parses serialises to a wire form that
//     parses again and serialises to the same text (parse -> serialise ->
//     parse is stable), in both mailbox encodings.
// Small limits make every limit reachable with short inputs.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocols/imap/parser/parser.h"
#include "protocols/imap/parser/serialise.h"

namespace {

imap::parser_limits fuzz_limits() {
  imap::parser_limits limits;
  limits.line_length_max = 512;
  limits.literal_size_max = 2048;
  limits.non_sync_literal_size_max = 256;
  limits.command_size_max = 8192;
  limits.literals_max = 8;
  limits.nesting_depth_max = 16;
  limits.sequence_ranges_max = 64;
  limits.arguments_max = 256;
  limits.continuation_line_length_max = 256;
  return limits;
}

[[noreturn]] void property_failed(const char* what, const std::string& a, const std::string& b) {
  std::fprintf(stderr, "property failed: %s\n--- a ---\n%s\n--- b ---\n%s\n", what, a.c_str(), b.c_str());
  std::abort();
}

void check_round_trip(const imap::command& cmd, imap::mailbox_encoding encoding) {
  std::string first = imap::serialise(cmd, encoding);
  imap::command_reader reader;  // default limits: serialisation may grow quoted text into literals
  imap::parse_options options{encoding};
  auto again = imap::parse_command_text(reader, first, options);
  if (!again) property_failed("serialised command does not parse", first, std::string(to_string(again.error().code)));
  std::string second = imap::serialise(*again, encoding);
  if (first != second) property_failed("serialise(parse(serialise(x))) != serialise(x)", first, second);
}

// Runs the reader over `input` cut at `cuts`, accepting every literal, and
// describes what a session would see.
std::vector<std::string> run(std::string_view input, const std::vector<std::size_t>& cuts, bool round_trip) {
  imap::parser_limits limits = fuzz_limits();
  imap::command_reader reader(limits);
  std::vector<std::string> events;
  std::string pending;
  std::size_t previous = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    std::size_t end = i < cuts.size() ? cuts[i] : input.size();
    pending.append(input.substr(previous, end - previous));
    previous = end;
    std::string_view rest = pending;
    while (true) {
      auto ev = reader.read(rest);
      rest.remove_prefix(ev.consumed_bytes);
      if (ev.status == imap::read_status::need_more) break;
      switch (ev.status) {
        case imap::read_status::need_literal:
          events.push_back("L" + std::to_string(ev.literal.size_bytes) + (ev.literal.non_synchronizing ? "+" : "") +
                           (ev.literal.binary ? "~" : "") + std::string(ev.literal.tag));
          reader.accept_literal();
          break;
        case imap::read_status::error:
          events.push_back("E" + std::string(to_string(ev.error.code)) + ev.error.tag +
                           (ev.error.can_continue ? "" : "!"));
          if (!ev.error.can_continue) return events;
          break;
        case imap::read_status::command: {
          std::string seen = "C";
          for (auto encoding : {imap::mailbox_encoding::modified_utf7, imap::mailbox_encoding::utf8}) {
            auto parsed = imap::parse_command(reader.command(), limits, imap::parse_options{encoding});
            if (parsed) {
              seen += imap::serialise(*parsed, encoding);
              if (round_trip) check_round_trip(*parsed, encoding);
            } else {
              seen += "P" + std::string(to_string(parsed.error().code)) + parsed.error().tag;
            }
            seen += "|";
          }
          events.push_back(std::move(seen));
          break;
        }
        default:
          break;
      }
    }
    pending.assign(rest);
  }
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> whole = run(input, {}, true);

  // Cut points from a cheap PRNG seeded by the input, so runs are replayable.
  std::uint64_t state = 0x9E3779B97F4A7C15ull ^ size;
  for (unsigned char c : input) state = (state ^ c) * 0x100000001B3ull;
  std::vector<std::size_t> cuts;
  for (std::size_t at = 0; at < size;) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    at += 1 + state % 17;
    if (at < size) cuts.push_back(at);
  }
  auto compare = [&](const std::vector<std::string>& split, const char* what) {
    if (split == whole) return;
    std::string a, b;
    for (auto& e : whole) a += e + "\n";
    for (auto& e : split) b += e + "\n";
    property_failed(what, a, b);
  };
  compare(run(input, cuts, false), "random split changed the events");
  if (size <= 1024) {
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < size; ++i) every.push_back(i);
    compare(run(input, every, false), "byte-by-byte feed changed the events");
  }
  return 0;
}
