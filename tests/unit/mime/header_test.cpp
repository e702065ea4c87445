// Header fields, RFC 2047 words, charsets, addresses, Content-Type and the
// transfer decoders, on hand-made input with known answers.
#include <gtest/gtest.h>
#include <iconv.h>

#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/utf8.h"
#include "protocols/mime/address.h"
#include "protocols/mime/charset.h"
#include "protocols/mime/content_type.h"
#include "protocols/mime/encoded_word.h"
#include "protocols/mime/header.h"
#include "protocols/mime/transfer.h"

using namespace mime;

TEST(mime_header, splits_fields_with_offsets_and_unfolds) {
  std::string h = "Subject: hello\r\n world\r\nFrom: a@b\r\n\r\nbody";
  header_block b = parse_header_block(h);
  ASSERT_EQ(b.fields.size(), 2u);
  EXPECT_EQ(b.fields[0].name, "Subject");
  EXPECT_EQ(b.fields[0].raw_value, " hello\r\n world");
  EXPECT_TRUE(b.fields[0].folded);
  EXPECT_EQ(b.fields[0].unfolded_value(), "hello world");
  EXPECT_EQ(b.fields[0].offset, 0u);
  EXPECT_EQ(b.fields[0].end_offset, 24u);
  EXPECT_EQ(b.fields[1].offset, 24u);
  EXPECT_EQ(b.end_offset, h.find("body"));
  EXPECT_TRUE(b.has_blank_line);
  EXPECT_EQ(b.lines, 4u);
}

TEST(mime_header, unfold_equals_dropping_line_breaks_then_trimming) {
  // unfold_into trims first and appends the runs between line breaks (16
  // bytes at a time): against the definition, every string of the bytes
  // that matter up to 6 long, and random longer ones (runs past 16 bytes).
  auto reference = [](std::string_view raw) {
    std::string out;
    for (char c : raw)
      if (c != '\r' && c != '\n') out.push_back(c);
    std::size_t b = 0, e = out.size();
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (b < e && blank(out[b])) ++b;
    while (e > b && blank(out[e - 1])) --e;
    return out.substr(b, e - b);
  };
  const std::string alphabet = " \t\r\nab";
  std::string scratch = "old bytes, replaced";
  for (std::size_t len = 0; len <= 6; ++len) {
    std::size_t total = 1;
    for (std::size_t k = 0; k < len; ++k) total *= alphabet.size();
    for (std::size_t code = 0; code < total; ++code) {
      std::string raw;
      for (std::size_t k = 0, c = code; k < len; ++k, c /= alphabet.size()) raw.push_back(alphabet[c % alphabet.size()]);
      ASSERT_EQ(unfold(raw), reference(raw));
      unfold_into(raw, scratch);
      ASSERT_EQ(scratch, reference(raw));
    }
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string raw;
    for (std::size_t k = 0, n = rng() % 120; k < n; ++k) raw.push_back(rng() % 8 == 0 ? alphabet[rng() % 4] : 'x');
    unfold_into(raw, scratch);
    ASSERT_EQ(scratch, reference(raw)) << raw;
  }
}

TEST(mime_header, bare_lf_8bit_and_missing_colon) {
  std::string h = "X-A: \xC3\xA9t\xE9\nthis line has no colon\n\tstray? no: it continues X-A\nB : v\n\nbody";
  header_block b = parse_header_block(h);
  ASSERT_EQ(b.fields.size(), 2u);
  EXPECT_EQ(b.fields[0].raw_value, " \xC3\xA9t\xE9");
  EXPECT_EQ(b.fields[1].name, "B");  // blanks before the colon trimmed
  EXPECT_EQ(b.fields[1].raw_value, " v");
  EXPECT_EQ(b.skipped_lines, 2u);  // the colon-less line and the continuation after it
  EXPECT_TRUE(b.defects & defect_header_line_without_colon);
  EXPECT_EQ(h.substr(b.end_offset), "body");
}

