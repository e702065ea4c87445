#include "protocols/pop3/parser/parser.h"

#include <algorithm>

namespace pop3 {
namespace {

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i]) != upper(b[i])) return false;
  }
  return true;
}

// Splits off the next SP-separated token. RFC 1939 says one SP; we accept
// runs of SP/TAB, as every deployed server does.
std::string_view next_token(std::string_view& rest) {
  std::size_t begin = 0;
  while (begin < rest.size() && (rest[begin] == ' ' || rest[begin] == '\t')) ++begin;
  std::size_t end = begin;
  while (end < rest.size() && rest[end] != ' ' && rest[end] != '\t') ++end;
  std::string_view token = rest.substr(begin, end - begin);
  rest.remove_prefix(end);
  return token;
}

bool only_blanks(std::string_view rest) {
  return std::all_of(rest.begin(), rest.end(), [](char c) { return c == ' ' || c == '\t'; });
}

kio::result<std::uint32_t, errc> parse_number(std::string_view token, bool allow_zero) {
  if (token.empty() || token.size() > 10) return kio::fail(errc::bad_message_number);
  std::uint64_t value = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return kio::fail(errc::bad_message_number);
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (value > 0xFFFFFFFFull || (value == 0 && !allow_zero)) return kio::fail(errc::bad_message_number);
  return static_cast<std::uint32_t>(value);
}

}  // namespace

std::string_view to_string(errc code) {
  switch (code) {
    case errc::line_too_long: return "line too long";
    case errc::unknown_command: return "unknown command";
    case errc::syntax: return "syntax error";
    case errc::argument_too_long: return "argument too long";
    case errc::bad_message_number: return "bad message number";
    case errc::apop_not_supported: return "APOP not supported";
  }
  return "unknown error";
}

kio::result<command, errc> parse_command(std::string_view line, const parser_limits& limits) {
  if (line.size() + 2 > limits.command_line_length_max) return kio::fail(errc::line_too_long);
  for (char c : line) {
    if (c == '\0' || c == '\r' || c == '\n') return kio::fail(errc::syntax);
  }
  std::string_view rest = line;
  std::string_view keyword = next_token(rest);
  command cmd;
  struct entry { std::string_view name; command_kind kind; };
  static constexpr entry keywords[] = {
      {"USER", command_kind::user}, {"PASS", command_kind::pass}, {"APOP", command_kind::apop},
      {"STAT", command_kind::stat}, {"LIST", command_kind::list}, {"RETR", command_kind::retr},
      {"DELE", command_kind::dele}, {"NOOP", command_kind::noop}, {"RSET", command_kind::rset},
      {"QUIT", command_kind::quit}, {"TOP", command_kind::top},   {"UIDL", command_kind::uidl},
      {"CAPA", command_kind::capa}, {"STLS", command_kind::stls}, {"AUTH", command_kind::auth},
  };
  bool known = false;
  for (const entry& e : keywords) {
    if (iequals(keyword, e.name)) {
      cmd.kind = e.kind;
      known = true;
      break;
    }
  }
  if (!known) return kio::fail(errc::unknown_command);

  auto argument = [&](std::string_view token) -> kio::result<void, errc> {
    if (token.size() > limits.argument_length_max) return kio::fail(errc::argument_too_long);
    return {};
  };

  switch (cmd.kind) {
    case command_kind::apop:
      return kio::fail(errc::apop_not_supported);
    case command_kind::stat: case command_kind::noop: case command_kind::rset:
    case command_kind::quit: case command_kind::capa: case command_kind::stls:
      if (!only_blanks(rest)) return kio::fail(errc::syntax);
      return cmd;
    case command_kind::user: {
      std::string_view name = next_token(rest);
      if (name.empty() || !only_blanks(rest)) return kio::fail(errc::syntax);
      if (auto ok = argument(name); !ok) return kio::fail(ok.error());
      cmd.argument.assign(name);
      return cmd;
    }
    case command_kind::pass: {
      // The password is the rest of the line after one SP: passwords may
      // contain spaces, and RFC 1939's "one argument" broke them.
      if (rest.empty() || rest[0] != ' ' || rest.size() < 2) return kio::fail(errc::syntax);
      std::string_view password = rest.substr(1);
      if (auto ok = argument(password); !ok) return kio::fail(ok.error());
      cmd.argument.assign(password);
      return cmd;
    }
    case command_kind::list: case command_kind::uidl: {
      std::string_view n = next_token(rest);
      if (!only_blanks(rest)) return kio::fail(errc::syntax);
      if (!n.empty()) {
        auto number = parse_number(n, false);
        if (!number) return kio::fail(number.error());
        cmd.message = *number;
      }
      return cmd;
    }
    case command_kind::retr: case command_kind::dele: {
      std::string_view n = next_token(rest);
      if (n.empty() || !only_blanks(rest)) return kio::fail(errc::syntax);
      auto number = parse_number(n, false);
      if (!number) return kio::fail(number.error());
      cmd.message = *number;
      return cmd;
    }
    case command_kind::top: {
      std::string_view n = next_token(rest);
      std::string_view m = next_token(rest);
      if (n.empty() || m.empty() || !only_blanks(rest)) return kio::fail(errc::syntax);
      auto number = parse_number(n, false);
      if (!number) return kio::fail(number.error());
      auto lines = parse_number(m, true);
      if (!lines) return kio::fail(errc::syntax);
      cmd.message = *number;
      cmd.lines = *lines;
      return cmd;
    }
    case command_kind::auth: {
      // "AUTH" alone lists mechanisms (RFC 1734 usage kept by clients).
      std::string_view mechanism = next_token(rest);
      std::string_view initial = next_token(rest);
      if (!only_blanks(rest)) return kio::fail(errc::syntax);
      if (auto ok = argument(mechanism); !ok) return kio::fail(ok.error());
      if (auto ok = argument(initial); !ok) return kio::fail(ok.error());
      for (char c : mechanism) cmd.argument.push_back(upper(c));
      if (!initial.empty()) {
        for (char c : initial) {
          bool base64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                        c == '/' || c == '=';
          if (!base64) return kio::fail(errc::syntax);
        }
        cmd.initial_response.emplace(initial);
      }
      return cmd;
    }
  }
  return kio::fail(errc::syntax);
}

