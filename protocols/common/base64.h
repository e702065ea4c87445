#pragma once
// Base64 (RFC 4648 section 4, the standard alphabet) for SASL exchanges and
// MIME bodies. Pure functions over bytes; the caller owns every buffer, and
// the allocating helpers take an explicit output bound.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "kernel_io/base/result.h"

namespace proto {

enum class base64_errc {
  invalid_character,  // a byte outside the alphabet (and not skippable whitespace)
  bad_padding,        // '=' in the wrong place, or data after the padding
  bad_length,         // strict: not a multiple of 4; any mode: a lone 6-bit group
  non_canonical,      // strict: the unused low bits of the last group are not zero
  output_too_small,   // the decoded bytes do not fit the caller's bound
};

enum class base64_mode {
  // SASL (RFC 4954 / RFC 4422): exactly the canonical encoding. No
  // whitespace, padding required, unused bits zero. Anything else is refused
  // so that one credential has one spelling.
  strict,
  // MIME bodies and sloppy clients: skips SP, HTAB, CR and LF anywhere,
  // accepts missing padding and non-zero unused bits. Other bytes outside the
  // alphabet are still errors.
  lenient,
};

// Exact length of the encoding of `size` bytes (with padding).
constexpr std::size_t base64_encoded_size(std::size_t size) { return (size + 2) / 3 * 4; }
// Upper bound of the decoding of `size` encoded characters.
constexpr std::size_t base64_decoded_size_max(std::size_t size) { return (size + 3) / 4 * 3; }

// Appends the padded encoding of `input` to `output`.
void base64_encode(std::span<const std::byte> input, std::string& output);
void base64_encode(std::string_view input, std::string& output);
std::string base64_encode(std::string_view input);

// Decodes into `output` and returns the number of bytes written. Fails with
// output_too_small rather than writing past `output`.
kio::result<std::size_t, base64_errc> base64_decode(std::string_view input, std::span<std::byte> output,
                                                     base64_mode mode);

// Decodes into a new string of at most `decoded_size_max` bytes; the bound is
// checked before anything is allocated.
kio::result<std::string, base64_errc> base64_decode(std::string_view input, base64_mode mode,
                                                     std::size_t decoded_size_max);

}  // namespace proto
