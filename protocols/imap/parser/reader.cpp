#include "protocols/imap/parser/reader.h"

#include <algorithm>
#include <cstring>

#include "kernel_io/base/assert.h"

namespace imap {
namespace {

// tag = 1*<any ASTRING-CHAR except "+"> (RFC 3501 section 9).
bool is_tag_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return false;
  switch (c) {
    case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case '+':
      return false;
    default:
      return true;
  }
}

}  // namespace

command_reader::command_reader(parser_limits limits) : _limits(limits) {}

void command_reader::clear_command() {
  _buffer.clear();
  _literals.clear();
  _segment_start = 0;
  _command_size_bytes = 0;
  _literal_remaining_bytes = 0;
  _literal_streamed = false;
  _tail_length = 0;
  _pending = {};
  _state = state::line;
}

void command_reader::reset() {
  clear_command();
  // Give back a large buffer left by a big literal.
  if (_buffer.capacity() > _limits.line_length_max) std::string().swap(_buffer);
}

framed_command command_reader::command() const {
  RM_ASSERT_MSG(_state == state::complete, "command() outside read_status::command");
  return {_buffer, _literals};
}

std::string_view command_reader::tag_in_buffer() const {
  // The tag lives in the first segment; it is known once its SP has arrived.
  std::string_view first(_buffer);
  if (!_literals.empty()) first = first.substr(0, _literals.front().marker_offset);
  std::size_t length = 0;
  while (length < first.size() && is_tag_char(static_cast<unsigned char>(first[length]))) ++length;
  if (length == 0 || length >= first.size() || first[length] != ' ') return {};
  return first.substr(0, length);
}

read_event command_reader::fail(read_event ev, errc code, bool can_continue) {
  ev.status = read_status::error;
  ev.error.code = code;
  ev.error.tag = std::string(tag_in_buffer());
  ev.error.can_continue = can_continue;
  ev.error.detail = to_string(code);
  return ev;
}

