#pragma once
// RFC 5322 header blocks over a complete buffer: a zero-copy split into
// fields. Views point into the caller's bytes; nothing is decoded until asked
// (unfold, RFC 2047). Tolerant the way deployed servers are: bare LF line
// ends, 8-bit bytes, lines without a colon (skipped and counted), a field
// count cap. One pass, linear in the block size.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mime/limits.h"

namespace mime {

struct header_field {
  std::string_view name;       // bytes before the colon, trailing blanks trimmed
  std::string_view raw_value;  // after the colon up to (not incl.) the final EOL; folds kept
  std::size_t offset = 0;      // field start, relative to the buffer given to the parser
  std::size_t value_offset = 0;
  std::size_t end_offset = 0;  // one past the field's final EOL
  bool folded = false;         // raw_value contains a line break

  // The value with line breaks of folds removed (RFC 5322 §2.2.3) and
  // leading/trailing blanks trimmed. Returns a view into raw_value when no
  // copy is needed, else into `scratch`.
  std::string_view unfolded(std::string& scratch) const;
  std::string unfolded_value() const;
};

struct header_block {
  std::vector<header_field> fields;
  std::size_t end_offset = 0;      // body start: one past the blank line (or end of input)
  std::size_t lines = 0;           // LF count in the block
  std::uint32_t defects = defect_none;
  std::uint32_t skipped_lines = 0;  // lines without colon, continuations without field
  bool has_blank_line = false;

  // First field with this name (ASCII case-insensitive), or nullptr.
  const header_field* find(std::string_view name) const;
};

// Parses the header block at the start of `bytes` (a message or a MIME part
// header). Offsets are relative to bytes.data().
header_block parse_header_block(std::string_view bytes, const limits& lim = {});

// Where the header block at the start of `bytes` ends (one past the blank
// line, or bytes.size()), without building fields.
std::size_t header_block_end(std::string_view bytes);

// Length of an mbox "From " separator line at the start (incl. its EOL), or 0.
std::size_t mbox_from_line_size(std::string_view bytes);

// ASCII helpers shared by the module.
bool iequals(std::string_view a, std::string_view b);
std::string to_lower_ascii(std::string_view s);
// Space, tab, CR, LF at both ends. Inline: every header field's name and
// most values go through it, and the call was most of its cost.
inline std::string_view trim_blanks(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}
std::string unfold(std::string_view raw_value);
// unfold() into `out` (its old bytes replaced, its capacity reused).
void unfold_into(std::string_view raw_value, std::string& out);

}  // namespace mime