TEST(mime_header, count_limit_drops_extra_fields_but_finds_body) {
  std::string h;
  for (int i = 0; i < 5000; ++i) h += "X-N: " + std::to_string(i) + "\r\n";
  h += "\r\nbody";
  limits lim;
  lim.header_count_max = 100;
  header_block b = parse_header_block(h, lim);
  EXPECT_EQ(b.fields.size(), 100u);
  EXPECT_TRUE(b.defects & defect_header_count_limit);
  EXPECT_EQ(h.substr(b.end_offset), "body");
}

TEST(mime_header, no_blank_line_runs_to_end) {
  header_block b = parse_header_block("A: 1\r\nB: 2");
  ASSERT_EQ(b.fields.size(), 2u);
  EXPECT_EQ(b.fields[1].raw_value, " 2");
  EXPECT_FALSE(b.has_blank_line);
  EXPECT_EQ(b.end_offset, 10u);
}

TEST(mime_encoded_word, b_and_q_and_adjacent_joined) {
  EXPECT_EQ(decode_header_value("=?utf-8?B?w6l0w6k=?="), "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(decode_header_value("=?ISO-8859-1?Q?Andr=E9?= Pirard"), "Andr\xC3\xA9 Pirard");
  EXPECT_EQ(decode_header_value("=?iso-8859-1?q?this=20is=20some=20text?="), "this is some text");
  // RFC 2047 §8 examples: whitespace between adjacent words disappears.
  EXPECT_EQ(decode_header_value("(=?ISO-8859-1?Q?a?= b)"), "(a b)");
  EXPECT_EQ(decode_header_value("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)"), "(ab)");
  EXPECT_EQ(decode_header_value("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)"), "(ab)");
  EXPECT_EQ(decode_header_value("(=?ISO-8859-1?Q?a_b?=)"), "(a b)");
  // A UTF-8 character split across two words survives the join.
  EXPECT_EQ(decode_header_value("=?utf-8?B?ww==?= =?utf-8?B?qQ==?="), "\xC3\xA9");
  EXPECT_EQ(decode_header_value("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?="), "\xC3\xA9");
}

TEST(mime_encoded_word, broken_words_stay_literal) {
  EXPECT_EQ(decode_header_value("=?utf-8?X?abc?="), "=?utf-8?X?abc?=");
  EXPECT_EQ(decode_header_value("=?utf-8?Q?unterminated"), "=?utf-8?Q?unterminated");
  EXPECT_EQ(decode_header_value("plain =? text"), "plain =? text");
  // Words glued to text (common in spam) are decoded, as readers do.
  EXPECT_EQ(decode_header_value("x=?utf-8?Q?y?=z"), "xyz");
  // Unknown charset: bytes kept, made valid UTF-8.
  EXPECT_EQ(decode_header_value("=?x-nonsense?Q?a=FFb?="), "a\xEF\xBF\xBD" "b");
  // RFC 2231 language suffix on the charset.
  EXPECT_EQ(decode_header_value("=?US-ASCII*EN?Q?Keith_Moore?="), "Keith Moore");
}

TEST(mime_charset, tables_and_iconv) {
  std::string out;
  EXPECT_TRUE(append_utf8("windows-1252", "\x80\x93q\x94", out));
  EXPECT_EQ(out, "\xE2\x82\xAC\xE2\x80\x9Cq\xE2\x80\x9D");
  out.clear();
  EXPECT_TRUE(append_utf8("iso-8859-15", "\xA4", out));
  EXPECT_EQ(out, "\xE2\x82\xAC");
  out.clear();
  EXPECT_TRUE(append_utf8("ISO-8859-2", "\xB1", out));
  EXPECT_EQ(out, "\xC4\x85");
  out.clear();
  EXPECT_TRUE(append_utf8("latin1", "\xE9", out));
  EXPECT_EQ(out, "\xC3\xA9");
  out.clear();
  EXPECT_TRUE(append_utf8("us-ascii", "ok\xFF", out));
  EXPECT_EQ(out, "ok\xEF\xBF\xBD");
  out.clear();
  EXPECT_TRUE(append_utf8("koi8-r", "\xF0\xD2\xC9\xD7\xC5\xD4", out));
  EXPECT_EQ(out, "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");  // "Привет"
  out.clear();
  EXPECT_TRUE(append_utf8("gb2312", "\xC4\xE3\xBA\xC3", out));  // 你好 via iconv
  EXPECT_EQ(out, "\xE4\xBD\xA0\xE5\xA5\xBD");
  out.clear();
  append_sanitized_utf8("\xC0\xAF\xED\xA0\x80", out);  // overlong and surrogate
  EXPECT_EQ(out, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  // ASCII runs around valid and invalid sequences, appended after what
  // `out` held.
  out = "x";
  append_sanitized_utf8("ab\xC3\xA9" "cd\xFF" "ef", out);
  EXPECT_EQ(out, "xab\xC3\xA9" "cd\xEF\xBF\xBD" "ef");
}

// A converter made once per body part equals the one-shot append_utf8 and,
// for the single-byte charsets, the table applied byte by byte: ASCII runs
// of every length (the bulk path takes 16 bytes at a time) around 8-bit
// bytes, appended after what `out` held. is_ascii agrees with a byte loop.
TEST(mime_charset, converter_equals_the_tables_byte_by_byte) {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> run(0, 40), high(0x80, 0xFF), low(0x01, 0x7F);
  charset_converter reused;
  for (int n = 0; n < 300; ++n) {
    std::string bytes;
    for (int k = run(rng) % 6; k >= 0; --k) {
      for (int a = run(rng); a > 0; --a) bytes.push_back(static_cast<char>(low(rng)));
      for (int h = run(rng) % 4; h > 0; --h) bytes.push_back(static_cast<char>(high(rng)));
    }
    bool ascii = true;
    for (char c : bytes) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    ASSERT_EQ(is_ascii(bytes), ascii) << n;
    for (std::size_t k = 0; k < detail::single_byte_charset_count; ++k) {
      const auto& set = detail::single_byte_charsets[k];
      std::string want = "held";
      for (char ch : bytes) {
        auto c = static_cast<unsigned char>(ch);
        proto::append_code_point(c < 0x80 ? c : set.upper_half[c - 0x80], want);
      }
      charset_converter converter(set.name);
      std::string got = "held";
      EXPECT_TRUE(converter.append_utf8(bytes, got));
      ASSERT_EQ(got, want) << set.name << " " << n;
      std::string one_shot = "held";
      EXPECT_TRUE(append_utf8(set.name, bytes, one_shot));
      ASSERT_EQ(one_shot, want) << set.name;
      // One converter reassigned part after part (the same name twice in a
      // row is not looked up again).
      for (int twice = 0; twice < 2; ++twice) {
        reused.assign(set.name);
        std::string again = "held";
        EXPECT_TRUE(reused.append_utf8(bytes, again));
        ASSERT_EQ(again, want) << set.name;
      }
    }
    for (std::string_view name : {"utf-8", "us-ascii", "gb2312", "x-unknown-charset", "UTF-8", "Latin1"}) {
      std::string want, got, again;
      bool known = append_utf8(name, bytes, want);
      EXPECT_EQ(charset_converter(name).append_utf8(bytes, got), known);
      ASSERT_EQ(got, want) << name;
      reused.assign(name);
      EXPECT_EQ(reused.append_utf8(bytes, again), known);
      ASSERT_EQ(again, want) << name;
    }
  }
  std::string long_ascii(100, 'a');
  EXPECT_TRUE(is_ascii(long_ascii));
  for (std::size_t at : {0, 15, 16, 31, 99}) {
    std::string s = long_ascii;
    s[at] = '\x80';
    EXPECT_FALSE(is_ascii(s)) << at;
  }
}

// A body part arrives in pieces (SMTP chunks, the stream parser's decode
// slices) that may end inside a multibyte character. Converting each piece
// on its own turned the two halves of a Shift_JIS or UTF-8 character into
// two U+FFFD, so the spam tokens of such a mail depended on where a chunk
// ended. append_piece_utf8() + finish() must give what append_utf8() gives
// for the whole text, cut anywhere: real text in each charset, with ASCII,
// and garbage.
// glibc's ISO-2022-CN-EXT reports EILSEQ for an SO (0x0E) with no SO
// designation having consumed it: at the end of the input (or of a piece)
// the replacement skipped one byte more, the count of bytes left wrapped,
// and iconv read on past the input (a mail's body or header word ending
// so). What follows the input must not show, whole, in pieces, in a
// header word.
TEST(mime_charset, an_error_that_consumes_the_input_reads_nothing_past_it) {
  const std::string buffer = std::string("ab \x0e") + "PAST THE END";
  const std::string_view input(buffer.data(), 4);
  std::string whole;
  EXPECT_TRUE(charset_converter("iso-2022-cn-ext").append_utf8(input, whole));
  EXPECT_EQ(whole, "ab \xEF\xBF\xBD");
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    charset_converter c("iso-2022-cn-ext");
    std::string pieces;
    c.append_piece_utf8(input.substr(0, cut), pieces);
    c.append_piece_utf8(input.substr(cut), pieces);
    c.finish(pieces);
    EXPECT_EQ(pieces, whole) << cut;
  }
  EXPECT_EQ(decode_header_value("=?iso-2022-cn-ext?Q?ab=0E?= x"), "ab\xEF\xBF\xBD x");
}

// One converter, text after text (a message tokenizer's, part after part
// and message after message): glibc's UTF-16 and UTF-32 keep the byte swap
// a byte order mark asked for through iconv's reset, so a text after one
// in the other byte order decoded byte-swapped. Each text converts as with
// a new converter.
TEST(mime_charset, a_text_in_pieces_converts_as_with_a_new_converter) {
  const std::string utf16_be("\xFE\xFF\x00h\x00i", 6), utf16_le("\xFF\xFE" "h\x00i\x00", 6);
  const std::string utf32_be("\x00\x00\xFE\xFF\x00\x00\x00h", 8), utf32_le("\xFF\xFE\x00\x00h\x00\x00\x00", 8);
  for (std::string_view name : {"utf-16", "utf-32"}) {
    const bool sixteen = name == "utf-16";
    const std::vector<std::string> texts = {sixteen ? utf16_be : utf32_be, sixteen ? utf16_le : utf32_le,
                                            sixteen ? utf16_be : utf32_be};
    charset_converter reused(name);
    for (const std::string& text : texts) {
      std::string fresh, again;
      charset_converter(name).append_utf8(text, fresh);
      EXPECT_EQ(fresh, sixteen ? "hi" : "h");
      reused.assign(name);
      reused.append_piece_utf8(text, again);
      reused.finish(again);
      EXPECT_EQ(again, fresh) << name;
    }
  }
}

TEST(mime_charset, pieces_convert_as_the_whole) {
  const std::string utf8_text = "ab \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD"
                                "\xE3\x82\xB9\xE3\x83\x88 caf\xC3\xA9 \xF0\x9F\x98\x80 z";
  std::mt19937 rng(11);
  // The stateful 7-bit ones too (ISO-2022-*, UTF-7): an escape sequence
  // (or '+') in one piece says what the next piece's bytes mean.
  for (std::string_view name : {"utf-8", "unicode-1-1-utf-8", "shift_jis", "euc-jp", "gb18030", "big5", "euc-kr",
                                "iso-8859-1", "x-unknown-charset", "iso-2022-jp", "iso-2022-kr", "iso-2022-cn",
                                "utf-7"}) {
    // The text in that charset (iconv from UTF-8; the unknown one as UTF-8).
    std::string text = utf8_text;
    if (name != "utf-8" && name != "unicode-1-1-utf-8" && name != "x-unknown-charset" && name != "iso-8859-1") {
      iconv_t cd = iconv_open(std::string(name).c_str(), "UTF-8");
      ASSERT_NE(cd, reinterpret_cast<iconv_t>(-1)) << name;
      // What the charset can say: all of it (GB18030), Japanese, or two Han characters.
      std::string from = name == "gb18030" ? utf8_text : utf8_text.substr(0, 27) + " z";
      if (name == "big5" || name == "euc-kr" || name == "iso-2022-kr" || name == "iso-2022-cn")
        from = "ab \xE6\x97\xA5\xE6\x9C\xAC z";
      if (name == "utf-7") from = utf8_text;
      char* in = from.data();
      std::size_t in_left = from.size();
      char buffer[256];
      char* out = buffer;
      std::size_t out_left = sizeof buffer;
      ASSERT_NE(iconv(cd, &in, &in_left, &out, &out_left), static_cast<std::size_t>(-1)) << name;
      iconv_close(cd);
      text.assign(buffer, static_cast<std::size_t>(out - buffer));
    }
    std::vector<std::string> inputs = {text};
    for (int n = 0; n < 20; ++n) {  // the text with bytes flipped, cut short, or repeated
      std::string t = text;
      t[rng() % t.size()] = static_cast<char>(rng());
      if (n % 3 == 0) t.resize(rng() % t.size());
      if (n % 4 == 0) t += text.substr(rng() % text.size());
      inputs.push_back(t);
    }
    for (const std::string& input : inputs) {
      std::string whole = "held";
      charset_converter(name).append_utf8(input, whole);
      charset_converter pieces(name);
      for (std::size_t cut = 0; cut <= input.size(); ++cut) {
        std::string got = "held";
        pieces.assign(name);
        pieces.append_piece_utf8(std::string(input.substr(0, cut)), got);
        pieces.append_piece_utf8(std::string(input.substr(cut)), got);
        pieces.finish(got);
        ASSERT_EQ(got, whole) << name << " cut " << cut;
        EXPECT_FALSE(pieces.holding());
      }
      std::string bytewise = "held";
      for (char c : input) pieces.append_piece_utf8(std::string_view(&c, 1), bytewise);
      pieces.finish(bytewise);
      ASSERT_EQ(bytewise, whole) << name << " a byte at a time";
    }
  }
}

// Only a charset that converts every ASCII byte to itself lets an ASCII
// piece skip conversion. glibc passes every byte of ISO-2022-JP alone (a
// lone ESC too) but ESC $ B shifts: not identity under any of its names.
// The tokenizer keeps no list of stateful names: it relies on this.
namespace {
// Whether a shared object whose path ends in `name` is mapped in this process.
bool module_mapped(std::string_view name) {
  std::FILE* maps = std::fopen("/proc/self/maps", "r");
  if (maps == nullptr) return false;
  char line[4096];
  bool found = false;
  while (!found && std::fgets(line, sizeof line, maps) != nullptr) {
    std::string_view l(line);
    while (!l.empty() && l.back() == '\n') l.remove_suffix(1);
    found = l.ends_with(name);
  }
  std::fclose(maps);
  return found;
}
}  // namespace

// A charset's gconv module stays loaded once a converter used it: glibc
// unloads a module a few iconv_close calls of other charsets after its last
// descriptor closed, and every text opens and closes one, so a run of mail
// in a few East Asian charsets loaded the same modules again and again.
TEST(mime_charset, a_charsets_gconv_module_stays_loaded_after_its_converter) {
  std::string out;
  {
    charset_converter big5("big5");
    big5.append_piece_utf8("\xa4\xa4\xa4\xe5", out);  // two Han characters
    big5.finish(out);
  }
  EXPECT_EQ(out, "\xe4\xb8\xad\xe6\x96\x87");
  if (!module_mapped("/BIG5.so")) GTEST_SKIP() << "iconv's BIG5 is not a loadable gconv module here";
  // Texts in other iconv charsets, each through its own converter (its
  // descriptors opened and closed as a message's parts do).
  for (int round = 0; round < 3; ++round) {
    for (const char* charset : {"gb2312", "euc-kr", "shift_jis", "euc-jp", "iso-2022-jp", "utf-16", "gbk"}) {
      charset_converter other(charset);
      std::string text;
      other.append_piece_utf8("abc", text);
      other.finish(text);
    }
  }
  EXPECT_TRUE(module_mapped("/BIG5.so"));
}

TEST(mime_charset, ascii_is_identity_where_iconv_says_so) {
  for (std::string_view name : {"utf-8", "us-ascii", "iso-8859-1", "windows-1252", "euc-jp", "gb18030", "big5",
                                "euc-kr", "cp932", "x-unknown-charset"})
    EXPECT_TRUE(charset_converter(name).ascii_is_identity()) << name;
  for (std::string_view name : {"shift_jis", "utf-16le", "utf-16", "utf-7", "iso-2022-jp", "csISO2022JP", "ISO2022JP",
                                "iso2022jp2", "iso-2022-jp-3", "iso-2022-kr", "iso-2022-cn", "iso-2022-cn-ext"})
    EXPECT_FALSE(charset_converter(name).ascii_is_identity()) << name;
}

TEST(mime_address, display_names_comments_quotes_routes) {
  auto l = parse_address_list("\"Doe, John\" <john@example.com>, jane@example.org (Jane Roe), "
                              "<@relay.net,@r2:bob@x.y>, \"odd local\"@q.org");
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0].name, "Doe, John");
  EXPECT_EQ(l[0].mailbox, "john");
  EXPECT_EQ(l[0].host, "example.com");
  EXPECT_EQ(l[1].name, "Jane Roe");
  EXPECT_EQ(l[1].mailbox, "jane");
  EXPECT_EQ(l[2].route, "@relay.net,@r2");
  EXPECT_EQ(l[2].mailbox, "bob");
  EXPECT_EQ(l[2].host, "x.y");
  EXPECT_EQ(l[3].mailbox, "odd local");
  EXPECT_EQ(l[3].host, "q.org");
}

