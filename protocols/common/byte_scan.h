#pragma once
// find_first_of_bytes<'=', '\r', '\n'>(s, from, to): the offset of the first
// byte of s[from, to) equal to one of the given bytes, or `to`. 16 bytes at a
// time with SSE2 (the x86-64 baseline): the parsers that use it (MIME
// quoted-printable, HTML to text) spend most of their input in runs that hold
// none of their few special bytes. memchr finds one byte; this finds any of a
// few in one pass. ascii_lower8(): case folding of eight bytes in a word (header
// names in the MIME parser and the spam tokenizer).

#include <emmintrin.h>

#include <cstddef>
#include <cstdint>

namespace proto {

template <char... Bytes>
std::size_t find_first_of_bytes(const char* s, std::size_t from, std::size_t to) {
  static_assert(sizeof...(Bytes) > 0);
  std::size_t i = from;
  for (; i + 16 <= to; i += 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    __m128i hit = (_mm_cmpeq_epi8(x, _mm_set1_epi8(Bytes)) | ...);
    if (int mask = _mm_movemask_epi8(hit); mask != 0)
      return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
  for (; i < to; ++i)
    if (((s[i] == Bytes) || ...)) return i;
  return to;
}

// 'A'..'Z' to lowercase in eight bytes at once, every other byte kept:
// per byte b (no carry crosses a byte: b & 0x7f plus at most 0x3f),
// (b & 0x7f) + 0x80 - 'A' has its top bit when b & 0x7f >= 'A', and
// (b & 0x7f) + 0x80 - 'Z' - 1 when it is > 'Z'; ~b keeps bytes < 0x80.
inline std::uint64_t ascii_lower8(std::uint64_t w) {
  constexpr std::uint64_t ones = 0x0101010101010101u;
  const std::uint64_t low7 = w & (0x7f * ones);
  const std::uint64_t at_least_a = low7 + (0x80 - 'A') * ones;
  const std::uint64_t above_z = low7 + (0x80 - 'Z' - 1) * ones;
  const std::uint64_t upper = at_least_a & ~above_z & ~w & (0x80 * ones);
  return w | (upper >> 2);
}

}  // namespace proto
