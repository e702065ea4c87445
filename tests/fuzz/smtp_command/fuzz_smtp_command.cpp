// Fuzz target for smtp::parse_command. Properties (any violation traps):
//  1. Never crashes, never reads outside the line (ASan).
//  2. A refusal carries a well-formed reply: code 5xx, enhanced code of the
//     same class, non-empty text.
//  3. Round trip: if a line parses, format_command(parsed) parses again,
//     under the same options, to the same command (a source route is not
//     written back, so its hazard bit is the one allowed difference), and
//     the formatted line is never longer than the input.
// The first input byte picks the options, so extensions on and off are
// both explored.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/smtp/parser/command.h"

#define CHECK(cond)         \
  do {                      \
    if (!(cond)) {          \
      __builtin_trap();     \
    }                       \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  smtp::command_options options;
  options.size = flags & 1;
  options.eight_bit_mime = flags & 2;
  options.binary_mime = flags & 4;
  options.smtputf8 = flags & 8;
  options.dsn = flags & 16;
  options.auth = flags & 32;
  options.transaction_smtputf8 = flags & 64;
  if (flags & 128) {
    options.line_size_max = 64;
    options.auth_line_size_max = 128;
    options.chunk_size_max = 1000;
    options.limits.local_part_size_max = 16;
  }
  const std::string_view line(reinterpret_cast<const char*>(data + 1), size - 1);

  auto parsed = smtp::parse_command(line, options);
  if (!parsed) {
    const smtp::reply& r = parsed.error().response;
    CHECK(r.code >= 500 && r.code <= 559);
    CHECK(r.enhanced.size() >= 5 && r.enhanced[0] == '5' && r.enhanced[1] == '.');
    CHECK(!r.text.empty());
    return 0;
  }
  const std::string formatted = smtp::format_command(*parsed);
  CHECK(formatted.size() <= line.size() + 1);  // "+1": "NOOP" may gain nothing, "HELO x" canonical
  auto again = smtp::parse_command(formatted, options);
  CHECK(again.has_value());
  smtp::command expected = *parsed;
  expected.address.hazards = static_cast<smtp::relay_hazard>(static_cast<unsigned>(expected.address.hazards) &
                                                             ~static_cast<unsigned>(smtp::relay_hazard::source_route));
  CHECK(*again == expected);
  CHECK(smtp::format_command(*again) == formatted);
  return 0;
}
