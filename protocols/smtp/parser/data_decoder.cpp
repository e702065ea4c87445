#include "protocols/smtp/parser/data_decoder.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <emmintrin.h>

#include "kernel_io/base/assert.h"

namespace smtp {
namespace {

constexpr std::byte cr{'\r'};
constexpr std::byte lf{'\n'};
constexpr std::byte dot{'.'};

// The offset of the first CR or LF in s[from, to), or `to`; records whether
// a NUL or an 8-bit byte comes before it. 16 bytes at a time with SSE2 (the
// x86-64 baseline). s[0, size) may be read: a last partial block is read as
// the block that ends at `size`, so no byte-at-a-time tail unless size < 16.
std::size_t find_line_end(const std::byte* bytes, std::size_t from, std::size_t to, std::size_t size, bool& nul,
                          bool& eight_bit) {
  const char* s = reinterpret_cast<const char*>(bytes);
  const __m128i cr_v = _mm_set1_epi8('\r');
  const __m128i lf_v = _mm_set1_epi8('\n');
  const __m128i zero = _mm_setzero_si128();
  __m128i any_high = zero;
  __m128i any_nul = zero;
  std::size_t i = from;
  unsigned found = 0;  // mask of the bytes before the stop in the last block
  unsigned high_bits = 0, nul_bits = 0;
  for (; i + 16 <= to; i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    const unsigned hit = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, cr_v) | _mm_cmpeq_epi8(x, lf_v)));
    if (hit != 0) {
      const unsigned at = static_cast<unsigned>(__builtin_ctz(hit));
      found = (1u << at) - 1;
      high_bits = static_cast<unsigned>(_mm_movemask_epi8(x)) & found;
      nul_bits = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, zero))) & found;
      i += at;
      goto done;
    }
    any_high |= x;
    any_nul |= _mm_cmpeq_epi8(x, zero);
  }
  if (i < to) {
    const unsigned left = static_cast<unsigned>(to - i);  // 1..15
    if (size >= 16) {
      // The 16 bytes ending at min(i + 16, size); our bytes start at `shift`.
      const std::size_t base = std::min(i + 16, size) - 16;
      const unsigned shift = static_cast<unsigned>(i - base);
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + base));
      const unsigned valid = (1u << left) - 1;
      const unsigned hit =
          (static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, cr_v) | _mm_cmpeq_epi8(x, lf_v))) >> shift) &
          valid;
      const unsigned stop = hit != 0 ? static_cast<unsigned>(__builtin_ctz(hit)) : left;
      found = (1u << stop) - 1;
      high_bits = (static_cast<unsigned>(_mm_movemask_epi8(x)) >> shift) & found;
      nul_bits = (static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, zero))) >> shift) & found;
      i += stop;
    } else {
      for (; i < to; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '\r' || c == '\n') break;
        high_bits |= c >= 0x80;
        nul_bits |= c == 0;
      }
    }
  }
done:
  eight_bit |= (high_bits | static_cast<unsigned>(_mm_movemask_epi8(any_high))) != 0;
  nul |= (nul_bits | static_cast<unsigned>(_mm_movemask_epi8(any_nul))) != 0;
  return i;
}

}  // namespace

