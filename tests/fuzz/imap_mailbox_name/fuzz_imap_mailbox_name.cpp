// Fuzzes the mailbox-name codecs, quoting and sequence-set compression:
//  - strict modified UTF-7: whatever decodes re-encodes to the same bytes
//    (one name, one spelling);
//  - valid UTF-8 without control characters encodes and decodes back;
//  - quote_or_literal output unquotes to the input;
//  - compress_sequence_set output parses and resolves to the input numbers.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "protocols/imap/parser/mailbox_name.h"
#include "protocols/imap/parser/response.h"
#include "protocols/imap/parser/sequence_set.h"

namespace {

[[noreturn]] void property_failed(const char* what) {
  std::fprintf(stderr, "property failed: %s\n", what);
  std::abort();
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  auto decoded = imap::decode_modified_utf7(input);
  if (decoded) {
    if (!imap::is_valid_utf8(*decoded)) property_failed("decoder produced invalid UTF-8");
    auto again = imap::encode_modified_utf7(*decoded);
    if (!again || *again != input) property_failed("decode then encode is not the identity");
  }
  if (imap::is_valid_utf8(input)) {
    auto encoded = imap::encode_modified_utf7(input);
    if (!encoded) property_failed("valid UTF-8 did not encode");
    if (!has_control(input)) {
      auto back = imap::decode_modified_utf7(*encoded);
      if (!back || *back != input) property_failed("encode then decode is not the identity");
    }
  } else if (imap::encode_modified_utf7(input)) {
    property_failed("invalid UTF-8 encoded");
  }
  (void)imap::decode_mailbox_name(input, imap::mailbox_encoding::utf8);
  (void)imap::decode_mailbox_name(input, imap::mailbox_encoding::modified_utf7);

  std::string quoted = imap::quote_or_literal(input);
  if (quoted.front() == '"') {
    std::string unquoted;
    for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
      if (quoted[i] == '\\') ++i;
      unquoted.push_back(quoted[i]);
    }
    if (unquoted != input) property_failed("quoted string does not unquote to the input");
  } else {
    std::size_t header = quoted.find("}\r\n");
    if (header == std::string::npos || quoted.substr(header + 3) != input) property_failed("bad literal");
  }

  std::vector<std::uint32_t> numbers;
  for (std::size_t i = 0; i + 4 <= size && numbers.size() < 512; i += 4) {
    std::uint32_t n;
    std::memcpy(&n, data + i, 4);
    n %= 4096;  // dense enough to form ranges
    if (n != 0) numbers.push_back(n);
  }
  std::string text = imap::compress_sequence_set(numbers);
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  if (!numbers.empty()) {
    std::uint32_t budget = 100000;
    auto set = imap::parse_sequence_set(text, budget);
    if (!set) property_failed("compressed set does not parse");
    auto ranges = imap::resolve(*set, 4096);
    std::vector<std::uint32_t> expanded;
    for (auto r : ranges) {
      for (std::uint32_t n = r.first; n <= r.last; ++n) expanded.push_back(n);
    }
    if (expanded != numbers) property_failed("compressed set does not resolve to the input");
    if (set->ranges.size() != ranges.size()) property_failed("compressed set is not minimal");
  } else if (!text.empty()) {
    property_failed("empty input gave a non-empty set");
  }
  return 0;
}