TEST(mime_address, groups) {
  auto l = parse_address_list("A Group:Chris Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, "
                              "undisclosed-recipients:;");
  ASSERT_EQ(l.size(), 7u);
  EXPECT_EQ(l[0].what, address::kind::group_start);
  EXPECT_EQ(l[0].name, "A Group");
  EXPECT_EQ(l[1].name, "Chris Jones");
  EXPECT_EQ(l[2].mailbox, "joe");
  EXPECT_EQ(l[3].host, "one.test");
  EXPECT_EQ(l[4].what, address::kind::group_end);
  EXPECT_EQ(l[5].what, address::kind::group_start);
  EXPECT_EQ(l[5].name, "undisclosed-recipients");
  EXPECT_EQ(l[6].what, address::kind::group_end);
}

TEST(mime_address, broken_input_recovered) {
  auto l = parse_address_list("John Q. Public <jqp@x.com, , bare, =?utf-8?Q?N=C3=A9?= <n@e.fr>,");
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0].name, "John Q. Public");
  EXPECT_EQ(l[0].mailbox, "jqp");
  EXPECT_EQ(l[0].host, "x.com");
  EXPECT_EQ(l[1].mailbox, "bare");
  EXPECT_EQ(l[1].host, "");
  EXPECT_EQ(l[2].name, "=?utf-8?Q?N=C3=A9?=");  // ENVELOPE keeps the raw bytes
  auto unterminated = parse_address_list("\"never closed <a@b>");
  ASSERT_EQ(unterminated.size(), 1u);  // the quote swallows the rest
  limits lim;
  lim.address_count_max = 10;
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "a@b,";
  EXPECT_EQ(parse_address_list(many, lim).size(), 10u);
}

