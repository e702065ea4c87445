#include "protocols/mime/charset.h"

#include <emmintrin.h>
#include <iconv.h>

#include <cerrno>
#include <cstring>

#include "protocols/common/utf8.h"
#include "protocols/mime/header.h"

namespace mime {

static constexpr char32_t replacement_character = 0xFFFD;
// A multibyte sequence held between pieces is shorter than this (UTF-8: 4,
// GB18030: 4; iconv's EINVAL leaves at most one character's bytes).
static constexpr std::size_t held_size_max = 16;

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF).
static std::size_t utf8_sequence_size(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  std::size_t left = s.size() - i;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && (b(1) & 0xC0) == 0x80 ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || (b(1) & 0xC0) != 0x80 || (b(2) & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;
    if (c == 0xED && b(1) >= 0xA0) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || (b(1) & 0xC0) != 0x80 || (b(2) & 0xC0) != 0x80 || (b(3) & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;
    if (c == 0xF4 && b(1) >= 0x90) return 0;
    return 4;
  }
  return 0;
}

namespace {
// Offset of the first byte of s[from, n) at or above 0x80, or n: 16 bytes
// at a time (SSE2, the x86-64 baseline), because mail is mostly ASCII.
std::size_t ascii_run_end(std::string_view s, std::size_t from) {
  std::size_t i = from;
  for (; i + 16 <= s.size(); i += 16) {
    int mask = _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i)));
    if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  return i;
}
}  // namespace

bool is_ascii(std::string_view bytes) {
  __m128i any = _mm_setzero_si128();
  std::size_t i = 0;
  for (; i + 16 <= bytes.size(); i += 16)
    any = _mm_or_si128(any, _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes.data() + i)));
  unsigned char rest = 0;
  for (; i < bytes.size(); ++i) rest |= static_cast<unsigned char>(bytes[i]);
  return _mm_movemask_epi8(any) == 0 && rest < 0x80;
}

// Bytes a UTF-8 sequence with this lead byte needs (1: not a lead byte).
static std::size_t utf8_lead_size(unsigned char c) {
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 1;
}

// `held` (a piece of a longer text): a sequence that the piece's end cuts
// is not judged yet but held, to be judged with the bytes that follow.
static void sanitize_utf8(std::string_view bytes, std::string& out, std::string* held) {
  out.reserve(out.size() + bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    // ASCII runs (most of any mail) in one append, not byte by byte.
    std::size_t run = ascii_run_end(bytes, i);
    if (run > i) {
      out.append(bytes.data() + i, run - i);
      i = run;
      continue;
    }
    if (held != nullptr && i + utf8_lead_size(static_cast<unsigned char>(bytes[i])) > bytes.size()) {
      held->assign(bytes.substr(i));
      return;
    }
    std::size_t n = utf8_sequence_size(bytes, i);
    if (n == 0) {
      proto::append_code_point(replacement_character, out);
      ++i;
    } else {
      out.append(bytes.data() + i, n);
      i += n;
    }
  }
}

void append_sanitized_utf8(std::string_view bytes, std::string& out) { sanitize_utf8(bytes, out, nullptr); }

// Canonical charset name: lowercase, common aliases folded, RFC 2231
// language suffix ("utf-8*en") removed.
static std::string canonical_charset(std::string_view charset) {
  std::size_t star = charset.find('*');
  if (star != std::string_view::npos) charset = charset.substr(0, star);
  std::string name = to_lower_ascii(trim_blanks(charset));
  if (name == "utf8" || name == "unicode-1-1-utf-8") return "utf-8";
  if (name == "ascii" || name == "us_ascii" || name == "ansi_x3.4-1968" || name == "iso646-us" ||
      name == "us" || name.empty())
    return "us-ascii";
  if (name == "latin1" || name == "l1" || name == "iso8859-1" || name == "iso_8859-1" || name == "iso88591")
    return "iso-8859-1";
  if (name.rfind("cp125", 0) == 0 && name.size() == 6) return "windows-" + name.substr(2);
  if (name.rfind("x-cp125", 0) == 0 && name.size() == 8) return "windows-" + name.substr(4);
  if (name.rfind("iso8859-", 0) == 0) return "iso-8859-" + name.substr(8);
  if (name.rfind("iso_8859-", 0) == 0) return "iso-8859-" + name.substr(9);
  if (name.rfind("iso-8859-", 0) == 0) {
    // "iso-8859-1:1987" style suffixes.
    std::size_t colon = name.find(':');
    if (colon != std::string::npos) name.resize(colon);
  }
  if (name == "latin2") return "iso-8859-2";
  if (name == "latin9" || name == "latin-9") return "iso-8859-15";
  return name;
}

