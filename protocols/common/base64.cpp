#include "protocols/common/base64.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace proto {
namespace {

constexpr char encode_table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for the alphabet; the markers below for everything else, so the hot
// loop does one table lookup per input byte.
constexpr std::uint8_t invalid = 0xff;
constexpr std::uint8_t padding = 0xfe;
constexpr std::uint8_t whitespace = 0xfd;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  for (auto& entry : table) entry = invalid;
  for (std::uint8_t i = 0; i < 64; ++i) table[static_cast<unsigned char>(encode_table[i])] = i;
  table['='] = padding;
  table[' '] = whitespace;
  table['\t'] = whitespace;
  table['\r'] = whitespace;
  table['\n'] = whitespace;
  return table;
}
constexpr auto decode_table = make_decode_table();

}  // namespace

void base64_encode(std::span<const std::byte> input, std::string& output) {
  const std::size_t start = output.size();
  output.resize(start + base64_encoded_size(input.size()));
  char* out = output.data() + start;
  std::size_t i = 0;
  for (; i + 3 <= input.size(); i += 3) {
    const std::uint32_t group = (std::to_integer<std::uint32_t>(input[i]) << 16) |
                                (std::to_integer<std::uint32_t>(input[i + 1]) << 8) |
                                std::to_integer<std::uint32_t>(input[i + 2]);
    *out++ = encode_table[(group >> 18) & 63];
    *out++ = encode_table[(group >> 12) & 63];
    *out++ = encode_table[(group >> 6) & 63];
    *out++ = encode_table[group & 63];
  }
  const std::size_t rest = input.size() - i;
  if (rest == 0) return;
  std::uint32_t group = std::to_integer<std::uint32_t>(input[i]) << 16;
  if (rest == 2) group |= std::to_integer<std::uint32_t>(input[i + 1]) << 8;
  *out++ = encode_table[(group >> 18) & 63];
  *out++ = encode_table[(group >> 12) & 63];
  *out++ = rest == 2 ? encode_table[(group >> 6) & 63] : '=';
  *out++ = '=';
}

void base64_encode(std::string_view input, std::string& output) {
  base64_encode(std::as_bytes(std::span(input.data(), input.size())), output);
}

std::string base64_encode(std::string_view input) {
  std::string output;
  base64_encode(input, output);
  return output;
}

kio::result<std::size_t, base64_errc> base64_decode(std::string_view input, std::span<std::byte> output,
                                                     base64_mode mode) {
  const bool strict = mode == base64_mode::strict;
  if (strict && input.size() % 4 != 0) return kio::fail(base64_errc::bad_length);

  std::size_t written = 0;
  std::uint32_t group = 0;   // accumulated sextets, most significant first
  unsigned sextets = 0;      // sextets in `group`, 0..3
  std::size_t pad_count = 0; // '=' seen; after the first, only '=' and (lenient) whitespace

  for (const char c : input) {
    const std::uint8_t value = decode_table[static_cast<unsigned char>(c)];
    if (value < 64) {
      if (pad_count != 0) return kio::fail(base64_errc::bad_padding);
      group = (group << 6) | value;
      if (++sextets == 4) {
        if (output.size() - written < 3) return kio::fail(base64_errc::output_too_small);
        output[written++] = static_cast<std::byte>(group >> 16);
        output[written++] = static_cast<std::byte>(group >> 8);
        output[written++] = static_cast<std::byte>(group);
        group = 0;
        sextets = 0;
      }
    } else if (value == padding) {
      // Padding only completes a group of 2 or 3 sextets.
      if (sextets < 2 || sextets + pad_count >= 4) return kio::fail(base64_errc::bad_padding);
      ++pad_count;
    } else if (value == whitespace && !strict) {
      continue;
    } else {
      return kio::fail(base64_errc::invalid_character);
    }
  }

  if (sextets == 1) return kio::fail(base64_errc::bad_length);
  if (sextets != 0) {
    // A group of 2 sextets carries 1 byte, 3 carry 2; padding must make it
    // up to 4 in strict mode, and if present at all it must be complete.
    if (pad_count != 0 && sextets + pad_count != 4) return kio::fail(base64_errc::bad_padding);
    if (strict && sextets + pad_count != 4) return kio::fail(base64_errc::bad_padding);
    const unsigned bytes = sextets - 1;
    const unsigned unused_bits = sextets * 6 - bytes * 8;
    if (strict && (group & ((1u << unused_bits) - 1)) != 0) return kio::fail(base64_errc::non_canonical);
    group >>= unused_bits;
    if (output.size() - written < bytes) return kio::fail(base64_errc::output_too_small);
    for (unsigned b = bytes; b-- > 0;) output[written++] = static_cast<std::byte>(group >> (8 * b));
  } else if (pad_count != 0) {
    return kio::fail(base64_errc::bad_padding);
  }
  return written;
}

kio::result<std::string, base64_errc> base64_decode(std::string_view input, base64_mode mode,
                                                     std::size_t decoded_size_max) {
  // Whitespace makes the true size smaller, never larger, so this bound is
  // safe; the real overflow check is inside the span decoder.
  std::string output(std::min(base64_decoded_size_max(input.size()), decoded_size_max), '\0');
  auto decoded = base64_decode(input, std::as_writable_bytes(std::span(output.data(), output.size())), mode);
  if (!decoded) return kio::fail(decoded.error());
  output.resize(*decoded);
  return output;
}

}  // namespace proto
