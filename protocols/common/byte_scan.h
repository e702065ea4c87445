#pragma once
// find_first_of_bytes<'=', '\r', '\n'>(s, from, to): the offset of the first
// byte of s[from, to) equal to one of the given bytes, or `to`. 16 bytes at a
// time with SSE2 (the x86-64 baseline): the parsers that use it (MIME
// quoted-printable, HTML to text) spend most of their input in runs that hold
// none of their few special bytes. memchr finds one byte; this finds any of a
// few in one pass.

#include <emmintrin.h>

#include <cstddef>

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

}  // namespace proto
