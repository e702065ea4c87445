#pragma once
// command_reader: frames IMAP commands out of a byte stream, sans I/O.
//
// The session owns the receive buffer and calls read() with what it holds;
// the reader consumes a prefix (event.consumed_bytes) and returns one event:
//
//   need_more      everything given was consumed; call again with more bytes.
//   need_literal   the line just read ends in {n}, {n+} or ~{n}. The session
//                  decides: accept_literal() (and, for a synchronising
//                  literal, sends "+ Ready" first) or reject_literal() (and
//                  sends "<tag> NO [TOOBIG] ..."). The tag is already known.
//   literal_chunk  in literal_mode::stream, a piece of literal data (a view
//                  into the caller's input) for the session to spool.
//   command        a complete command: command() returns it, valid until the
//                  next call on the reader. Bytes after the command's CRLF are
//                  not consumed, so the session can stop reading after
//                  STARTTLS, IDLE, AUTHENTICATE or COMPRESS.
//   error          a framing limit or malformed literal marker. The error
//                  carries the tag (if known) and whether the connection may
//                  continue; when it may, the reader has already arranged to
//                  skip the rest of the offending command without buffering it.
//
// Memory: the reader buffers at most one command, bounded by
// parser_limits::command_size_max (less when literals are streamed). Time:
// every input byte is examined a constant number of times.
//
// Lifecycle: one reader per session, on the session's core; reset() after
// STARTTLS or COMPRESS so no pre-handshake bytes survive.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/imap/parser/errc.h"
#include "protocols/imap/parser/limits.h"

namespace imap {

// Where one literal sits in framed_command::text.
struct literal_span {
  std::size_t marker_offset = 0;  // offset of the '{' (or the '~' of ~{n})
  std::size_t data_offset = 0;    // offset of the first data byte (after CRLF)
  std::uint64_t size_bytes = 0;
  bool non_synchronizing = false;
  bool binary = false;    // ~{n}: RFC 3516 literal8, may contain NUL
  bool streamed = false;  // data went to the session as literal_chunk events, not into text
};

// A complete command as received: line segments joined by "\r\n" with
// buffered literal data inline (streamed literals occupy no bytes), final
// CRLF removed. Views into the reader; valid until its next call.
struct framed_command {
  std::string_view text;
  std::span<const literal_span> literals;
};

enum class read_status : std::uint8_t { need_more, need_literal, literal_chunk, command, line, error };

struct literal_request {
  std::uint64_t size_bytes = 0;
  bool non_synchronizing = false;
  bool binary = false;
  std::string_view tag;  // view into the reader, valid until its next call
};

struct read_event {
  read_status status = read_status::need_more;
  std::size_t consumed_bytes = 0;  // advance the caller's input by this much
  literal_request literal{};       // need_literal
  std::string_view bytes;          // literal_chunk (into input) or line (into the reader)
  command_error error{};           // error
};

enum class literal_mode : std::uint8_t {
  buffer,  // data goes into framed_command::text (small literals, LOGIN)
  stream,  // data is handed out as literal_chunk events (large APPENDs)
};

class command_reader {
 public:
  explicit command_reader(parser_limits limits = {});

  // Frames the next command out of `input`. See the file comment.
  read_event read(std::string_view input);
  // Continuation lines that are not commands: AUTHENTICATE responses and
  // IDLE's "DONE". Returns need_more, line (bytes = the line without CRLF)
  // or error (line_too_long; the rest of that line is then skipped).
  read_event read_continuation(std::string_view input);

  // After need_literal: take the literal. Must be called before read().
  void accept_literal(literal_mode mode = literal_mode::buffer);
  // After need_literal: refuse it. A synchronising literal is never sent by
  // the client; a non-synchronising one is skipped along with the rest of
  // the command, without buffering.
  void reject_literal();

  // The last complete command (after read_status::command).
  framed_command command() const;
  // Forgets any partial command (STARTTLS, COMPRESS, session teardown).
  void reset();

  const parser_limits& limits() const { return _limits; }
  // The command framed so far (after need_literal: everything before the
  // literal), so a session can tell an APPEND's literal from others.
  std::string_view partial_command() const { return _buffer; }
  // Bytes of the command currently buffered (for memory accounting).
  std::size_t buffered_bytes() const { return _buffer.size(); }
  // No command is partly read: the last one was returned (its bytes stay
  // buffered for command() until the next read) or nothing of the next one
  // has come. A session waiting for input here is idle: a shutdown may
  // say BYE without cutting a command short.
  bool between_commands() const { return _state == state::complete || (_state == state::line && _buffer.empty()); }

 private:
  enum class state : std::uint8_t {
    line,             // reading a line segment into _buffer
    literal_pending,  // need_literal returned, waiting for accept/reject
    literal,          // reading literal data
    discard_line,     // skipping the rest of a refused command's line
    discard_literal,  // skipping a refused command's non-synchronising literal
    complete,         // a command or continuation line was returned
    continuation,     // reading a continuation line
    continuation_discard,  // skipping the rest of an over-long continuation line
  };

  struct marker {
    bool found = false;
    bool malformed = false;
    std::uint64_t size_bytes = 0;
    bool non_synchronizing = false;
    bool binary = false;
    std::size_t offset = 0;  // within the segment
  };
  static marker find_marker(std::string_view segment);

  void clear_command();
  std::string_view tag_in_buffer() const;
  read_event fail(read_event ev, errc code, bool can_continue);
  bool end_of_segment(read_event& ev);
  void remember_tail(std::string_view bytes);

  parser_limits _limits;
  state _state = state::line;
  std::string _buffer;
  std::vector<literal_span> _literals;
  std::size_t _segment_start = 0;
  std::uint64_t _command_size_bytes = 0;
  std::uint64_t _literal_remaining_bytes = 0;
  bool _literal_streamed = false;
  // After discard_literal, whether to keep discarding the command's line.
  // The last bytes of a discarded line: enough to recognise a literal marker
  // at its end ("~{18446744073709551615+}" is 24 bytes).
  static constexpr std::size_t tail_size_max = 32;
  std::array<char, tail_size_max> _tail{};
  std::size_t _tail_length = 0;
  marker _pending;  // the literal awaiting accept/reject
  std::string _tag;  // owned copy for events that outlive the buffer
};

}  // namespace imap
