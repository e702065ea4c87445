#pragma once
// POP3 (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH RFC 5034), sans I/O:
//   line_reader   frames CRLF-terminated lines out of received bytes, bounded;
//   parse_command one command line to a typed command;
//   dot_stuffer   byte-stuffs a multi-line response body (RETR, TOP, LIST,
//                 UIDL, CAPA) and terminates it with CRLF "." CRLF;
//   top_filter    cuts a message to its header plus n body lines (TOP).
// Everything here is pure: no I/O, no runtime, allocation bounded by the
// named limits. Objects live on the session's core.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kernel_io/base/result.h"

namespace pop3 {

enum class errc : std::uint8_t {
  line_too_long,       // over command_line_length_max (or sasl_line_length_max)
  unknown_command,
  syntax,              // missing, extra or malformed arguments
  argument_too_long,   // over argument_length_max
  bad_message_number,  // not a decimal in 1..2^32-1
  apop_not_supported,  // APOP needs plaintext passwords on the server; we store Argon2id hashes
};

std::string_view to_string(errc code);

struct parser_limits {
  // RFC 2449 section 4: a command line is at most 255 octets including CRLF.
  std::size_t command_line_length_max = 255;
  // RFC 2449 section 4 lifts RFC 1939's 40-octet argument limit; one argument
  // cannot exceed the line, but a named limit keeps it explicit.
  std::size_t argument_length_max = 255;
  // An AUTH continuation line (base64 SASL response), CRLF included. RFC
  // 5034 section 4 puts no 255 limit on these; GSSAPI tokens are large.
  std::size_t sasl_line_length_max = 16384;
};

enum class command_kind : std::uint8_t {
  user, pass, apop, stat, list, retr, dele, noop, rset, quit, top, uidl, capa, stls, auth,
};

struct command {
  command_kind kind = command_kind::noop;
  std::string argument;  // USER name, PASS password (may contain spaces), AUTH mechanism (upper-cased)
  std::optional<std::uint32_t> message;  // LIST/UIDL [n], RETR/DELE/TOP n
  std::uint32_t lines = 0;               // TOP n lines
  std::optional<std::string> initial_response;  // AUTH mech initial-response ("=" is empty)
};

// Parses one command line without its CRLF. Keywords are case-insensitive.
kio::result<command, errc> parse_command(std::string_view line, const parser_limits& limits = {});

// line_reader: consumes a prefix of the caller's input and returns one event.
// Bytes after a complete line are left for the next call (so nothing read
// before STLS survives into TLS: the session discards its buffer).
enum class read_status : std::uint8_t { need_more, line, error };
struct read_event {
  read_status status = read_status::need_more;
  std::size_t consumed_bytes = 0;
  std::string_view line;  // without CRLF; valid until the next call
  errc error = errc::line_too_long;
};

class line_reader {
 public:
  explicit line_reader(std::size_t line_length_max = parser_limits{}.command_line_length_max)
      : _line_length_max(line_length_max) {}
  // The limit counts the CRLF, as RFC 2449 does. Switch it for AUTH
  // continuation lines with set_line_length_max().
  read_event read(std::string_view input);
  void set_line_length_max(std::size_t length) { _line_length_max = length; }
  void reset();

 private:
  std::size_t _line_length_max;
  std::string _buffer;
  bool _discarding = false;  // skipping the rest of an over-long line
  bool _complete = false;
};

// dot_stuffer: streams a multi-line response body. Lines starting with "."
// get another "." (RFC 1939 section 3); bare LF becomes CRLF so clients never
// see a line the terminator logic could misread; finish() ends an
// unterminated last line with CRLF before ".\r\n". Stateful across chunks,
// so a "." at the start of a chunk that continues a line is left alone.
class dot_stuffer {
 public:
  void append(std::string_view chunk, std::string& out);
  void finish(std::string& out);
  void reset() { *this = {}; }

 private:
  bool _at_line_start = true;
  bool _previous_cr = false;
};

// top_filter: for TOP n m, keeps the header, the empty line and m body lines
// (RFC 1939 section 7). keep() returns how many leading bytes of the chunk
// belong to the response; once it returns less than the chunk, done().
class top_filter {
 public:
  explicit top_filter(std::uint32_t body_lines) : _body_lines_left(body_lines) {}
  std::size_t keep(std::string_view chunk);
  bool done() const { return _done; }

 private:
  std::uint32_t _body_lines_left;
  bool _in_body = false;
  bool _at_line_start = true;
  bool _line_empty_so_far = true;  // for finding the empty line ending the header
  bool _done = false;
};

}  // namespace pop3
