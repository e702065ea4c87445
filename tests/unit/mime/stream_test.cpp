// The push parser: events and decoded bytes do not depend on how the bytes
// are chunked, and its tree is parse_message()'s tree.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>

#include "protocols/mime/stream_parser.h"
#include "tests/unit/mime/mime_check.h"

using namespace mime;

namespace {

struct decoded_collector final : stream_handler {
  std::vector<std::string> decoded;
  std::vector<std::string> types;
  std::vector<std::string> fields;
  void on_part_header_begin(const part_info& p) override {
    decoded.resize(p.id + 1);
    types.resize(p.id + 1);
  }
  void on_header_field(const part_info& p, const stream_header_field& f) override {
    fields.push_back(std::string(f.name) + "=" + std::string(f.value));
  }
  void on_part_body_begin(const part_info& p) override { types[p.id] = p.type.type + "/" + p.type.subtype; }
  void on_decoded_body(const part_info& p, std::string_view d) override { decoded[p.id] += d; }
};

const std::string encoded =
    "From: a@b\r\n"
    "Subject: =?utf-8?Q?caf=C3=A9?=\r\n"
    "  folded\r\n"
    "Content-Type: multipart/alternative; boundary=\"==b==\"\r\n"
    "\r\n"
    "--==b==\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "SGVsbG8sIHN0cmVhbWluZyB3b3JsZCEKU2Vjb25kIGxp\r\n"
    "bmUu\r\n"
    "--==b==\r\n"
    "Content-Type: text/html\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "<p>soft=\r\n"
    " break =3D equals</p>\r\n"
    "--==b==--\r\n";

}  // namespace

TEST(mime_stream, decodes_base64_and_qp_text_in_any_chunking) {
  for (std::uint32_t seed = 0; seed < 50; ++seed) {
    decoded_collector c;
    stream_parser parser(c);
    std::mt19937 rng(seed);
    std::size_t pos = 0;
    while (pos < encoded.size()) {
      std::size_t n = seed == 0 ? encoded.size() : 1 + rng() % 7;
      n = std::min(n, encoded.size() - pos);
      std::string chunk = encoded.substr(pos, n);
      parser.feed(chunk);
      pos += n;
    }
    parser.finish();
    ASSERT_EQ(c.types.size(), 3u);
    EXPECT_EQ(c.decoded[1], "Hello, streaming world!\nSecond line.") << seed;
    EXPECT_EQ(c.decoded[2], "<p>soft break = equals</p>") << seed;
    ASSERT_GE(c.fields.size(), 2u);
    EXPECT_EQ(c.fields[1], "Subject= =?utf-8?Q?caf=C3=A9?=\r\n  folded") << seed;
  }
  EXPECT_EQ(check::check_message(encoded, 20), "");
}

TEST(mime_stream, byte_at_a_time_equals_one_chunk_on_tricky_input) {
  // CR/LF split across chunks, boundary prefixes cut mid-way, lines that
  // look like boundaries but are not, a bare CR, and no final newline.
  const std::string tricky =
      "Content-Type: multipart/mixed; boundary=abc\r\n\r\n"
      "--abcdef is still a boundary by prefix\r\n\r\n"
      "-- abc not one\r\n--ab\r\n-\r\n\r\r\n"
      "--abc\r\nContent-Type: message/rfc822\r\n\r\n"
      "Subject: in\r\nContent-Type: multipart/mixed; boundary=abc2\r\n\r\n--abc2\r\n\r\nx\r\n--abc\r\n"
      "\n\nlast\r";
  std::string err;
  std::string one = check::run_stream(tricky, 0, err, nullptr);
  EXPECT_EQ(err, "");
  for (std::uint32_t seed = 1; seed < 200; ++seed) {
    std::string chunked = check::run_stream(tricky, seed, err, nullptr);
    ASSERT_EQ(err, "") << seed;
    ASSERT_EQ(chunked, one) << seed;
  }
  EXPECT_EQ(check::check_message(tricky, 10), "");
}

