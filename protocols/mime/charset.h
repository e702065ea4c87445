#pragma once
// Charset conversion to UTF-8 for header words and parameters. Single-byte
// charsets (ISO-8859-*, windows-125x, KOI8) use generated tables; UTF-8 and
// US-ASCII are validated; anything else goes through glibc iconv (part of
// libc; the first use of a charset may load a gconv module). Invalid or
// unconvertible bytes become U+FFFD, so the output is always valid UTF-8.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mime {

// Appends `bytes` in `charset` to `out` as UTF-8. Returns false when the
// charset is unknown (the bytes were then appended as sanitized UTF-8).
bool append_utf8(std::string_view charset, std::string_view bytes, std::string& out);

// Appends valid UTF-8; invalid sequences become U+FFFD.
void append_sanitized_utf8(std::string_view bytes, std::string& out);

// Whether every byte is below 0x80 (16 bytes at a time).
bool is_ascii(std::string_view bytes);

// One charset for many pieces (the pieces of a body part): its name is
// canonicalised and looked up once, not per piece. append_utf8() appends
// what the free append_utf8(charset, ...) does, and returns the same.
class charset_converter {
 public:
  charset_converter() = default;
  explicit charset_converter(std::string_view charset) { assign(charset); }
  charset_converter(const charset_converter&) = delete;
  charset_converter& operator=(const charset_converter&) = delete;
  void assign(std::string_view charset);
  bool append_utf8(std::string_view bytes, std::string& out) const;
  // The same for one piece of a longer text (a body part arrives in
  // chunks): a multibyte sequence cut at the piece's end is held and
  // completed by the next piece, the shift state of a stateful charset
  // (ISO-2022-*, UTF-7, HZ: an escape sequence in one piece says what the
  // next piece's bytes mean) goes on from piece to piece, and finish()
  // appends what is still held as append_utf8() would at the text's end
  // and resets the state. So the text converts the same however it is
  // cut. assign() drops what is held and the state.
  void append_piece_utf8(std::string_view bytes, std::string& out);
  void finish(std::string& out);
  // Whether finish() has something to do: bytes held, or a shift state
  // that a piece conversion left.
  bool holding() const { return !_held.empty() || _in_pieces; }
  // Whether an ASCII piece converts to itself (so it may skip conversion):
  // not for UTF-16, UTF-7, glibc's Shift_JIS, nor the ISO-2022 family under
  // any of its names (an escape sequence or SO shifts what the next bytes
  // mean).
  bool ascii_is_identity() const { return _ascii_identity; }

 private:
  enum class kind : std::uint8_t { utf8, single_byte, other };
  bool convert(std::string_view bytes, std::string& out, std::string* held) const;
  // A piece through the kept iconv descriptor (kind other); false when
  // there is none (not an iconv charset), and convert() does it.
  bool convert_piece(std::string_view bytes, std::string& out, std::string* held, bool flush);

  // An iconv descriptor (iconv_t, kept as void* so this header does not
  // pull in <iconv.h>), closed with its converter.
  class iconv_handle {
   public:
    iconv_handle() = default;
    ~iconv_handle();
    iconv_handle(const iconv_handle&) = delete;
    iconv_handle& operator=(const iconv_handle&) = delete;
    bool open(const std::string& charset);  // to UTF-8; false if iconv does not know it
    void close();
    bool is_open() const { return _cd != nullptr; }
    void* get() const { return _cd; }

   private:
    void* _cd = nullptr;
  };

  kind _kind = kind::utf8;
  const char16_t* _upper_half = nullptr;  // single_byte: code points of 0x80..0xFF
  std::string _name;                      // other: the canonical name, for iconv
  std::string _assigned;                  // as given to assign(): the same again is not looked up
  bool _resolved = false;
  bool _ascii_identity = true;
  std::string _held;    // the cut sequence at the last piece's end (a few bytes)
  std::string _joined;  // _held + the next piece, reused
  iconv_handle _pieces;       // kind other: the pieces' descriptor, with their shift state
  bool _pieces_opened = false;  // iconv_open was tried for this text
  bool _in_pieces = false;      // a piece left a shift state that finish() resets
};

namespace detail {
struct single_byte_charset {
  const char* name;
  const char16_t* upper_half;  // code points for bytes 0x80..0xFF
};
extern const single_byte_charset single_byte_charsets[];
extern const std::size_t single_byte_charset_count;
}  // namespace detail

}  // namespace mime
