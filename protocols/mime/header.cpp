#include "protocols/mime/header.h"

#include <cstring>

#include "protocols/common/byte_scan.h"

namespace mime {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}


std::string unfold(std::string_view raw) {
  std::string out;
  unfold_into(raw, out);
  return out;
}

// Trimming first gives the same bytes as trimming after the line breaks
// are dropped (the trimmed set holds CR and LF), and leaves one copy: the
// runs between line breaks, found 16 bytes at a time, appended whole (a
// push_back per byte and a second string were ~1000 instructions a
// Content-Type).
void unfold_into(std::string_view raw, std::string& out) {
  raw = trim_blanks(raw);
  out.clear();
  std::size_t i = 0;
  while (true) {
    const std::size_t j = proto::find_first_of_bytes<'\r', '\n'>(raw.data(), i, raw.size());
    out.append(raw.data() + i, j - i);
    if (j == raw.size()) return;
    i = j + 1;
  }
}

std::string_view header_field::unfolded(std::string& scratch) const {
  if (!folded) return trim_blanks(raw_value);
  scratch = unfold(raw_value);
  return scratch;
}

std::string header_field::unfolded_value() const {
  std::string scratch;
  return std::string(unfolded(scratch));
}

const header_field* header_block::find(std::string_view name) const {
  for (const auto& f : fields)
    if (iequals(f.name, name)) return &f;
  return nullptr;
}

std::size_t mbox_from_line_size(std::string_view bytes) {
  if (bytes.substr(0, 5) != "From ") return 0;
  const void* lf = std::memchr(bytes.data(), '\n', bytes.size());
  if (lf == nullptr) return bytes.size();
  return static_cast<std::size_t>(static_cast<const char*>(lf) - bytes.data()) + 1;
}

// A line is [start, next) where next is one past its LF (or the end).
static std::size_t next_line(std::string_view bytes, std::size_t start) {
  const void* lf = std::memchr(bytes.data() + start, '\n', bytes.size() - start);
  if (lf == nullptr) return bytes.size();
  return static_cast<std::size_t>(static_cast<const char*>(lf) - bytes.data()) + 1;
}

static bool is_blank_line(std::string_view bytes, std::size_t start, std::size_t next) {
  std::size_t len = next - start;
  if (len == 1) return bytes[start] == '\n';
  if (len == 2) return bytes[start] == '\r' && bytes[start + 1] == '\n';
  return false;
}

std::size_t header_block_end(std::string_view bytes) {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::size_t next = next_line(bytes, pos);
    if (is_blank_line(bytes, pos, next)) return next;
    pos = next;
  }
  return bytes.size();
}

header_block parse_header_block(std::string_view bytes, const limits& lim) {
  header_block block;
  std::size_t pos = 0;
  header_field* open = nullptr;  // the field continuation lines attach to
  bool dropping = false;         // current field is past header_count_max
  auto close_field = [&](std::size_t end) {
    if (open == nullptr) return;
    open->end_offset = end;
    std::size_t value_end = end;
    // The field's final EOL is not part of its value.
    if (value_end > open->value_offset && bytes[value_end - 1] == '\n') --value_end;
    if (value_end > open->value_offset && bytes[value_end - 1] == '\r') --value_end;
    open->raw_value = bytes.substr(open->value_offset, value_end - open->value_offset);
    open->folded = open->raw_value.find('\n') != std::string_view::npos;
    open = nullptr;
  };
  while (pos < bytes.size()) {
    std::size_t next = next_line(bytes, pos);
    if (next == bytes.size() && bytes.back() != '\n') {
      // Unterminated last line: still a header line.
    }
    if (is_blank_line(bytes, pos, next)) {
      close_field(pos);
      block.end_offset = next;
      block.has_blank_line = true;
      ++block.lines;
      return block;
    }
    if (bytes[next - 1] == '\n') ++block.lines;
    char first = bytes[pos];
    if (first == ' ' || first == '\t') {
      if (open == nullptr && !dropping) {
        ++block.skipped_lines;
        block.defects |= defect_header_line_without_colon;
      }
      pos = next;
      continue;
    }
    close_field(pos);
    dropping = false;
    std::string_view line = bytes.substr(pos, next - pos);
    std::size_t colon = line.find(':');
    std::string_view name = colon == std::string_view::npos ? std::string_view{} : trim_blanks(line.substr(0, colon));
    if (name.empty() || name.find('\n') != std::string_view::npos) {
      ++block.skipped_lines;
      block.defects |= defect_header_line_without_colon;
      pos = next;
      continue;
    }
    if (block.fields.size() >= lim.header_count_max) {
      block.defects |= defect_header_count_limit;
      dropping = true;
      pos = next;
      continue;
    }
    block.fields.push_back({});
    open = &block.fields.back();
    open->name = name;
    open->offset = pos;
    open->value_offset = pos + colon + 1;
    pos = next;
  }
  close_field(bytes.size());
  block.end_offset = bytes.size();
  block.defects |= defect_header_without_body;
  return block;
}

}  // namespace mime
