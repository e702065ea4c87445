#pragma once
// The data_decoder as it was before session 10's vector scan (main b13ae80),
// kept only here as the reference for data_decoder_diff_test: a
// byte-at-a-time state machine. Do not "fix" it: the new decoder must match
// it byte for byte, feed by feed.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernel_io/base/assert.h"
#include "protocols/smtp/parser/data_decoder.h"

namespace smtp::testing_reference {

constexpr std::byte cr{'\r'};
constexpr std::byte lf{'\n'};
constexpr std::byte dot{'.'};

class reference_data_decoder {
 public:
  explicit reference_data_decoder(const data_limits& limits = {}) : _limits(limits) {}

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

inline void reference_data_decoder::reset() {
  const data_limits limits = _limits;
  *this = reference_data_decoder(limits);
}

inline void reference_data_decoder::reject(data_rejection why) {
  if (_rejection == data_rejection::none) _rejection = why;
}

inline std::optional<reply> reference_data_decoder::verdict() const {
  switch (_rejection) {
    case data_rejection::none: return std::nullopt;
    case data_rejection::bare_line_ending: return replies::bare_line_ending;
    case data_rejection::oversize: return replies::message_too_big;
    case data_rejection::line_too_long: return replies::message_line_too_long;
  }
  return std::nullopt;
}

inline data_step reference_data_decoder::feed(std::span<std::byte> chunk) {
  data_step step;
  // Bytes owed from the last call go out first.
  if (_pending_size != 0) {
    std::memcpy(_prefix.data(), _pending.data(), _pending_size);
    step.prefix = std::span<const std::byte>(_prefix.data(), _pending_size);
    _pending_size = 0;
  }
  if (_state == state::done) {
    step.end_of_data = true;
    return step;
  }

  std::byte* const buffer = chunk.data();
  const std::size_t size = chunk.size();
  const bool normalize = _limits.bare_line_endings == bare_line_ending_policy::normalize;
  const std::size_t line_content_max = _limits.line_size_max >= 2 ? _limits.line_size_max - 2 : 0;
  std::size_t write = 0;  // content written so far; always <= read + 1 while byte `read` is handled
  std::size_t read = 0;
  bool stop = false;      // an emission spilled into _pending: nothing more may be written this call

  // Writes one content byte. The slot of the byte being read is free, so
  // the write position never passes the read position; what does not fit
  // (normalize mode expands a bare CR or LF to two bytes) waits in _pending.
  auto emit = [&](std::byte value) {
    ++_content_size;
    if (_content_size > _limits.message_size_max) {
      _oversize = true;
      reject(data_rejection::oversize);
    }
    if (_rejection != data_rejection::none) return;
    if (!stop && write <= read) {
      buffer[write++] = value;
    } else {
      RM_ASSERT(_pending_size < _pending.size());
      _pending[_pending_size++] = value;
      stop = true;
    }
  };
  // A content byte that is not part of a line ending.
  auto emit_text = [&](std::byte value) {
    if (value == std::byte{0}) _nul_seen = true;
    if (std::to_integer<unsigned>(value) >= 0x80) _eight_bit_seen = true;
    if (++_line_size > line_content_max) {
      _line_too_long = true;
      reject(data_rejection::line_too_long);
    }
    emit(value);
  };
  // A bare CR or LF has just been found; the CR, if any, is already written.
  // Either way the decoder goes on in_line, never line_start: a bare line
  // end must not make the next "." a stuffing dot or a terminator.
  auto bare_line_ending = [&](bool cr_written) {
    _bare_line_ending_seen = true;
    _state = state::in_line;
    if (!normalize) {
      reject(data_rejection::bare_line_ending);
      return;
    }
    if (!cr_written) emit(cr);
    emit(lf);
    _line_size = 0;
  };

  while (read < size && !stop) {
    // Fast path: a run of ordinary bytes inside a line, moved in one go.
    if (_state == state::in_line && _rejection == data_rejection::none) {
      std::size_t end = read;
      const std::size_t room_line = line_content_max - std::min(_line_size, line_content_max);
      const std::uint64_t room_message = _limits.message_size_max - std::min(_content_size, _limits.message_size_max);
      const std::size_t run_max = static_cast<std::size_t>(std::min<std::uint64_t>(
          std::min<std::uint64_t>(size - read, room_line), room_message));
      bool nul = false, eight_bit = false;
      while (end - read < run_max) {
        const unsigned char c = std::to_integer<unsigned char>(buffer[end]);
        if (c == '\r' || c == '\n') break;
        nul |= c == 0;
        eight_bit |= c >= 0x80;
        ++end;
      }
      const std::size_t run = end - read;
      if (run != 0) {
        if (write != read) std::memmove(buffer + write, buffer + read, run);
        write += run;
        read = end;
        _line_size += run;
        _content_size += run;
        _nul_seen |= nul;
        _eight_bit_seen |= eight_bit;
        continue;
      }
    }

    const std::byte value = buffer[read];
    bool again = true;
    while (again) {  // a byte may be looked at twice: once to end a state, once in in_line
      again = false;
      switch (_state) {
        case state::line_start:
          if (value == dot) {
            _state = state::dot;
          } else if (value == cr) {
            emit(cr);
            _state = state::in_line_cr;
          } else if (value == lf) {
            bare_line_ending(false);
          } else {
            emit_text(value);
            _state = state::in_line;
          }
          break;
        case state::in_line:
          if (value == cr) {
            emit(cr);
            _state = state::in_line_cr;
          } else if (value == lf) {
            bare_line_ending(false);
          } else {
            emit_text(value);
          }
          break;
        case state::in_line_cr:
          if (value == lf) {
            emit(lf);
            _line_size = 0;
            _state = state::line_start;
          } else {
            bare_line_ending(true);
            _state = state::in_line;
            again = true;
          }
          break;
        case state::dot:
          // The leading dot is dropped whatever follows: stuffing or terminator.
          if (value == cr) {
            _state = state::dot_cr;
          } else if (value == lf) {
            bare_line_ending(false);
          } else {
            _state = state::in_line;
            again = true;
          }
          break;
        case state::dot_cr:
          if (value == lf) {
            _state = state::done;
          } else {
            // "." CR X: the CR was bare; the dot was stuffing.
            bare_line_ending(false);
            _state = state::in_line;
            again = true;
          }
          break;
        case state::done:
          break;
      }
    }
    ++read;
    if (_state == state::done) {
      step.end_of_data = true;
      break;
    }
  }
  step.content_size = write;
  step.consumed = read;
  return step;
}

}  // namespace smtp::testing_reference