TEST(mime_content_type, basics_and_defaults) {
  content_type ct = parse_content_type("Text/HTML; charset=\"UTF-8\" (comment); format = flowed");
  EXPECT_TRUE(ct.valid);
  EXPECT_EQ(ct.type, "text");
  EXPECT_EQ(ct.subtype, "html");
  EXPECT_EQ(ct.params.get("charset"), "UTF-8");
  EXPECT_EQ(ct.params.get("format"), "flowed");
  content_type bad = parse_content_type("garbage");
  EXPECT_FALSE(bad.valid);
  EXPECT_TRUE(bad.is("text", "plain"));
  EXPECT_EQ(bad.params.get("charset"), "us-ascii");
  EXPECT_TRUE(parse_content_type("", true).is_message_rfc822());
  content_type nosemi = parse_content_type("multipart/mixed boundary=\"b1\"");
  EXPECT_EQ(nosemi.params.get("boundary"), "");  // no ';': parameters are not there
  content_type loose = parse_content_type("application/octet-stream; name=foo bar.pdf;x=1");
  EXPECT_EQ(loose.params.get("name"), "foo");
}

TEST(mime_content_type, rfc2231_continuations_and_charsets) {
  content_type ct = parse_content_type(
      "application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; "
      "title*2=\"isn't it!\"");
  const parameter* t = ct.params.find("title");
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->extended);
  EXPECT_EQ(t->decoded(), "This is even more ***fun*** isn't it!");
  content_type out_of_order = parse_content_type("a/b; name*1=\"def\"; name*0=\"abc\"; name*2=ghi");
  EXPECT_EQ(out_of_order.params.get("name"), "abcdefghi");
  EXPECT_FALSE(out_of_order.params.find("name")->extended);
  content_disposition d = parse_content_disposition("attachment; filename*=UTF-8''%E2%82%AC%20rates.txt");
  EXPECT_EQ(d.type, "attachment");
  EXPECT_EQ(d.params.find("filename")->decoded(), "\xE2\x82\xAC rates.txt");
  content_disposition w = parse_content_disposition("inline; filename=\"=?iso-8859-1?Q?caf=E9.txt?=\"");
  EXPECT_EQ(w.params.find("filename")->decoded(), "caf\xC3\xA9.txt");
  content_type dup = parse_content_type("a/b; x=1; x=2");
  EXPECT_EQ(dup.params.get("x"), "1");
  EXPECT_EQ(dup.params.items.size(), 1u);
  // A plain parameter's section is moved into the list: a later duplicate,
  // plain or in sections, is still found there and dropped, and sections
  // before a plain one of the same name still win. Many parameters (past
  // the sections reserved up front) keep their order.
  content_type mixed = parse_content_type(
      "a/b; long=\"a value longer than a short string\"; Long*0=x; long*1=y; s*0=p; s*1=q; S=plain; "
      "c=3; d=4; e=5; f=6");
  ASSERT_EQ(mixed.params.items.size(), 6u);
  EXPECT_EQ(mixed.params.items[0].name, "long");
  EXPECT_EQ(mixed.params.get("long"), "a value longer than a short string");
  EXPECT_EQ(mixed.params.items[1].name, "s");
  EXPECT_EQ(mixed.params.get("s"), "pq");
  EXPECT_EQ(mixed.params.items[5].name, "f");
  EXPECT_EQ(mixed.params.get("f"), "6");
}

