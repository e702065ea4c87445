#include "filter/tokenizer/simd_scan.h"

#include <cpuid.h>
#include <emmintrin.h>
#include <immintrin.h>

#include <array>
#include <cstring>

namespace filter {

namespace {

constexpr std::string_view in_word_punctuation = "$'-._@!%:/,";

constexpr std::array<bool, 256> make_word_table() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
  }
  for (char p : in_word_punctuation) t[static_cast<unsigned char>(p)] = true;
  return t;
}
constexpr std::array<bool, 256> word_table = make_word_table();

bool special(unsigned char c) { return c == ':' || c == '@' || c >= 0x80; }

void scalar_range(const char* in, char* out, std::uint64_t* masks, std::uint64_t* specials, std::size_t begin,
                  std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) {
    auto c = static_cast<unsigned char>(in[i]);
    if (word_table[c]) masks[i / 64] |= std::uint64_t{1} << (i % 64);
    if (special(c)) specials[i / 64] |= std::uint64_t{1} << (i % 64);
    out[i] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
}

// Masks of one 64-byte block: word bytes and special bytes.
struct block_masks {
  std::uint64_t word = 0, special = 0;
};

// SSE2: 16 bytes at a time. Range tests use the signed-compare trick:
// (x - lo) as a signed byte offset by -128 is below -128 + width exactly
// when lo <= x < lo + width.
[[gnu::always_inline]] inline __m128i in_range_sse2(__m128i x, char lo, char width) {
  __m128i shifted = _mm_add_epi8(x, _mm_set1_epi8(static_cast<char>(-128 - lo)));
  return _mm_cmplt_epi8(shifted, _mm_set1_epi8(static_cast<char>(-128 + width)));
}

[[gnu::always_inline]] inline void block16_sse2(const char* in, char* out, std::uint32_t& word_bits,
                                                std::uint32_t& special_bits) {
  __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
  __m128i upper = in_range_sse2(x, 'A', 26);
  __m128i lower = _mm_add_epi8(x, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), lower);
  __m128i word = _mm_or_si128(in_range_sse2(lower, 'a', 26), in_range_sse2(x, '0', 10));
  for (char p : in_word_punctuation) word = _mm_or_si128(word, _mm_cmpeq_epi8(x, _mm_set1_epi8(p)));
  __m128i sp = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(':')), _mm_cmpeq_epi8(x, _mm_set1_epi8('@')));
  // Bytes >= 0x80 are negative as signed bytes: their sign bit is the mask.
  auto high = static_cast<std::uint32_t>(_mm_movemask_epi8(x));
  word_bits = static_cast<std::uint32_t>(_mm_movemask_epi8(word)) | high;
  special_bits = static_cast<std::uint32_t>(_mm_movemask_epi8(sp)) | high;
}

[[gnu::always_inline]] inline block_masks block64_sse2(const char* in, char* out) {
  block_masks m;
  for (int k = 0; k < 4; ++k) {
    std::uint32_t w, sp;
    block16_sse2(in + 16 * k, out + 16 * k, w, sp);
    m.word |= std::uint64_t{w} << (16 * k);
    m.special |= std::uint64_t{sp} << (16 * k);
  }
  return m;
}

// The last partial block goes through the same kernel via a zero-padded
// copy of its input (NUL is neither a word nor a special byte, so the
// padding adds no mask bits), its output stored straight into `out`, whose
// room is rounded up to the block (simd_scan.h): a copy back was a
// memcpy call per feed, and most header values are one partial block.
template <class Block>
void tail_block(const char* in, char* out, std::uint64_t* masks, std::uint64_t* specials, std::size_t i,
                std::size_t size, Block block) {
  if (i == size) return;
  alignas(64) char padded_in[64] = {};
  std::memcpy(padded_in, in + i, size - i);
  block_masks m = block(padded_in, out + i);
  masks[i / 64] = m.word;
  specials[i / 64] = m.special;
}

void sse2_kernel(const char* in, char* out, std::uint64_t* masks, std::uint64_t* specials, std::size_t size) {
  std::size_t i = 0;
  for (; i + 64 <= size; i += 64) {
    block_masks m = block64_sse2(in + i, out + i);
    masks[i / 64] = m.word;
    specials[i / 64] = m.special;
  }
  tail_block(in, out, masks, specials, i, size, block64_sse2);
}

__attribute__((target("avx2"), always_inline)) inline __m256i in_range_avx2(__m256i x, char lo, char width) {
  __m256i shifted = _mm256_add_epi8(x, _mm256_set1_epi8(static_cast<char>(-128 - lo)));
  return _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(-128 + width)), shifted);
}

