#pragma once
// line_reader: splits a byte stream into protocol command lines with a hard
// cap on line length, without ever buffering more than the cap.
//
// It is fed the unread part of a received chunk and says how much of it it
// consumed. A line that lies entirely inside the chunk is returned as a view
// into the chunk (no copy); only a line split across chunks is assembled in
// the reader's own buffer, which never grows past line_length_max. The end of
// line is found with memchr (vectorised in glibc). LF ends a line; a CR right
// before it is removed; `bare_lf` tells the caller which one it saw, for
// protocols that care.
//
// A line longer than the cap is skipped up to its end and reported once as
// `too_long` when its end arrives, so the session answers "line too long" in
// step with the client; the bytes of it are never kept.
// Pure: no I/O. Owned by one session.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace kio {

class line_reader {
 public:
  enum class status { line, need_more, too_long };
  struct step {
    status state;
    std::string_view line;  // valid until the next feed() or the chunk is released
    size_t consumed;        // bytes of the input used
    bool bare_lf = false;   // the line ended in LF without CR
  };

  explicit line_reader(size_t line_length_max) : _line_length_max(line_length_max) {}

  step feed(std::span<const std::byte> input);

  // Forget any partial line (after STARTTLS: nothing from before the
  // handshake may be interpreted after it).
  void reset() {
    _partial.clear();
    _skipping = false;
    _pending_clear = false;
  }
  bool has_partial() const { return (!_partial.empty() && !_pending_clear) || _skipping; }
  size_t line_length_max() const { return _line_length_max; }
  void set_line_length_max(size_t n) { _line_length_max = n; }

 private:
  size_t _line_length_max;
  std::string _partial;   // a line split across chunks, at most _line_length_max + 1
  bool _skipping = false; // inside an over-long line
  bool _pending_clear = false;  // _partial holds the last returned line
};

}  // namespace kio
