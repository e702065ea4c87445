// The transfer decoders against their first, byte-at-a-time versions
// (transfer_reference.h): same bytes from every decode() and finish()
// call, for inputs cut at every point, through the string and the pointer
// interfaces, and never more than decoded_size_max() bytes per call.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "protocols/mime/stream_parser.h"
#include "protocols/mime/transfer.h"
#include "tests/unit/mime/transfer_reference.h"

using namespace mime;

namespace {

// Input biased towards what the decoders branch on.
std::string random_input(std::mt19937& rng, std::string_view alphabet, std::size_t size_max) {
  std::uniform_int_distribution<std::size_t> size(0, size_max);
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string s(size(rng), ' ');
  for (char& c : s) c = alphabet[pick(rng)];
  return s;
}

constexpr std::string_view qp_alphabet = "=====\r\r\n\n\n    \t\tAaF3gz0xZ\xE9-";
constexpr std::string_view base64_alphabet = "QUJDRGVmZ2g0NTY3+/==\r\n \t*";

// Each call's output through both interfaces of the decoder under test
// and the reference, the pieces given by `cuts`.
template <typename Decoder, typename Reference>
void expect_same_calls(std::string_view in, const std::vector<std::size_t>& cuts, const std::string& label) {
  Decoder by_string, by_pointer;
  Reference ref;
  std::size_t at = 0;
  for (std::size_t k = 0; k <= cuts.size(); ++k) {
    std::size_t to = k < cuts.size() ? cuts[k] : in.size();
    std::string_view piece = in.substr(at, to - at);
    at = to;
    std::string want = "prefix", got = "prefix";
    ref.decode(piece, want);
    by_string.decode(piece, got);
    ASSERT_EQ(got, want) << label << " piece " << k;
    // The pointer interface writes no more than it promises: the room
    // after the bound is a guard that must stay untouched.
    std::size_t room;
    if constexpr (std::is_same_v<Decoder, qp_decoder>) room = by_pointer.decoded_size_max(piece.size());
    else room = Decoder::decoded_size_max(piece.size());
    std::string buffer(room + 16, '#');
    char* end = by_pointer.decode(piece, buffer.data());
    ASSERT_LE(end, buffer.data() + room) << label;
    ASSERT_EQ(buffer.substr(room), std::string(16, '#')) << label;
    ASSERT_EQ(std::string_view(buffer.data(), static_cast<std::size_t>(end - buffer.data())), want.substr(6))
        << label << " piece " << k;
  }
  std::string want, got;
  ref.finish(want);
  by_string.finish(got);
  ASSERT_EQ(got, want) << label;
  char tail[Decoder::finish_size_max];
  char* end = by_pointer.finish(tail);
  ASSERT_EQ(std::string_view(tail, static_cast<std::size_t>(end - tail)), want) << label;
}

template <typename Decoder, typename Reference>
void expect_same_in_any_pieces(std::string_view in, const std::string& label) {
  expect_same_calls<Decoder, Reference>(in, {}, label + " whole");
  for (std::size_t a = 0; a <= in.size(); ++a) {
    expect_same_calls<Decoder, Reference>(in, {a}, label + " cut " + std::to_string(a));
    if (in.size() <= 40)
      for (std::size_t b = a; b <= in.size(); ++b)
        expect_same_calls<Decoder, Reference>(in, {a, b}, label + " cuts " + std::to_string(a) + "," + std::to_string(b));
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < in.size(); ++i) every.push_back(i);
  expect_same_calls<Decoder, Reference>(in, every, label + " bytewise");
}

}  // namespace

TEST(mime_transfer_reference, quoted_printable_cases_in_any_pieces) {
  for (std::string_view in : {
           "soft=\r\nbreak and soft=\nbare and =3D=3d=e9=E9 hex",
           "caf=E9 =\r\nna=c3=afve\r\n",
           "trailing   \r\nnext\t\n  \r  \rx \t",
           "bad =ZZ and =4 end= =\r=\r\r\n=\n\n=G=",
           "pad= \t \r\nx= \ty= \r\rz=  ",
           "a  b\t c  \r\nd \t\n e =\r\nf  =41 g\t\t\th  ",
           "=", "==", "=\r", "\r", " ", "=4", "=41", "= ", "a\r\r\n", "x=\r\n=\r\n",
           "0123456789abcdef0123456789abcdef=20=20=20 long line without specials in the first sixteen bytes\r\n",
           // The text-run loop: escapes, both soft breaks and both line
           // breaks after text, back to back and after runs of every length
           // around 16; then what leaves it (a blank before a break, a bad
           // escape, a bare CR, a special at the piece's end).
           "a=41b=\nc=\r\nd\r\ne\n=41=42\n\n=\n=\r\n0123456789abcde=410123456789abcdef=41"
           "0123456789abcdefg=\n0123456789abcdefgh\r\nx \ny\t\r\n=XY=4\rz\r=",
       })
    expect_same_in_any_pieces<qp_decoder, reference::qp_decoder>(in, std::string(in));
}