TEST(mime_transfer, base64_lenient_and_streaming) {
  EXPECT_EQ(decode_base64("aGVs bG8g\r\nd29y*bGQ="), "hello world");
  EXPECT_EQ(decode_base64("aGk=IGlnbm9yZWQ="), "hi");  // stops at padding
  EXPECT_EQ(decode_base64("aGk"), "hi");                // missing padding
  std::string all = "SGVsbG8sIHN0cmVhbWluZyB3b3JsZCEgVGhpcyBpcyBhIHRlc3Qu";
  for (std::size_t split = 0; split <= all.size(); ++split) {
    base64_decoder d;
    std::string out;
    d.decode(all.substr(0, split), out);
    d.decode(all.substr(split), out);
    d.finish(out);
    ASSERT_EQ(out, "Hello, streaming world! This is a test.") << split;
  }
}

TEST(mime_transfer, quoted_printable_soft_breaks_and_bad_escapes) {
  EXPECT_EQ(decode_quoted_printable("caf=E9 =\r\nna=c3=afve\r\n"), "caf\xE9 na\xC3\xAFve\r\n");
  EXPECT_EQ(decode_quoted_printable("trailing   \r\nnext\t\n"), "trailing\r\nnext\n");
  EXPECT_EQ(decode_quoted_printable("bad =ZZ and =4 end="), "bad =ZZ and =4 end");
  EXPECT_EQ(decode_quoted_printable("pad= \t \r\nx"), "padx");
  EXPECT_EQ(decode_quoted_printable("a=\nb\rc"), "ab\rc");
  std::string in = "Line one=\r\n continues =3D ok  \r\nbad=G1 x=\r\n";
  std::string whole = decode_quoted_printable(in);
  for (std::size_t a = 0; a <= in.size(); ++a) {
    for (std::size_t b = a; b <= in.size(); b += 3) {
      qp_decoder d;
      std::string out;
      d.decode(in.substr(0, a), out);
      d.decode(in.substr(a, b - a), out);
      d.decode(in.substr(b), out);
      d.finish(out);
      ASSERT_EQ(out, whole) << a << "," << b;
    }
  }
  EXPECT_EQ(whole, "Line one continues = ok\r\nbad=G1 x");
}