TEST(mime_stream, header_fields_are_the_same_wherever_a_chunk_ends) {
  // A field is a view of the chunk while all its lines are in it, and is
  // copied when the chunk ends first: folded fields, one cut at the cap
  // (mid-line and on a later fold), a field after a line without a colon,
  // every message split in two at every byte, each chunk a fresh copy.
  const std::string m =
      "From: a@b\r\nSubject: one\r\n two\r\n\tthree\r\nbroken line\r\n"
      "X-Long: 0123456789012345678901234567890123456789\r\n more 0123456789\r\n again\r\n"
      "X-Cap:  0123456789012345678901234567890123\r\n over the cap\r\n"
      "Content-Type: text/plain;\r\n charset=utf-8\r\nTo: c@d\r\n\r\nbody\r\n";
  stream_options options;
  options.lim.header_field_size_max = 48;
  auto fields = [&](std::size_t cut) {
    decoded_collector c;
    std::vector<std::string> seen;
    struct with_flags final : stream_handler {
      decoded_collector& inner;
      std::vector<std::string>& out;
      with_flags(decoded_collector& i, std::vector<std::string>& o) : inner(i), out(o) {}
      void on_part_header_begin(const part_info& p) override { inner.on_part_header_begin(p); }
      void on_header_field(const part_info& p, const stream_header_field& f) override {
        out.push_back(std::string(f.name) + "=" + std::string(f.value) + (f.truncated ? " (truncated)" : "") + " @" +
                      std::to_string(f.offset) + "-" + std::to_string(f.end_offset));
      }
      void on_part_body_begin(const part_info& p) override { inner.on_part_body_begin(p); }
    } h(c, seen);
    stream_parser p(h, options);
    std::string first = m.substr(0, cut), second = m.substr(cut);
    p.feed(first);
    first.assign(first.size(), '#');  // a view kept into the old chunk would now read '#'
    p.feed(second);
    p.finish();
    return std::make_pair(seen, p.defects());
  };
  auto whole = fields(m.size());
  ASSERT_EQ(whole.first.size(), 6u);
  EXPECT_EQ(whole.first[1], "Subject= one\r\n two\r\n\tthree @11-39");
  EXPECT_EQ(whole.first[3], "X-Cap=  0123456789012345678901234567890123\r\n ove (truncated) @128-187");
  EXPECT_NE(whole.second & defect_header_line_without_colon, 0u);
  EXPECT_NE(whole.second & defect_header_field_truncated, 0u);
  for (std::size_t cut = 1; cut < m.size(); ++cut) ASSERT_EQ(fields(cut), whole) << cut;
}

