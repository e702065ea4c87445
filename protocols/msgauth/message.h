#pragma once
// The header section of a message as DKIM sees it: fields with their exact
// bytes (folding kept), in order. Pure; views into the caller's buffer.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace msgauth {

struct header_field {
  std::string_view name;  // as written, before the colon, whitespace trimmed
  std::string_view raw;   // the whole field: "Name: value\r\n", folds included
  // The value after the colon, folds included, without the final CRLF.
  std::string_view value() const;
};

// Splits a header section (everything before the empty line; the empty
// line itself may be included) into fields. Lines that are neither a field
// nor a continuation are skipped (they cannot be signed meaningfully).
// At most fields_max fields; nullopt beyond that.
std::optional<std::vector<header_field>> split_header_fields(std::string_view header, size_t fields_max = 1000);

// Collects the header section of a streamed message, up to a bound, and
// says where the body starts. The whole header is kept (DKIM signs header
// fields selected by name, and they can be anywhere in it).
class header_collector {
 public:
  explicit header_collector(size_t header_bytes_max) : _max(header_bytes_max) {}
  // Feeds the next bytes; returns how many of them belong to the header
  // (the rest, if any, is body). After complete() every byte is body.
  size_t feed(std::string_view bytes);
  bool complete() const { return _complete; }
  bool overflowed() const { return _overflowed; }
  // The header section including its terminating empty line.
  const std::string& header() const { return _header; }

 private:
  std::string _header;
  size_t _max;
  bool _complete = false;
  bool _overflowed = false;
};

}  // namespace msgauth