// Blanks inside a line are text (a run that a byte follows is appended at
// once); blanks before a line break or at the end are padding. Fed whole,
// in two pieces split anywhere, and a byte at a time (where every run
// reaches the end of its piece and takes the byte-wise path), the result
// is the same.
TEST(mime_transfer, quoted_printable_blank_runs_in_any_pieces) {
  std::string in = "a  b\t c  \r\nd \t\n e =\r\nf  =41 g\t\t\th  ";
  std::string expected = "a  b\t c\r\nd\n e f  A g\t\t\th";
  EXPECT_EQ(decode_quoted_printable(in), expected);
  for (std::size_t split = 0; split <= in.size(); ++split) {
    qp_decoder d;
    std::string out;
    d.decode(in.substr(0, split), out);
    d.decode(in.substr(split), out);
    d.finish(out);
    ASSERT_EQ(out, expected) << split;
  }
  qp_decoder bytewise;
  std::string out;
  for (char c : in) bytewise.decode(std::string_view(&c, 1), out);
  bytewise.finish(out);
  EXPECT_EQ(out, expected);
  // A run longer than the pending-blank cap is text all the same.
  std::string wide = "x" + std::string(3000, ' ') + "y";
  EXPECT_EQ(decode_quoted_printable(wide), wide);
}

TEST(mime_transfer, encoding_tokens) {
  EXPECT_EQ(parse_transfer_encoding(" Base64 "), transfer_encoding::base64);
  EXPECT_EQ(parse_transfer_encoding("quoted-printable (yes)"), transfer_encoding::quoted_printable);
  EXPECT_EQ(parse_transfer_encoding(""), transfer_encoding::seven_bit);
  EXPECT_EQ(parse_transfer_encoding("x-uuencode"), transfer_encoding::unknown);
}