void data_decoder::fast_lines(std::byte* buffer, std::size_t size, std::size_t& read_io, std::size_t& write_io) {
  // Locals, written back at the end: std::byte stores may alias any member,
  // so members would be reloaded after every byte the loop touches.
  const std::size_t line_content_max = _limits.line_size_max >= 2 ? _limits.line_size_max - 2 : 0;
  const std::uint64_t size_max = _limits.message_size_max;
  std::size_t read = read_io;
  std::size_t write = write_io;
  std::size_t line_size = _line_size;
  std::uint64_t content_size = _content_size;  // <= size_max: nothing is rejected
  bool line_start = _state == state::line_start;
  bool nul = false, eight_bit = false;
  // Content is moved lazily: [run, read) is content not yet moved to `write`.
  // Only a dropped stuffing dot moves it, so a chunk without one moves nothing.
  std::size_t run = read;
  auto move_run = [&] {
    if (write != run) std::memmove(buffer + write, buffer + run, read - run);
    write += read - run;
  };
  for (;;) {
    if (line_start) {
      if (read >= size) break;
      const std::byte c = buffer[read];
      if (c == dot) {
        // A stuffing dot: dropped. "." CR and "." LF (maybe the terminator,
        // maybe a bare line ending) and a dot at the end of the chunk are the
        // byte step's.
        if (read + 1 >= size || buffer[read + 1] == cr || buffer[read + 1] == lf) break;
        move_run();
        ++read;
        run = read;
        line_start = false;
      } else if (c == cr) {
        // An empty line.
        if (read + 1 >= size || buffer[read + 1] != lf || size_max - content_size < 2) break;
        read += 2;
        content_size += 2;
        continue;
      } else if (c == lf) {
        break;
      } else {
        line_start = false;
      }
    }
    // In a line: the bytes up to the next CR or LF, as far as the limits allow.
    const std::size_t room_line = line_content_max - std::min(line_size, line_content_max);
    const std::uint64_t room_message = size_max - content_size;
    const std::size_t scan_max = static_cast<std::size_t>(
        std::min<std::uint64_t>(std::min<std::uint64_t>(size - read, room_line), room_message));
    const std::size_t end = find_line_end(buffer, read, read + scan_max, size, nul, eight_bit);
    const std::size_t length = end - read;
    line_size += length;
    content_size += length;
    read = end;
    if (length == scan_max) break;  // the chunk's end or a limit: the byte step decides
    // buffer[read] is CR or LF. Only CRLF (with room for it) is a line end here.
    if (buffer[read] != cr || read + 1 >= size || buffer[read + 1] != lf || room_message - length < 2) break;
    read += 2;
    content_size += 2;
    line_size = 0;
    line_start = true;
  }
  move_run();
  read_io = read;
  write_io = write;
  _line_size = line_size;
  _content_size = content_size;
  _state = line_start ? state::line_start : state::in_line;
  _nul_seen |= nul;
  _eight_bit_seen |= eight_bit;
}

void data_decoder::reset() {
  const data_limits limits = _limits;
  *this = data_decoder(limits);
}

void data_decoder::reject(data_rejection why) {
  if (_rejection == data_rejection::none) _rejection = why;
}

std::optional<reply> data_decoder::verdict() const {
  switch (_rejection) {
    case data_rejection::none: return std::nullopt;
    case data_rejection::bare_line_ending: return replies::bare_line_ending;
    case data_rejection::oversize: return replies::message_too_big;
    case data_rejection::line_too_long: return replies::message_line_too_long;
  }
  return std::nullopt;
}

data_step data_decoder::feed(std::span<std::byte> chunk) {
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
    // Fast path: whole lines, while nothing is wrong. A vector scan finds the
    // next CR or LF; CRLF and a stuffing dot are handled here; anything else
    // (a bare CR or LF, a dot that may end data, a limit reached, the end of
    // the chunk inside a line ending) goes to the byte step below.
    if (_rejection == data_rejection::none && (_state == state::in_line || _state == state::line_start)) {
      fast_lines(buffer, size, read, write);
      if (read >= size) break;
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

void bdat_counter::start_chunk(std::uint64_t size, bool last) {
  RM_ASSERT(_chunk_remaining == 0);
  _chunk_remaining = size;
  _last = last;
  // Saturating: the declared sizes come from the client.
  _message_size = size > UINT64_MAX - _message_size ? UINT64_MAX : _message_size + size;
}

std::size_t bdat_counter::take(std::size_t available) {
  const std::size_t taken = static_cast<std::size_t>(std::min<std::uint64_t>(available, _chunk_remaining));
  _chunk_remaining -= taken;
  return taken;
}

void bdat_counter::reset() {
  _message_size = 0;
  _chunk_remaining = 0;
  _last = false;
}

}  // namespace smtp
