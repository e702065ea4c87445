#pragma once
// The byte-level kernel of the tokenizer: lowercases ASCII letters and marks
// which bytes can be part of a word, 64 bytes per mask word. Three
// implementations with one contract: a scalar table walk (the reference),
// SSE2 (the x86-64 baseline) and AVX2 (chosen at run time when the CPU has
// it). The tokenizer test runs all three over the SpamAssassin corpus and
// requires identical token streams, so they cannot drift apart.
//
// Word bytes: ASCII letters and digits, every byte >= 0x80 (UTF-8 sequences
// stay whole), and the in-word punctuation  $ ' - . _ @ ! % : / ,  that keeps
// prices, addresses, URLs and contractions in one run; the token rules trim
// that punctuation at the ends.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace filter {

enum class simd_level : std::uint8_t { scalar, sse2, avx2 };

// The best level this CPU supports (AVX2: CPUID and XGETBV, asked once).
simd_level detect_simd_level();
std::string_view simd_level_name(simd_level level);

// Writes in[0..size) to out with 'A'..'Z' lowercased, sets bit (i % 64)
// of masks[i / 64] when in[i] is a word byte, and of special[i / 64] when
// it is a byte a token rule looks for: ':' (URLs), '@' (addresses) or
// >= 0x80 (UTF-8 case folding) — so a word without one skips those rules
// without looking at its bytes again. Bits past `size` in the last mask
// words are zero. `out` needs room for size rounded up to 64 bytes (the
// vector kernels store the last partial block whole; the bytes past `size`
// are unspecified) and must not overlap `in`; masks and special need
// (size + 63) / 64 words each.
void fold_and_classify(simd_level level, const char* in, char* out, std::uint64_t* masks, std::uint64_t* special,
                       std::size_t size);

// The scalar reference, exposed for tests.
bool is_word_byte(unsigned char c);
bool is_special_byte(unsigned char c);

}  // namespace filter
