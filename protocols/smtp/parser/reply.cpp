#include "protocols/smtp/parser/reply.h"

#include <algorithm>

#include "kernel_io/base/assert.h"

namespace smtp {
namespace {

void append_line(std::string& output, std::uint16_t code, std::string_view enhanced, std::string_view text,
                 bool last, std::size_t line_length_max) {
  const std::size_t start = output.size();
  output += static_cast<char>('0' + code / 100 % 10);
  output += static_cast<char>('0' + code / 10 % 10);
  output += static_cast<char>('0' + code % 10);
  output += last ? ' ' : '-';
  if (!enhanced.empty()) {
    output += enhanced;
    if (!text.empty()) output += ' ';
  }
  // Room left for text before the CRLF. The prefix itself always fits: the
  // limit must hold at least "ddd- x.yyy.zzz " and CRLF.
  const std::size_t used = output.size() - start;
  const std::size_t room = line_length_max - 2 - std::min(used, line_length_max - 2);
  const std::string_view cut = text.substr(0, std::min(text.size(), room));
  for (const char c : cut) output += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
  output += "\r\n";
}

}  // namespace

void format_reply(std::string& output, std::uint16_t code, std::string_view enhanced,
                  std::span<const std::string_view> lines, std::size_t line_length_max) {
  RM_ASSERT(code >= 200 && code <= 599);
  RM_ASSERT(line_length_max >= 32);
  RM_ASSERT(enhanced.size() <= 11);  // "5.999.999"
  if (lines.empty()) {
    append_line(output, code, enhanced, {}, true, line_length_max);
    return;
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    append_line(output, code, enhanced, lines[i], i + 1 == lines.size(), line_length_max);
  }
}

void format_reply(std::string& output, const reply& r, std::size_t line_length_max) {
  const std::string_view line = r.text;
  format_reply(output, r.code, r.enhanced, std::span<const std::string_view>(&line, 1), line_length_max);
}

std::string format_reply(const reply& r) {
  std::string output;
  format_reply(output, r);
  return output;
}

}  // namespace smtp
