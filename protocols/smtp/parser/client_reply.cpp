#include "protocols/smtp/parser/client_reply.h"

#include <cctype>

namespace smtp {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "5.1.1 " at the start of a reply text (RFC 3463 class.subject.detail).
size_t enhanced_length(std::string_view text) {
  if (text.size() < 5 || !(text[0] == '2' || text[0] == '4' || text[0] == '5') || text[1] != '.') return 0;
  size_t i = 2, digits = 0;
  while (i < text.size() && is_digit(text[i]) && digits < 3) ++i, ++digits;
  if (digits == 0 || i >= text.size() || text[i] != '.') return 0;
  ++i;
  digits = 0;
  while (i < text.size() && is_digit(text[i]) && digits < 3) ++i, ++digits;
  if (digits == 0) return 0;
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string server_reply::summary() const {
  std::string out = std::to_string(code);
  if (!enhanced.empty()) out += " " + enhanced;
  for (size_t i = 0; i < lines.size(); ++i) {
    out += i == 0 ? " " : " / ";
    out += lines[i];
  }
  return out;
}

reply_assembler::status reply_assembler::feed(std::string_view line) {
  if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) || line[0] < '2' ||
      line[0] > '5')
    return status::error;
  if (line.size() > 3 && line[3] != ' ' && line[3] != '-') return status::error;
  auto code = uint16_t((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
  if (_started && code != _reply.code) return status::error;
  if (_reply.lines.size() >= reply_lines_max) return status::error;
  _started = true;
  _reply.code = code;
  bool last = line.size() == 3 || line[3] == ' ';
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
  if (size_t n = enhanced_length(text); n > 0 && text[0] == char('0' + code / 100)) {
    if (_reply.enhanced.empty()) _reply.enhanced.assign(text.substr(0, n));
    text.remove_prefix(n);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  }
  _reply.lines.emplace_back(text);
  return last ? status::complete : status::need_more;
}

server_reply reply_assembler::take() {
  server_reply r = std::move(_reply);
  _reply = {};
  _started = false;
  return r;
}

server_capabilities parse_ehlo(const server_reply& ehlo) {
  server_capabilities caps;
  caps.esmtp = ehlo.code == 250;
  // The first line is the greeting; capabilities follow, one per line.
  for (size_t i = 1; i < ehlo.lines.size(); ++i) {
    std::string_view line = ehlo.lines[i];
    size_t space = line.find(' ');
    std::string keyword = upper(line.substr(0, space));
    std::string_view rest = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    if (keyword == "STARTTLS") caps.starttls = true;
    else if (keyword == "PIPELINING") caps.pipelining = true;
    else if (keyword == "8BITMIME") caps.eightbitmime = true;
    else if (keyword == "SMTPUTF8") caps.smtputf8 = true;
    else if (keyword == "CHUNKING") caps.chunking = true;
    else if (keyword == "DSN") caps.dsn = true;
    else if (keyword == "ENHANCEDSTATUSCODES") caps.enhanced_status_codes = true;
    else if (keyword == "SIZE") {
      uint64_t n = 0;
      bool ok = true;
      for (char c : rest) {
        if (!is_digit(c) || n > (UINT64_MAX - 9) / 10) {
          ok = false;
          break;
        }
        n = n * 10 + uint64_t(c - '0');
      }
      caps.size_max = ok ? n : 0;
    } else if (keyword == "AUTH") {
      while (!rest.empty()) {
        size_t sp = rest.find(' ');
        std::string_view mech = rest.substr(0, sp);
        if (!mech.empty() && caps.auth_mechanisms.size() < 32) caps.auth_mechanisms.push_back(upper(mech));
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
      }
    }
  }
  return caps;
}

}  // namespace smtp