TEST(mime_stream, field_names_trimmed_and_found_at_any_length_in_any_chunking) {
  // A header's lines are taken one after another in place while the chunk
  // holds them; a field's name is trimmed once (its colon found 16 bytes at
  // a time) and kept for the event; Content-Type and
  // Content-Transfer-Encoding are known by length, then case eight bytes
  // at a time (a CR where '-' is, or an 8-bit byte where 'c' is, folds
  // onto neither). Names with blanks and a CR before the colon, a colon past 16 bytes and past 32, a
  // line whose name is only blanks, a long line without a colon, a boundary
  // line inside a part's header, LF-only lines: every message split in two
  // at every byte, and the random chunkings of check_message, against one
  // chunk and the whole-buffer parser.
  const std::string m =
      "Subject \t: one\r\n"
      "\rX-Cr\r : two\r\n"
      "A-Field-Name-Longer-Than-Sixteen: three\r\n"
      "An-Even-Longer-Field-Name-Past-Thirty-Two-Bytes:four\n"
      "\r: no name\r\n"
      "no colon in this line, longer than sixteen bytes\r\n"
      "Content\rType: x/not-this-one\r\n"
      "\xe3ontent-type: x/nor-this\r\n"
      "CONTENT-TYPE: multipart/mixed; boundary=b\r\n"
      "content-type: text/plain\r\n"
      "\r\n"
      "--b\r\n"
      "Content-Type: text/plain; charset=us-ascii\r\n"
      "--b\r\n"
      "CoNtEnT-TrAnSfEr-EnCoDiNg : Quoted-Printable\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "Content-Type :text/plain\n"
      "\n"
      "a=3Db=\r\nc\r\n"
      "--b--\r\n";
  auto run = [&](std::size_t cut) {
    decoded_collector c;
    stream_parser p(c);
    std::string first = m.substr(0, cut), second = m.substr(cut);
    p.feed(first);
    first.assign(first.size(), '#');  // a view kept into the old chunk would now read '#'
    p.feed(second);
    p.finish();
    return std::make_tuple(c.fields, c.types, c.decoded, p.defects());
  };
  const auto whole = run(m.size());
  const std::vector<std::string> fields = {
      "Subject= one",
      "X-Cr= two",
      "A-Field-Name-Longer-Than-Sixteen= three",
      "An-Even-Longer-Field-Name-Past-Thirty-Two-Bytes=four",
      "Content\rType= x/not-this-one",
      "\xe3ontent-type= x/nor-this",
      "CONTENT-TYPE= multipart/mixed; boundary=b",
      "content-type= text/plain",
      "Content-Type= text/plain; charset=us-ascii",
      "CoNtEnT-TrAnSfEr-EnCoDiNg= Quoted-Printable",
      "Content-Transfer-Encoding= base64",
      "Content-Type=text/plain",
  };
  EXPECT_EQ(std::get<0>(whole), fields);
  // The first Content-Type and Content-Transfer-Encoding of a part count:
  // a multipart; a part cut short by the boundary in its header; a QP one.
  ASSERT_EQ(std::get<1>(whole).size(), 3u);
  EXPECT_EQ(std::get<1>(whole)[0], "multipart/mixed");
  EXPECT_EQ(std::get<1>(whole)[2], "text/plain");
  EXPECT_EQ(std::get<2>(whole)[2], "a=bc");
  EXPECT_NE(std::get<3>(whole) & defect_header_line_without_colon, 0u);
  EXPECT_NE(std::get<3>(whole) & defect_header_without_body, 0u);
  for (std::size_t cut = 0; cut < m.size(); ++cut) ASSERT_EQ(run(cut), whole) << cut;
  EXPECT_EQ(check::check_message(m, 50), "");
}

TEST(mime_stream, body_lines_longer_than_the_boundary_window_in_any_chunking) {
  // A body line whose first byte is not '-' is decided at once and its LF
  // looked for to the chunk's end; a line starting with '-' still waits for
  // the boundary window. Lines longer and shorter than the window, a CR at
  // the end of a long line (cut between CR and LF), "-" and "--" lines that
  // are not boundaries, a long line right after the held-back break: every
  // split in two, against one chunk, and check_message's chunkings.
  const std::string long_line(150, 'x');
  const std::string m =
      "Content-Type: multipart/mixed; boundary=bnd\r\n\r\n"
      "preamble " + long_line + "\r\n"
      "--bnd\r\n"
      "Content-Type: text/plain\r\n\r\n"
      "short\r\n" + long_line + "\r\n"
      "-" + long_line + "\r\n"
      "--not-the-boundary " + long_line + "\n"
      "\r\n" + long_line + "\r\r\n"
      "a" + long_line + "\n"
      "--bnd\r\n"
      "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      "q=3D" + long_line + "=\r\n" + long_line + "\r\n"
      "--bnd--\r\n"
      "epilogue " + long_line + "\r\n";
  auto run = [&](std::size_t cut) {
    decoded_collector c;
    struct bodies final : stream_handler {
      decoded_collector& inner;
      std::vector<std::string> raw;
      explicit bodies(decoded_collector& i) : inner(i) {}
      void on_part_header_begin(const part_info& p) override {
        inner.on_part_header_begin(p);
        raw.resize(p.id + 1);
      }
      void on_part_body_begin(const part_info& p) override { inner.on_part_body_begin(p); }
      void on_body(const part_info& p, std::string_view r, std::size_t) override { raw[p.id] += r; }
      void on_decoded_body(const part_info& p, std::string_view d) override { inner.on_decoded_body(p, d); }
    } h(c);
    stream_parser p(h);
    std::string first = m.substr(0, cut), second = m.substr(cut);
    p.feed(first);
    p.feed(second);
    p.finish();
    return std::make_tuple(h.raw, c.decoded, p.defects());
  };
  const auto whole = run(m.size());
  ASSERT_EQ(std::get<0>(whole).size(), 3u);
  EXPECT_EQ(std::get<0>(whole)[1], "short\r\n" + long_line + "\r\n-" + long_line + "\r\n--not-the-boundary " +
                                       long_line + "\n\r\n" + long_line + "\r\r\na" + long_line);
  EXPECT_EQ(std::get<1>(whole)[2], "q=" + long_line + long_line);
  for (std::size_t cut = 0; cut < m.size(); ++cut) ASSERT_EQ(run(cut), whole) << cut;
  EXPECT_EQ(check::check_message(m, 50), "");
}