// AVX2: 32 bytes at a time, and the whole word-byte set below 0x80 by one
// nibble lookup (vpshufb): the set is eight rectangles of (high nibble,
// low nibbles), one bit each; lut_high[high nibble] & lut_low[low nibble]
// is non-zero exactly for a word byte, and bits 6 and 7 (':' and '@') mark
// the special ones. Bytes >= 0x80 look up zero in lut_high and come from
// their sign bits.
//   bit 0: 0x2_ low 1 4 5 7 12 13 14 15   ! $ % ' , - . /
//   bit 1: 0x3_ low 0-9                   digits
//   bit 2: 0x4_ low 1-15                  A-O
//   bit 3: 0x5_ low 0-10, 15              P-Z _
//   bit 4: 0x6_ low 1-15                  a-o
//   bit 5: 0x7_ low 0-10                  p-z
//   bit 6: 0x3_ low 10                    :
//   bit 7: 0x4_ low 0                     @
__attribute__((target("avx2"), always_inline)) inline void block32_avx2(const char* in, char* out,
                                                                        std::uint32_t& word_bits,
                                                                        std::uint32_t& special_bits) {
  __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in));
  __m256i upper = in_range_avx2(x, 'A', 26);
  __m256i lower = _mm256_add_epi8(x, _mm256_and_si256(upper, _mm256_set1_epi8(0x20)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), lower);
  const __m256i lut_high = _mm256_setr_epi8(0, 0, 0x01, 0x42, static_cast<char>(0x84), 0x08, 0x10, 0x20, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                            0, 0, 0x01, 0x42, static_cast<char>(0x84), 0x08, 0x10, 0x20, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i lut_low = _mm256_setr_epi8(static_cast<char>(0xaa), 0x3f, 0x3e, 0x3e, 0x3f, 0x3f, 0x3e, 0x3f, 0x3e, 0x3e, 0x7c,
                                           0x14, 0x15, 0x15, 0x15, 0x1d,  //
                                           static_cast<char>(0xaa), 0x3f, 0x3e, 0x3e, 0x3f, 0x3f, 0x3e, 0x3f, 0x3e, 0x3e, 0x7c,
                                           0x14, 0x15, 0x15, 0x15, 0x1d);
  __m256i nibble = _mm256_set1_epi8(0x0f);
  __m256i high = _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble);
  __m256i low = _mm256_and_si256(x, nibble);
  __m256i hit = _mm256_and_si256(_mm256_shuffle_epi8(lut_high, high), _mm256_shuffle_epi8(lut_low, low));
  __m256i zero = _mm256_setzero_si256();
  auto not_word = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hit, zero)));
  auto not_special = static_cast<std::uint32_t>(
      _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_and_si256(hit, _mm256_set1_epi8(static_cast<char>(0xc0))), zero)));
  auto high_bytes = static_cast<std::uint32_t>(_mm256_movemask_epi8(x));
  word_bits = ~not_word | high_bytes;
  special_bits = ~not_special | high_bytes;
}

__attribute__((target("avx2"), always_inline)) inline block_masks block64_avx2(const char* in, char* out) {
  std::uint32_t w0, s0, w1, s1;
  block32_avx2(in, out, w0, s0);
  block32_avx2(in + 32, out + 32, w1, s1);
  return {w0 | (std::uint64_t{w1} << 32), s0 | (std::uint64_t{s1} << 32)};
}

__attribute__((target("avx2"))) void avx2_kernel(const char* in, char* out, std::uint64_t* masks,
                                                 std::uint64_t* specials, std::size_t size) {
  std::size_t i = 0;
  for (; i + 64 <= size; i += 64) {
    block_masks m = block64_avx2(in + i, out + i);
    masks[i / 64] = m.word;
    specials[i / 64] = m.special;
  }
  tail_block(in, out, masks, specials, i, size, block64_avx2);
}

}  // namespace

bool is_word_byte(unsigned char c) { return word_table[c]; }
bool is_special_byte(unsigned char c) { return special(c); }

namespace {

// AVX2 as __builtin_cpu_supports("avx2") tells it (CPUID.7.0:EBX bit 5, with
// the OS saving the YMM state: CPUID.1:ECX OSXSAVE and AVX, XCR0 bits 1 and
// 2), asked directly: __builtin_cpu_supports links libgcc's
// __cpu_indicator_init, a constructor that runs at every process start and
// asks CPUID a dozen leaves. Under a hypervisor every CPUID is a trap (~6 us
// each on the development VM): ~0.1 ms of each `ringmail spam score` start,
// here three.
simd_level query_simd_level() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return simd_level::sse2;
  __cpuid(1, a, b, c, d);
  constexpr unsigned osxsave = 1u << 27, avx = 1u << 28;
  if ((c & (osxsave | avx)) != (osxsave | avx)) return simd_level::sse2;
  unsigned xcr0_low = 0, xcr0_high = 0;
  __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  if ((xcr0_low & 6u) != 6u) return simd_level::sse2;
  __cpuid_count(7, 0, a, b, c, d);
  if ((b & (1u << 5)) != 0) return simd_level::avx2;
  return simd_level::sse2;
}

}  // namespace

simd_level detect_simd_level() {
  static const simd_level level = query_simd_level();
  return level;
}

std::string_view simd_level_name(simd_level level) {
  switch (level) {
    case simd_level::scalar: return "scalar";
    case simd_level::sse2: return "sse2";
    case simd_level::avx2: return "avx2";
  }
  return "?";
}

void fold_and_classify(simd_level level, const char* in, char* out, std::uint64_t* masks, std::uint64_t* special,
                       std::size_t size) {
  switch (level) {
    case simd_level::scalar: {
      // The scalar walk sets bits; the block kernels store whole mask words.
      std::size_t words = (size + 63) / 64;
      std::memset(masks, 0, words * sizeof(std::uint64_t));
      std::memset(special, 0, words * sizeof(std::uint64_t));
      scalar_range(in, out, masks, special, 0, size);
      return;
    }
    case simd_level::sse2: sse2_kernel(in, out, masks, special, size); return;
    case simd_level::avx2: avx2_kernel(in, out, masks, special, size); return;
  }
}

}  // namespace filter
