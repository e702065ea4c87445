#pragma once
// Content-Transfer-Encoding decoders, streaming: feed arbitrary chunks,
// state is carried across them, output is appended. Both are lenient the way
// mail readers are, because senders are not: base64 skips whitespace and
// junk and stops at padding; quoted-printable keeps bad escapes literally.
// Memory: a few bytes of state (QP keeps at most qp_blank_run_max pending
// trailing blanks). Output never exceeds input size.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mime {

enum class transfer_encoding : std::uint8_t {
  seven_bit,  // also the default and the fallback for unknown tokens
  eight_bit,
  binary,
  base64,
  quoted_printable,
  unknown,    // an x-token or garbage: the body is passed through undecoded
};

transfer_encoding parse_transfer_encoding(std::string_view value);
std::string_view transfer_encoding_name(transfer_encoding e);

// Both decoders write either into a std::string (appended) or through a
// pointer into room the caller made: decode() writes at most
// decoded_size_max(input.size()) bytes and returns the end, finish() at
// most finish_size_max. The stream parser decodes through a pointer into a
// reused buffer, so the hot path has no per-byte push_back and no resize.
class base64_decoder {
 public:
  static constexpr std::size_t finish_size_max = 2;
  static constexpr std::size_t decoded_size_max(std::size_t input_size) { return input_size / 4 * 3 + 3; }

  void decode(std::string_view input, std::string& out);
  char* decode(std::string_view input, char* out);
  // Emits a trailing partial quantum (2 or 3 symbols) as 1 or 2 bytes.
  void finish(std::string& out);
  char* finish(char* out);
  bool done() const { return _padding_seen; }

 private:
  std::uint32_t _bits = 0;
  std::uint8_t _symbols = 0;  // symbols in _bits (0..3)
  bool _padding_seen = false;
};

class qp_decoder {
 public:
  // Trailing blanks before a line break are transport padding (RFC 2045
  // §6.7 rule 3) and are dropped; a run longer than this is output as is,
  // so the pending buffer stays bounded.
  static constexpr std::size_t qp_blank_run_max = 1024;
  static constexpr std::size_t finish_size_max = 2;
  // The input, plus the blanks and the 2 bytes ("=" and a hex digit, "=\r")
  // held back from earlier input.
  std::size_t decoded_size_max(std::size_t input_size) const { return input_size + _blanks.size() + 2; }

  void decode(std::string_view input, std::string& out);
  char* decode(std::string_view input, char* out);
  void finish(std::string& out);
  char* finish(char* out);

 private:
  enum class state : std::uint8_t { text, equals, equals_hex, equals_cr, equals_blank, cr };
  char* flush_blanks(char* out);
  char* hold_blank(char c, char* out);
  state _state = state::text;
  char _hex_first = 0;
  std::string _blanks;  // pending blanks (text) or padding after '=' (equals_blank)
};

// Whole-buffer helpers.
std::string decode_base64(std::string_view input);
std::string decode_quoted_printable(std::string_view input);
// Q encoding of RFC 2047: like QP but '_' is a space and there are no lines.
std::string decode_q_word(std::string_view input);

}  // namespace mime