// A literal marker ends a line segment: "{" number ["+"] "}" or "~{"...
// (RFC 3501 literal, RFC 7888 literal+, RFC 3516 literal8).
command_reader::marker command_reader::find_marker(std::string_view segment) {
  marker m;
  if (segment.empty() || segment.back() != '}') return m;
  // Scan back over the digits and an optional '+'. More than 20 digits is
  // a malformed marker, not text: the client will send data we cannot size.
  std::size_t end = segment.size() - 1;  // index of '}'
  std::size_t digits_end = end;
  if (digits_end > 0 && segment[digits_end - 1] == '+') {
    m.non_synchronizing = true;
    --digits_end;
  }
  std::size_t digits_begin = digits_end;
  while (digits_begin > 0 && segment[digits_begin - 1] >= '0' && segment[digits_begin - 1] <= '9') {
    --digits_begin;
  }
  if (digits_begin == 0 || segment[digits_begin - 1] != '{') return m;  // not a literal: "}" is plain text
  m.found = true;
  m.offset = digits_begin - 1;
  if (m.offset > 0 && segment[m.offset - 1] == '~') {
    m.binary = true;
    --m.offset;
  }
  std::size_t count = digits_end - digits_begin;
  if (count == 0 || count > 20) {
    m.malformed = true;
    return m;
  }
  std::uint64_t value = 0;
  for (std::size_t i = digits_begin; i < digits_end; ++i) {
    std::uint64_t digit = static_cast<std::uint64_t>(segment[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      m.malformed = true;
      return m;
    }
    value = value * 10 + digit;
  }
  m.size_bytes = value;
  return m;
}

void command_reader::remember_tail(std::string_view bytes) {
  if (bytes.size() >= tail_size_max) {
    std::memcpy(_tail.data(), bytes.data() + bytes.size() - tail_size_max, tail_size_max);
    _tail_length = tail_size_max;
    return;
  }
  std::size_t keep = std::min(_tail_length, tail_size_max - bytes.size());
  std::memmove(_tail.data(), _tail.data() + _tail_length - keep, keep);
  std::memcpy(_tail.data() + keep, bytes.data(), bytes.size());
  _tail_length = keep + bytes.size();
}

// A line segment has just been completed in _buffer (CRLF stripped). Returns
// true with `ev` filled when an event is due; false to keep reading.
bool command_reader::end_of_segment(read_event& ev) {
  std::string_view segment = std::string_view(_buffer).substr(_segment_start);
  if (_buffer.empty()) {
    // An empty line between commands: ignore it, as telnet users and some
    // clients send one, and nothing is lost.
    _command_size_bytes = 0;
    return false;
  }
  marker m = find_marker(segment);
  if (!m.found) {
    _state = state::complete;
    ev.status = read_status::command;
    return true;
  }
  if (m.malformed) {
    // We cannot know how many bytes the client will send next: resync is
    // impossible, so the connection ends.
    ev = fail(ev, errc::bad_literal, false);
    clear_command();
    return true;
  }
  errc refusal{};
  bool refused = true;
  if (_literals.size() >= _limits.literals_max) {
    refusal = errc::too_many_literals;
  } else if (m.size_bytes > _limits.literal_size_max) {
    refusal = errc::literal_too_large;
  } else if (m.non_synchronizing && m.size_bytes > _limits.non_sync_literal_size_max) {
    refusal = errc::non_sync_literal_too_large;
  } else if (_command_size_bytes + m.size_bytes > _limits.command_size_max) {
    refusal = errc::command_too_large;
  } else {
    refused = false;
  }
  if (refused) {
    ev = fail(ev, refusal, true);
    if (m.non_synchronizing) {
      // The client sends the data regardless: skip it and the rest of the command.
      std::uint64_t skip = m.size_bytes;
      clear_command();
      _literal_remaining_bytes = skip;
      _state = state::discard_literal;
    } else {
      clear_command();
    }
    return true;
  }
  _pending = m;
  _buffer.append("\r\n");
  _state = state::literal_pending;
  ev.status = read_status::need_literal;
  ev.literal.size_bytes = m.size_bytes;
  ev.literal.non_synchronizing = m.non_synchronizing;
  ev.literal.binary = m.binary;
  // The tag is scanned once per command (at its first literal), so many
  // literals after a long tag cost nothing extra.
  if (_literals.empty()) _tag = std::string(tag_in_buffer());
  ev.literal.tag = _tag;
  // Record the span now so tag_in_buffer() and the parser see the marker.
  literal_span span;
  span.marker_offset = _segment_start + m.offset;
  span.data_offset = _buffer.size();
  span.size_bytes = m.size_bytes;
  span.non_synchronizing = m.non_synchronizing;
  span.binary = m.binary;
  _literals.push_back(span);
  return true;
}

void command_reader::accept_literal(literal_mode mode) {
  RM_ASSERT_MSG(_state == state::literal_pending, "accept_literal() without need_literal");
  _literal_streamed = mode == literal_mode::stream;
  _literals.back().streamed = _literal_streamed;
  _literal_remaining_bytes = _pending.size_bytes;
  _command_size_bytes += _pending.size_bytes;
  _state = state::literal;
}

void command_reader::reject_literal() {
  RM_ASSERT_MSG(_state == state::literal_pending, "reject_literal() without need_literal");
  bool non_synchronizing = _pending.non_synchronizing;
  std::uint64_t skip = _pending.size_bytes;
  clear_command();
  if (non_synchronizing) {
    _literal_remaining_bytes = skip;
    _state = state::discard_literal;
  }
}

read_event command_reader::read(std::string_view input) {
  read_event ev;
  if (_state == state::complete) clear_command();
  RM_ASSERT_MSG(_state != state::literal_pending, "read() before accept_literal()/reject_literal()");
  // The session may abandon a continuation exchange (AUTHENTICATE cancelled
  // by a limit): an over-long line still being skipped stays skipped.
  if (_state == state::continuation) {
    RM_ASSERT_MSG(_buffer.empty(), "read() while a continuation line is in progress");
    _state = state::line;
  } else if (_state == state::continuation_discard) {
    _tail_length = 0;
    _state = state::discard_line;
  }
  std::size_t& consumed = ev.consumed_bytes;
  while (true) {
    std::string_view rest = input.substr(consumed);
    switch (_state) {
      case state::line: {
        if (rest.empty()) return ev;
        // Look for LF only within what the limit allows (+1 for a CR), so a
        // long line is refused after max+2 bytes, not after its end.
        std::size_t segment_length = _buffer.size() - _segment_start;
        std::size_t room = _limits.line_length_max + 1 - std::min(segment_length, _limits.line_length_max + 1);
        std::string_view window = rest.substr(0, std::min(rest.size(), room + 1));
        std::size_t lf = window.find('\n');
        std::size_t take = lf == std::string_view::npos ? window.size() : lf;
        if (lf == std::string_view::npos && window.size() > room) {
          // Buffer the window first (bounded by the limit + 2) so the tag is
          // known however the line was split across reads.
          _buffer.append(window);
          ev = fail(ev, errc::line_too_long, true);
          // The tail must cover the buffered part of the line too: with small
          // reads the window may be one byte of a "{5+}" marker.
          _tail_length = 0;
          remember_tail(std::string_view(_buffer).substr(_segment_start));
          std::size_t tail_length = _tail_length;
          auto tail = _tail;
          clear_command();
          _tail = tail;
          _tail_length = tail_length;
          consumed += window.size();
          _state = state::discard_line;
          return ev;
        }
        if (_command_size_bytes + take + 1 > _limits.command_size_max) {
          _buffer.append(window.substr(0, take));
          ev = fail(ev, errc::command_too_large, true);
          _tail_length = 0;
          remember_tail(std::string_view(_buffer).substr(_segment_start));
          std::size_t tail_length = _tail_length;
          auto tail = _tail;
          clear_command();
          _tail = tail;
          _tail_length = tail_length;
          consumed += take;
          _state = state::discard_line;
          return ev;
        }
        _buffer.append(window.substr(0, take));
        _command_size_bytes += take;
        consumed += take;
        if (lf == std::string_view::npos) return ev;  // need_more
        consumed += 1;
        _command_size_bytes += 1;
        if (_buffer.size() > _segment_start && _buffer.back() == '\r') _buffer.pop_back();
        if (_buffer.size() - _segment_start > _limits.line_length_max) {
          ev = fail(ev, errc::line_too_long, true);
          // The whole line is here: a literal marker at its end still counts.
          std::string_view segment = std::string_view(_buffer).substr(_segment_start);
          marker m = find_marker(segment);
          clear_command();
          if (m.found && !m.malformed && m.non_synchronizing) {
            _literal_remaining_bytes = m.size_bytes;
            _state = state::discard_literal;
          } else if (m.malformed) {
            ev.error.can_continue = false;
          }
          return ev;
        }
        if (end_of_segment(ev)) return ev;
        break;
      }
      case state::literal: {
        if (_literal_remaining_bytes == 0) {
          _state = state::line;
          _segment_start = _buffer.size();
          break;
        }
        if (rest.empty()) return ev;
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(rest.size(), _literal_remaining_bytes));
        _literal_remaining_bytes -= take;
        consumed += take;
        if (_literal_streamed) {
          if (_literal_remaining_bytes == 0) {
            _state = state::line;
            _segment_start = _buffer.size();
          }
          ev.status = read_status::literal_chunk;
          ev.bytes = rest.substr(0, take);
          return ev;
        }
        _buffer.append(rest.substr(0, take));
        break;
      }
      case state::discard_literal: {
        if (_literal_remaining_bytes == 0) {
          _state = state::discard_line;
          _tail_length = 0;
          break;
        }
        if (rest.empty()) return ev;
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(rest.size(), _literal_remaining_bytes));
        _literal_remaining_bytes -= take;
        consumed += take;
        break;
      }
      case state::discard_line: {
        if (rest.empty()) return ev;
        std::size_t lf = rest.find('\n');
        if (lf == std::string_view::npos) {
          remember_tail(rest);
          consumed += rest.size();
          return ev;
        }
        remember_tail(rest.substr(0, lf));
        consumed += lf + 1;
        std::string_view tail(_tail.data(), _tail_length);
        if (!tail.empty() && tail.back() == '\r') tail.remove_suffix(1);
        marker m = find_marker(tail);
        _tail_length = 0;
        if (m.found && !m.malformed && m.non_synchronizing) {
          _literal_remaining_bytes = m.size_bytes;
          _state = state::discard_literal;
        } else {
          // No literal, or a synchronising one the client will not send
          // because it already has our tagged response.
          _state = state::line;
        }
        break;
      }
      case state::complete:
      case state::literal_pending:
      case state::continuation:
      case state::continuation_discard:
        RM_ASSERT_MSG(false, "unreachable reader state");
    }
  }
}