TEST(mime_transfer_reference, quoted_printable_random_input) {
  std::mt19937 rng(7);
  for (int n = 0; n < 400; ++n) {
    std::string in = random_input(rng, qp_alphabet, 90);
    expect_same_in_any_pieces<qp_decoder, reference::qp_decoder>(in, "random " + std::to_string(n));
  }
}

// Pending blanks are capped at qp_blank_run_max: runs around the cap, before
// a line break, before text, after "=" and at the end, cut anywhere near it.
TEST(mime_transfer_reference, quoted_printable_blank_runs_around_the_cap) {
  const std::size_t cap = qp_decoder::qp_blank_run_max;
  for (std::size_t run : {cap - 1, cap, cap + 1, 2 * cap + 5}) {
    for (std::string_view after : {"\r\nx", "\nx", "x", "=41", "", "\rx"}) {
      for (std::string_view before : {"a", "a=", "a=\r"}) {
        std::string in = std::string(before) + std::string(run, ' ') + std::string(after);
        std::string label = std::to_string(run) + " " + std::string(before) + "|" + std::string(after);
        expect_same_calls<qp_decoder, reference::qp_decoder>(in, {}, label);
        for (std::size_t a : {std::size_t{1}, std::size_t{2}, cap / 2, cap, cap + 1, cap + 2, in.size() - 1})
          if (a <= in.size()) expect_same_calls<qp_decoder, reference::qp_decoder>(in, {a}, label + " cut");
        std::vector<std::size_t> cuts;
        for (std::size_t a : {std::size_t{1}, cap / 3, cap / 2 + 7, cap + 1})
          if (a <= in.size()) cuts.push_back(a);
        expect_same_calls<qp_decoder, reference::qp_decoder>(in, cuts, label + " cuts");
      }
    }
  }
}

TEST(mime_transfer_reference, base64_cases_and_random_input_in_any_pieces) {
  for (std::string_view in : {"aGVs bG8g\r\nd29y*bGQ=", "aGk=IGlnbm9yZWQ=", "aGk", "SGVsbG8sIHN0cmVhbWluZw==",
                              "SGVs\r\nbG8s\r\nIHN0\r\ncmVh\r\nbWlu\r\nZw", "=", "A", "AB", "ABC", "ABCD"})
    expect_same_in_any_pieces<base64_decoder, reference::base64_decoder>(in, std::string(in));
  std::mt19937 rng(11);
  for (int n = 0; n < 300; ++n) {
    std::string in = random_input(rng, base64_alphabet, 90);
    expect_same_in_any_pieces<base64_decoder, reference::base64_decoder>(in, "random " + std::to_string(n));
  }
}

// Through the stream parser: a quoted-printable and a base64 text part far
// larger than the parser's decode slice, fed in uneven chunks to a parser
// reused across messages (its decode buffer only grows), decode to what
// the reference decoders make of the whole body.
TEST(mime_transfer_reference, stream_parser_decodes_large_parts_as_the_reference) {
  struct collector final : stream_handler {
    std::vector<std::string> decoded;
    void on_part_header_begin(const part_info& p) override { decoded.resize(p.id + 1); }
    void on_decoded_body(const part_info& p, std::string_view d) override { decoded[p.id] += d; }
  };
  std::mt19937 rng(3);
  std::string qp_body, b64_body;
  for (int line = 0; line < 900; ++line) {
    qp_body += random_input(rng, "abc de=3D=E9 \t", 70);
    qp_body += line % 3 == 0 ? "=\r\n" : "  \r\n";
    b64_body += random_input(rng, "QUJDRGVmZ2g0NTY3+/", 76) + "\r\n";
  }
  std::string msg = "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
                    "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
                    qp_body + "\r\n--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                    b64_body + "\r\n--b--\r\n";
  std::string want_qp, want_b64;
  reference::qp_decoder q;
  q.decode(qp_body, want_qp);
  q.finish(want_qp);
  reference::base64_decoder b;
  b.decode(b64_body, want_b64);
  b.finish(want_b64);
  ASSERT_GT(want_qp.size(), 20000u);  // more than one decode slice (16 KiB)
  ASSERT_GT(want_b64.size(), 20000u);
  collector c;
  stream_parser parser(c);
  for (std::size_t chunk : {msg.size(), std::size_t{7}, std::size_t{4093}, std::size_t{65536}, std::size_t{1}}) {
    c.decoded.clear();
    parser.reset();
    for (std::size_t at = 0; at < msg.size(); at += chunk) parser.feed(std::string_view(msg).substr(at, chunk));
    parser.finish();
    ASSERT_EQ(c.decoded.size(), 3u);
    EXPECT_EQ(c.decoded[1], want_qp) << chunk;
    EXPECT_EQ(c.decoded[2], want_b64) << chunk;
  }
}