// Converts `bytes` with `cd` from the shift state it is in. `held` as in
// sanitize_utf8(): a multibyte sequence (or an ISO-2022 escape sequence)
// that the input's end cuts (iconv's EINVAL) is held instead of replaced.
// With `flush`, the shift state goes back to the initial one at the end
// (the text ends); without, the next piece goes on from it.
static void convert_with_iconv(iconv_t cd, std::string_view bytes, std::string& out, std::string* held, bool flush) {
  char* in = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  char buffer[1024];
  while (in_left > 0) {
    char* dst = buffer;
    std::size_t dst_left = sizeof buffer;
    std::size_t rc = iconv(cd, &in, &in_left, &dst, &dst_left);
    std::string converted(buffer, static_cast<std::size_t>(dst - buffer));
    append_sanitized_utf8(converted, out);
    if (rc == static_cast<std::size_t>(-1)) {
      if (errno == E2BIG) continue;
      if (errno == EINVAL && held != nullptr && in_left <= held_size_max) {
        held->assign(in, in_left);
        break;
      }
      // EILSEQ or EINVAL (truncated input): replace one byte and go on.
      // glibc's ISO-2022-CN-EXT reports EILSEQ for an SO with no SO
      // designation having consumed it: at the input's end nothing is left
      // to skip (in_left would wrap and iconv read past the input).
      proto::append_code_point(replacement_character, out);
      if (in_left > 0) {
        ++in;
        --in_left;
      }
      iconv(cd, nullptr, nullptr, nullptr, nullptr);
    }
  }
  if (!flush) return;
  char* dst = buffer;
  std::size_t dst_left = sizeof buffer;
  iconv(cd, nullptr, nullptr, &dst, &dst_left);  // back to the initial shift state (ISO-2022)
  out.append(buffer, static_cast<std::size_t>(dst - buffer));
}

