#pragma once
// The DATA-phase stream decoder (RFC 5321 section 4.1.1.4 and 4.5.2): fed
// the raw received chunks of a DATA body, it removes dot-stuffing IN PLACE
// and finds the end-of-data line, so message bytes go from the receive
// buffer to the store without another copy.
//
// Lifecycle: one per session, used on the session's core; reset() before
// each message. Holds a few bytes of state and nothing else: memory does not
// grow with the message, however long its lines or its body.
//
// End of data is exactly CR LF "." CR LF, where the first CR LF is the end
// of the previous line (or the CRLF of the DATA command itself, so ".\r\n"
// first is an empty message). The split points of the chunks do not matter:
// the terminator may straddle any number of chunks.
//
// SMTP smuggling (CVE-2023-51764/51765/51766): if this server and the next
// hop disagree about where DATA ends, an attacker hides a second message
// inside the first. So a bare LF or bare CR never ends data and never starts
// a dot-stuffed line. "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n" are
// all content. What happens to a message that contains one is a policy:
//  - reject (default): the message is refused at end of data with
//    550 5.6.11; its content stops being produced at the first bare CR/LF.
//  - normalize: each bare CR or bare LF is written as CRLF, so nothing
//    downstream ever sees a bare line ending. A dot after a normalised line
//    end is NOT unstuffed (it was not at the start of an SMTP line).
//
// Other checks, each turning into a rejection at end of data (content stops
// being produced when one trips, but input is consumed to the terminator):
// a line longer than line_size_max octets including CRLF (552 5.3.4), more
// than message_size_max content octets (552 5.3.4, so the server never
// stores an oversize message). NUL and 8-bit bytes are only recorded, for
// the session's BODY=7BIT and policy checks.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "protocols/smtp/parser/reply.h"

namespace smtp {

enum class bare_line_ending_policy : std::uint8_t { reject, normalize };

struct data_limits {
  // Content octets after unstuffing (what the store would write).
  std::uint64_t message_size_max = std::uint64_t{64} << 20;
  // RFC 5321 section 4.5.3.1.6: a text line is at most 1000 octets with CRLF.
  std::size_t line_size_max = 1000;
  bare_line_ending_policy bare_line_endings = bare_line_ending_policy::reject;
};

// The outcome of one feed(). The message content produced by this call is
// `prefix` followed by chunk[0, content_size); write them in that order.
struct data_step {
  // At most 4 bytes held over from the previous call (normalize mode only:
  // a CRLF that did not fit in place). Valid until the next feed() or reset().
  std::span<const std::byte> prefix;
  std::size_t content_size = 0;
  // Input bytes used. Before end of data this is all of the chunk except in
  // normalize mode, where the decoder stops early when an expansion does not
  // fit in place: feed the rest (chunk.subspan(consumed)) again. After end of
  // data, the bytes from `consumed` on are the next pipelined command.
  std::size_t consumed = 0;
  bool end_of_data = false;
};

enum class data_rejection : std::uint8_t { none, bare_line_ending, oversize, line_too_long };

class data_decoder {
 public:
  explicit data_decoder(const data_limits& limits = {}) : _limits(limits) {}

  // Processes `chunk` in place: unstuffed content is compacted to its front.
  // Each call makes progress (consumed > 0) unless the chunk is empty or end
  // of data was already reached (then it returns end_of_data and consumes 0).
  data_step feed(std::span<std::byte> chunk);

  // Starts a new message with the same limits.
  void reset();

  bool done() const { return _state == state::done; }
  // Content octets seen so far, counted on even after a rejection.
  std::uint64_t content_size() const { return _content_size; }
  // The first reason the message will be refused, or none.
  data_rejection rejection() const { return _rejection; }
  // The reply for the end of data when rejected; nullopt means acceptable.
  std::optional<reply> verdict() const;

  bool bare_line_ending_seen() const { return _bare_line_ending_seen; }
  bool oversize() const { return _oversize; }
  bool line_too_long() const { return _line_too_long; }
  bool nul_seen() const { return _nul_seen; }
  bool eight_bit_seen() const { return _eight_bit_seen; }

 private:
  enum class state : std::uint8_t {
    line_start,  // after CRLF (or at the start): a "." here is stuffing or the terminator
    in_line,     // inside a line
    in_line_cr,  // a CR was written as content; LF makes it a line end
    dot,         // "." at line start, dropped
    dot_cr,      // "." CR at line start, both held: LF ends data
    done,
  };

  void reject(data_rejection why);
  // Whole lines from buffer[read], while in_line or line_start and nothing
  // rejected; stops at the first byte the byte-at-a-time step must decide.
  // Content goes to buffer[write...].
  void fast_lines(std::byte* buffer, std::size_t size, std::size_t& read, std::size_t& write);

  data_limits _limits;
  state _state = state::line_start;
  data_rejection _rejection = data_rejection::none;
  std::size_t _line_size = 0;  // octets of the current line, without its line ending
  std::uint64_t _content_size = 0;
  bool _bare_line_ending_seen = false;
  bool _oversize = false;
  bool _line_too_long = false;
  bool _nul_seen = false;
  bool _eight_bit_seen = false;
  // Normalize mode: bytes owed to the output that did not fit in place.
  std::array<std::byte, 4> _pending{};
  std::uint8_t _pending_size = 0;
  std::array<std::byte, 4> _prefix{};
};

// BDAT (RFC 3030) needs no unstuffing: the chunk is exactly `size` octets
// after the command line. This counts them across receive buffers and keeps
// the message total against its limit.
//
// Lifecycle: one per session on the session's core; reset() per message.
class bdat_counter {
 public:
  explicit bdat_counter(std::uint64_t message_size_max) : _message_size_max(message_size_max) {}

  // After a BDAT command: the next `size` octets are content.
  void start_chunk(std::uint64_t size, bool last);
  // Of `available` received bytes, how many belong to the current chunk; the
  // rest is the next command.
  std::size_t take(std::size_t available);

  bool chunk_complete() const { return _chunk_remaining == 0; }
  std::uint64_t chunk_remaining() const { return _chunk_remaining; }
  bool last_chunk() const { return _last; }
  std::uint64_t message_size() const { return _message_size; }
  // The declared chunks add up to more than the limit: discard the content
  // (take() still counts it) and reply 552 5.3.4 to the chunk.
  bool oversize() const { return _message_size > _message_size_max; }
  void reset();

 private:
  std::uint64_t _message_size_max;
  std::uint64_t _message_size = 0;
  std::uint64_t _chunk_remaining = 0;
  bool _last = false;
};

}  // namespace smtp