// A cap below boundary_size_max + 4 (the bytes of a line kept to match a
// boundary): a field name longer than the cap had its colon in the line but
// not in the capped field, and flush_field() asserted. The field is dropped
// as truncated, whole and wherever a chunk ends; the next field is kept.
TEST(mime_stream, a_field_name_longer_than_the_cap_is_dropped) {
  const std::string m = "From: a@b\r\nX-" + std::string(60, 'n') + ": value\r\nTo: c@d\r\n\r\nbody\r\n";
  stream_options options;
  options.lim.header_field_size_max = 48;
  for (std::size_t cut = 1; cut <= m.size(); ++cut) {
    decoded_collector c;
    stream_parser p(c, options);
    p.feed(m.substr(0, cut));
    p.feed(m.substr(cut));
    p.finish();
    ASSERT_EQ(c.fields, (std::vector<std::string>{"From= a@b", "To= c@d"})) << cut;
    EXPECT_NE(p.defects() & defect_header_field_truncated, 0u) << cut;
  }
}

TEST(mime_stream, buffering_is_bounded) {
  // A 4 MB body line with active boundaries and a 4 MB header field: the
  // parser must not hold either (the carry is at most a boundary's worth).
  std::string m = "Content-Type: multipart/mixed; boundary=q\r\nX-Big: " + std::string(4 << 20, 'h') +
                  "\r\n\r\n--q\r\n\r\n" + std::string(4 << 20, 'b') + "\r\n--q--\r\n";
  limits lim;
  lim.header_field_size_max = 4096;
  EXPECT_EQ(check::check_message(m, 1, lim), "");
}

TEST(mime_stream, reset_parser_equals_a_fresh_one) {
  // A parser abandoned in the middle of a header, of a boundary line and of
  // a QP escape, then reset(), must parse the next message exactly as a new
  // parser does (events, decoded bytes, defects, part count).
  auto fresh = [](std::string_view m) {
    decoded_collector c;
    stream_parser p(c);
    p.feed(m);
    p.finish();
    return std::make_tuple(c.decoded, c.types, c.fields, p.defects(), p.part_count());
  };
  const std::string next = "Subject: second\r\nContent-Type: text/plain\r\n"
                           "Content-Transfer-Encoding: quoted-printable\r\n\r\nx=3Dy =\r\nz\r\n";
  for (std::size_t cut : {std::size_t{5}, std::size_t{60}, encoded.size() - 40, encoded.size() - 12}) {
    decoded_collector c;
    stream_parser p(c);
    p.feed(std::string_view(encoded).substr(0, cut));
    c.decoded.clear();
    c.types.clear();
    c.fields.clear();
    p.reset();
    p.feed(next);
    p.finish();
    EXPECT_EQ(std::make_tuple(c.decoded, c.types, c.fields, p.defects(), p.part_count()), fresh(next)) << cut;
    // And a whole message after a finished one.
    c.decoded.clear();
    c.types.clear();
    c.fields.clear();
    p.reset();
    p.feed(encoded);
    p.finish();
    EXPECT_EQ(std::make_tuple(c.decoded, c.types, c.fields, p.defects(), p.part_count()), fresh(encoded)) << cut;
  }
}