static bool append_with_iconv(const std::string& charset, std::string_view bytes, std::string& out,
                              std::string* held) {
  iconv_t cd = iconv_open("UTF-8", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  convert_with_iconv(cd, bytes, out, held, true);
  iconv_close(cd);
  return true;
}

namespace {

// glibc loads a charset's gconv module (BIG5.so, EUC-CN.so with libGB.so,
// ...) at the first iconv_open and unloads it a few iconv_close calls of
// other charsets after its last descriptor closed: a converter opens and
// closes a descriptor per text, so messages in a few East Asian charsets
// mapped, relocated, page-faulted and unmapped the same modules again and
// again (44 loads in the 6046 corpus files of one `spam score` run, ~5
// mmaps each). One descriptor per charset, kept open by each thread (never
// converting), keeps its module loaded. Bounded: only a name iconv knows
// takes a place, and at most this many.
constexpr std::size_t pinned_modules_max = 32;

struct pinned_modules {
  std::string names[pinned_modules_max];
  iconv_t descriptors[pinned_modules_max];
  std::size_t count = 0;
  pinned_modules() = default;
  pinned_modules(const pinned_modules&) = delete;
  pinned_modules& operator=(const pinned_modules&) = delete;
  ~pinned_modules() {
    for (std::size_t i = 0; i < count; ++i) iconv_close(descriptors[i]);
  }
  void pin(const std::string& name) {
    for (std::size_t i = 0; i < count; ++i)
      if (names[i] == name) return;
    if (count == pinned_modules_max) return;
    iconv_t cd = iconv_open("UTF-8", name.c_str());
    if (cd == reinterpret_cast<iconv_t>(-1)) return;
    names[count] = name;
    descriptors[count] = cd;
    ++count;
  }
};

void pin_gconv_module(const std::string& name) {
  thread_local pinned_modules pinned;
  pinned.pin(name);
}

}  // namespace

charset_converter::iconv_handle::~iconv_handle() { close(); }

void charset_converter::iconv_handle::close() {
  if (_cd != nullptr) iconv_close(static_cast<iconv_t>(_cd));
  _cd = nullptr;
}

bool charset_converter::iconv_handle::open(const std::string& charset) {
  close();
  iconv_t cd = iconv_open("UTF-8", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  _cd = cd;
  return true;
}

void charset_converter::assign(std::string_view charset) {
  // A reused converter (one per message tokenizer) meets the same few
  // charsets part after part.
  _held.clear();
  // A new descriptor for each text (opened at its first piece): iconv's
  // reset keeps what glibc learnt from a byte order mark (UTF-16, UTF-32:
  // the byte swap), which would decode the next part, or the next message
  // on this core, in the last one's byte order.
  _pieces.close();
  _pieces_opened = false;
  _in_pieces = false;
  if (_resolved && charset == _assigned) return;
  _resolved = true;
  _assigned.assign(charset);
  _name = canonical_charset(charset);
  _upper_half = nullptr;
  _ascii_identity = true;
  if (_name == "utf-8" || _name == "us-ascii") {
    // Mislabelled 8-bit "us-ascii" is common; valid UTF-8 passes through.
    _kind = kind::utf8;
    return;
  }
  for (std::size_t k = 0; k < detail::single_byte_charset_count; ++k) {
    const auto& set = detail::single_byte_charsets[k];
    if (_name != set.name) continue;
    _kind = kind::single_byte;
    _upper_half = set.upper_half;
    return;
  }
  _kind = kind::other;
  if (_name.size() <= 40) pin_gconv_module(_name);
  // Whether iconv turns every ASCII byte into itself, asked once: glibc's
  // SHIFT_JIS makes 0x5C a yen sign and 0x7E an overline, UTF-7 gives
  // '+' meaning, UTF-16 pairs bytes.
  char ascii[0x7F];
  for (int c = 1; c <= 0x7F; ++c) ascii[c - 1] = static_cast<char>(c);
  std::string converted;
  if (_name.size() <= 40 && append_with_iconv(_name, std::string_view(ascii, sizeof ascii), converted, nullptr))
    _ascii_identity = converted == std::string_view(ascii, sizeof ascii);
  if (!_ascii_identity) return;
  // glibc's ISO-2022-JP passes a lone ESC, but ESC $ B shifts to JIS X
  // 0208: under any of its names (csISO2022JP, ISO2022JP), ASCII bytes
  // are not text as they stand.
  static constexpr std::string_view shift = "\x1b$B0!\x1b(B";
  converted.clear();
  if (_name.size() <= 40 && append_with_iconv(_name, shift, converted, nullptr)) _ascii_identity = converted == shift;
}

bool charset_converter::append_utf8(std::string_view bytes, std::string& out) const {
  return convert(bytes, out, nullptr);
}

void charset_converter::append_piece_utf8(std::string_view bytes, std::string& out) {
  if (!_held.empty()) {
    _joined.assign(_held);
    _joined.append(bytes);
    _held.clear();
    bytes = _joined;
  }
  if (!convert_piece(bytes, out, &_held, false)) convert(bytes, out, &_held);
}

void charset_converter::finish(std::string& out) {
  if (_in_pieces) {
    // The text ends: what is held is converted (and replaced where cut)
    // in the shift state the last piece left, then the state is reset.
    _joined.swap(_held);
    _held.clear();
    convert_piece(_joined, out, nullptr, true);
    _in_pieces = false;
    _pieces.close();  // the next text opens its own (assign())
    _pieces_opened = false;
    return;
  }
  if (_held.empty()) return;
  _joined.swap(_held);
  _held.clear();
  convert(_joined, out, nullptr);
}

bool charset_converter::convert_piece(std::string_view bytes, std::string& out, std::string* held, bool flush) {
  if (_kind != kind::other || _name.size() > 40) return false;
  if (!_pieces_opened) {
    // Opened at the text's first piece, kept to its end: one iconv_open
    // per part, not per piece.
    _pieces_opened = true;
    _pieces.open(_name);
  }
  if (!_pieces.is_open()) return false;
  convert_with_iconv(static_cast<iconv_t>(_pieces.get()), bytes, out, held, flush);
  _in_pieces = !flush;
  return true;
}

bool charset_converter::convert(std::string_view bytes, std::string& out, std::string* held) const {
  switch (_kind) {
    case kind::utf8:
      sanitize_utf8(bytes, out, held);
      return true;
    case kind::single_byte: {
      // Every table agrees with ASCII below 0x80: ASCII runs are appended
      // whole, the other bytes one code point each.
      std::size_t i = 0;
      while (i < bytes.size()) {
        std::size_t run = ascii_run_end(bytes, i);
        out.append(bytes.data() + i, run - i);
        for (i = run; i < bytes.size() && static_cast<unsigned char>(bytes[i]) >= 0x80; ++i)
          proto::append_code_point(_upper_half[static_cast<unsigned char>(bytes[i]) - 0x80], out);
      }
      return true;
    }
    case kind::other:
      if (_name.size() <= 40 && append_with_iconv(_name, bytes, out, held)) return true;
      sanitize_utf8(bytes, out, held);
      return false;
  }
  return false;
}

bool append_utf8(std::string_view charset, std::string_view bytes, std::string& out) {
  return charset_converter(charset).append_utf8(bytes, out);
}

}  // namespace mime