void line_reader::reset() {
  _buffer.clear();
  _discarding = false;
  _complete = false;
}

read_event line_reader::read(std::string_view input) {
  read_event ev;
  if (_complete) {
    _buffer.clear();
    _complete = false;
  }
  std::size_t& consumed = ev.consumed_bytes;
  while (consumed < input.size()) {
    std::string_view rest = input.substr(consumed);
    if (_discarding) {
      std::size_t lf = rest.find('\n');
      if (lf == std::string_view::npos) {
        consumed += rest.size();
        return ev;
      }
      consumed += lf + 1;
      _discarding = false;
      continue;
    }
    // Content may be at most max-2 bytes (CRLF counted) plus a CR; look for
    // LF only that far so an endless line is refused early.
    std::size_t content_max = _line_length_max >= 2 ? _line_length_max - 2 : 0;
    std::size_t room = content_max + 1 - std::min(_buffer.size(), content_max + 1);
    std::string_view window = rest.substr(0, std::min(rest.size(), room + 1));
    std::size_t lf = window.find('\n');
    if (lf == std::string_view::npos) {
      if (window.size() > room) {
        consumed += window.size();
        _buffer.clear();
        _discarding = true;
        ev.status = read_status::error;
        ev.error = errc::line_too_long;
        return ev;
      }
      _buffer.append(window);
      consumed += window.size();
      return ev;
    }
    _buffer.append(window.substr(0, lf));
    consumed += lf + 1;
    if (!_buffer.empty() && _buffer.back() == '\r') _buffer.pop_back();
    if (_buffer.size() > content_max) {
      _buffer.clear();
      ev.status = read_status::error;
      ev.error = errc::line_too_long;
      return ev;
    }
    _complete = true;
    ev.status = read_status::line;
    ev.line = _buffer;
    return ev;
  }
  return ev;
}

void dot_stuffer::append(std::string_view chunk, std::string& out) {
  out.reserve(out.size() + chunk.size() + chunk.size() / 64 + 2);
  std::size_t run_start = 0;
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    char c = chunk[i];
    if (c == '.' && _at_line_start) {
      out.append(chunk.substr(run_start, i - run_start));
      out.push_back('.');  // the stuffed dot; the original follows in the run
      run_start = i;
    } else if (c == '\n' && !_previous_cr) {
      out.append(chunk.substr(run_start, i - run_start));
      out.push_back('\r');
      run_start = i;
    }
    _at_line_start = c == '\n';
    _previous_cr = c == '\r';
  }
  out.append(chunk.substr(run_start));
}

void dot_stuffer::finish(std::string& out) {
  if (_previous_cr) {
    out.push_back('\n');
  } else if (!_at_line_start) {
    out.append("\r\n");
  }
  out.append(".\r\n");
  _at_line_start = true;
  _previous_cr = false;
}

std::size_t top_filter::keep(std::string_view chunk) {
  if (_done) return 0;
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    char c = chunk[i];
    if (_at_line_start && _in_body && _body_lines_left == 0) {
      _done = true;
      return i;
    }
    if (c == '\n') {
      if (!_in_body) {
        if (_line_empty_so_far) _in_body = true;  // the empty line ends the header
      } else {
        --_body_lines_left;
      }
      _at_line_start = true;
      _line_empty_so_far = true;
      continue;
    }
    _at_line_start = false;
    if (c != '\r') _line_empty_so_far = false;
  }
  return chunk.size();
}

}  // namespace pop3