read_event command_reader::read_continuation(std::string_view input) {
  read_event ev;
  if (_state == state::complete) clear_command();
  if (_state == state::line) {
    RM_ASSERT_MSG(_buffer.empty(), "read_continuation() in the middle of a command");
    _state = state::continuation;
  }
  RM_ASSERT_MSG(_state == state::continuation || _state == state::continuation_discard,
                "read_continuation() in the middle of a command");
  std::size_t& consumed = ev.consumed_bytes;
  while (consumed < input.size()) {
    std::string_view rest = input.substr(consumed);
    if (_state == state::continuation_discard) {
      std::size_t lf = rest.find('\n');
      if (lf == std::string_view::npos) {
        consumed += rest.size();
        return ev;
      }
      consumed += lf + 1;
      _state = state::continuation;
      continue;
    }
    std::size_t room = _limits.continuation_line_length_max + 1 - std::min(_buffer.size(), _limits.continuation_line_length_max + 1);
    std::string_view window = rest.substr(0, std::min(rest.size(), room + 1));
    std::size_t lf = window.find('\n');
    if (lf == std::string_view::npos) {
      if (window.size() > room) {
        consumed += window.size();
        _buffer.clear();
        _state = state::continuation_discard;
        ev.status = read_status::error;
        ev.error = {errc::line_too_long, {}, true, to_string(errc::line_too_long)};
        return ev;
      }
      _buffer.append(window);
      consumed += window.size();
      return ev;
    }
    _buffer.append(window.substr(0, lf));
    consumed += lf + 1;
    if (!_buffer.empty() && _buffer.back() == '\r') _buffer.pop_back();
    if (_buffer.size() > _limits.continuation_line_length_max) {
      _buffer.clear();
      _state = state::line;
      ev.status = read_status::error;
      ev.error = {errc::line_too_long, {}, true, to_string(errc::line_too_long)};
      return ev;
    }
    _state = state::complete;
    ev.status = read_status::line;
    ev.bytes = _buffer;
    return ev;
  }
  return ev;
}

}  // namespace imap
