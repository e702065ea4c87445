// The part tree on hand-made messages with known offsets: nested
// multiparts, message/rfc822 inside multipart, broken boundaries, limits.
#include <gtest/gtest.h>

#include <string>

#include "protocols/mime/structure.h"
#include "tests/unit/mime/mime_check.h"

using namespace mime;

namespace {

std::string_view body_of(const message_tree& t, std::string_view msg, std::uint32_t id) {
  const part_info& p = t.parts[id].info;
  return msg.substr(p.body_start, p.body_size());
}
std::string_view header_of(const message_tree& t, std::string_view msg, std::uint32_t id) {
  const part_info& p = t.parts[id].info;
  return msg.substr(p.header_start, p.header_size());
}

// Every test also runs the shared invariants and chunking equivalence.
void expect_consistent(std::string_view msg, const limits& lim = {}) {
  EXPECT_EQ(check::check_message(msg, 4, lim), "");
}

const std::string nested =
    "From: a@b.c\r\n"
    "Subject: nested\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "plain text\r\n"
    "two lines\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>html</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: x@y.z\r\n"
    "Subject: inside\r\n"
    "\r\n"
    "embedded body\r\n"
    "--outer\r\n"
    "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"a.bin\"\r\n"
    "\r\n"
    "AAECAw==\r\n"
    "--outer--\r\n"
    "epilogue\r\n";

}  // namespace

TEST(mime_structure, nested_multipart_and_message_rfc822) {
  message_tree t = parse_message(nested);
  ASSERT_EQ(t.parts.size(), 7u);
  EXPECT_EQ(t.parts[0].info.kind, part_kind::multipart);
  EXPECT_EQ(t.parts[0].child_count, 3u);
  EXPECT_EQ(t.parts[1].info.type.subtype, "alternative");
  EXPECT_EQ(body_of(t, nested, 2), "plain text\r\ntwo lines");
  EXPECT_EQ(t.parts[2].info.body_lines, 2u);
  EXPECT_EQ(header_of(t, nested, 2), "Content-Type: text/plain; charset=utf-8\r\n\r\n");
  EXPECT_EQ(body_of(t, nested, 3), "<p>html</p>");
  EXPECT_EQ(body_of(t, nested, 1).substr(0, 9), "--inner\r\n");
  EXPECT_EQ(body_of(t, nested, 1).substr(body_of(t, nested, 1).size() - 9), "--inner--");
  EXPECT_EQ(t.parts[4].info.kind, part_kind::message);
  EXPECT_EQ(body_of(t, nested, 4), "From: x@y.z\r\nSubject: inside\r\n\r\nembedded body");
  EXPECT_EQ(t.parts[4].info.body_lines, 4u);
  EXPECT_EQ(t.parts[5].info.parent, 4u);
  EXPECT_EQ(header_of(t, nested, 5), "From: x@y.z\r\nSubject: inside\r\n\r\n");
  EXPECT_EQ(body_of(t, nested, 5), "embedded body");
  EXPECT_EQ(t.parts[6].info.encoding, transfer_encoding::base64);
  EXPECT_EQ(body_of(t, nested, 6), "AAECAw==");
  EXPECT_EQ(t.parts[6].info.parent, 0u);
  EXPECT_EQ(t.defects, 0u);
  // The root body is everything after its header, preamble and epilogue included.
  EXPECT_EQ(t.parts[0].info.body_end, nested.size());
  EXPECT_EQ(body_of(t, nested, 0).substr(0, 10), "preamble\r\n");
  expect_consistent(nested);
}

TEST(mime_structure, single_part_defaults) {
  std::string m = "Subject: x\r\n\r\nhello\r\nworld";
  message_tree t = parse_message(m);
  ASSERT_EQ(t.parts.size(), 1u);
  EXPECT_TRUE(t.parts[0].info.type.is("text", "plain"));
  EXPECT_EQ(t.parts[0].info.type.params.get("charset"), "us-ascii");
  EXPECT_FALSE(t.parts[0].info.has_content_type);
  EXPECT_EQ(body_of(t, m, 0), "hello\r\nworld");
  EXPECT_EQ(t.parts[0].info.body_lines, 2u);
  EXPECT_EQ(t.parts[0].info.header_lines, 2u);
  expect_consistent(m);
}

TEST(mime_structure, mbox_from_line_is_skipped) {
  std::string m = "From someone@example.com Sat Jan  3 01:05:34 1996\nSubject: x\n\nbody\n";
  message_tree t = parse_message(m);
  EXPECT_EQ(t.parts[0].info.header_start, m.find("Subject"));
  EXPECT_EQ(header_of(t, m, 0), "Subject: x\n\n");
  EXPECT_EQ(body_of(t, m, 0), "body\n");
  expect_consistent(m);
}

TEST(mime_structure, missing_final_boundary_runs_to_end) {
  std::string m =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nfirst\r\n--b\r\n"
      "Content-Type: text/html\r\n\r\nsecond runs\r\nto the end\r\n";
  message_tree t = parse_message(m);
  ASSERT_EQ(t.parts.size(), 3u);
  EXPECT_EQ(body_of(t, m, 1), "first");
  EXPECT_EQ(header_of(t, m, 1), "\r\n");
  EXPECT_EQ(body_of(t, m, 2), "second runs\r\nto the end\r\n");
  EXPECT_TRUE(t.defects & defect_missing_final_boundary);
  expect_consistent(m);
}

TEST(mime_structure, boundaries_that_prefix_each_other) {
  // The inner boundary starts with the outer one: the longest match wins.
  std::string m =
      "Content-Type: multipart/mixed; boundary=\"XX\"\n\n"
      "--XX\n"
      "Content-Type: multipart/alternative; boundary=\"XX-inner\"\n\n"
      "--XX-inner\n\na\n"
      "--XX-inner\n\nb\n"
      "--XX-inner--\n"
      "--XX\n\nc\n"
      "--XX--\n";
  message_tree t = parse_message(m);
  ASSERT_EQ(t.parts.size(), 5u);
  EXPECT_EQ(t.parts[1].child_count, 2u);
  EXPECT_EQ(body_of(t, m, 2), "a");
  EXPECT_EQ(body_of(t, m, 3), "b");
  EXPECT_EQ(body_of(t, m, 4), "c");
  EXPECT_EQ(t.parts[4].info.parent, 0u);
  EXPECT_EQ(t.defects, 0u);
  expect_consistent(m);
}

TEST(mime_structure, outer_boundary_closes_unterminated_inner_multipart) {
  std::string m =
      "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
      "--o\r\nContent-Type: multipart/related; boundary=i\r\n\r\n"
      "--i\r\n\r\ninner\r\n"
      "--o\r\n\r\nnext\r\n--o--";
  message_tree t = parse_message(m);
  ASSERT_EQ(t.parts.size(), 4u);
  EXPECT_EQ(body_of(t, m, 2), "inner");
  EXPECT_TRUE(t.parts[1].info.defects & defect_missing_final_boundary);
  EXPECT_EQ(body_of(t, m, 3), "next");
  EXPECT_EQ(t.parts[3].info.parent, 0u);
  expect_consistent(m);
}

TEST(mime_structure, trailing_whitespace_on_boundary_and_bare_lf) {
  std::string m =
      "Content-Type: multipart/mixed; boundary=\"sep\"\n\n"
      "--sep  \t\nContent-Type: text/plain\n\none\n\n"
      "--sep\t\n\ntwo\n"
      "--sep--   \n";
  message_tree t = parse_message(m);
  ASSERT_EQ(t.parts.size(), 3u);
  EXPECT_EQ(body_of(t, m, 1), "one\n");  // the empty line's LF is body, the next belongs to the boundary
  EXPECT_EQ(t.parts[1].info.body_lines, 1u);
  EXPECT_EQ(body_of(t, m, 2), "two");
  EXPECT_EQ(t.defects, 0u);
  expect_consistent(m);
}

TEST(mime_structure, multipart_without_boundary_is_one_text_part) {
  std::string m = "Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nbody\r\n";
  message_tree t = parse_message(m);
  ASSERT_EQ(t.parts.size(), 1u);
  EXPECT_EQ(t.parts[0].info.kind, part_kind::leaf);
  EXPECT_TRUE(t.parts[0].info.type.is("text", "plain"));
  EXPECT_TRUE(t.defects & defect_multipart_without_boundary);
  expect_consistent(m);
}

TEST(mime_structure, multipart_with_boundary_never_seen) {
  std::string m = "Content-Type: multipart/mixed; boundary=zz\r\n\r\njust text\r\n";
  message_tree t = parse_message(m);
  ASSERT_EQ(t.parts.size(), 1u);
  EXPECT_EQ(t.parts[0].info.kind, part_kind::multipart);
  EXPECT_EQ(t.parts[0].child_count, 0u);
  EXPECT_TRUE(t.defects & defect_multipart_without_parts);
  expect_consistent(m);
}

TEST(mime_structure, digest_children_default_to_message_rfc822) {
  std::string m =
      "Content-Type: multipart/digest; boundary=d\r\n\r\n"
      "--d\r\n\r\nSubject: one\r\n\r\nmsg one\r\n"
      "--d\r\nContent-Type: text/plain\r\n\r\nnot a message\r\n"
      "--d--\r\n";
  message_tree t = parse_message(m);
  ASSERT_EQ(t.parts.size(), 4u);
  EXPECT_TRUE(t.parts[1].info.type.is_message_rfc822());
  EXPECT_EQ(t.parts[1].info.kind, part_kind::message);
  EXPECT_EQ(header_of(t, m, 2), "Subject: one\r\n\r\n");
  EXPECT_EQ(body_of(t, m, 2), "msg one");
  EXPECT_TRUE(t.parts[3].info.type.is("text", "plain"));
  expect_consistent(m);
}

TEST(mime_structure, empty_parts_and_header_only_parts) {
  std::string m =
      "Content-Type: multipart/mixed; boundary=e\r\n\r\n"
      "--e\r\n--e\r\nContent-Type: text/html\r\n--e\r\n\r\n--e--";
  message_tree t = parse_message(m);
  ASSERT_EQ(t.parts.size(), 4u);
  EXPECT_EQ(t.parts[1].info.body_size(), 0u);
  EXPECT_EQ(t.parts[1].info.header_size(), 0u);
  EXPECT_EQ(t.parts[2].info.type.subtype, "html");
  EXPECT_EQ(t.parts[2].info.body_size(), 0u);
  EXPECT_EQ(header_of(t, m, 2), "Content-Type: text/html");
  EXPECT_EQ(t.parts[3].info.body_size(), 0u);
  expect_consistent(m);
}

TEST(mime_structure, base64_message_rfc822_is_a_leaf) {
  std::string m = "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5\r\n";
  message_tree t = parse_message(m);
  ASSERT_EQ(t.parts.size(), 1u);
  EXPECT_EQ(t.parts[0].info.kind, part_kind::leaf);
  expect_consistent(m);
}

TEST(mime_structure, depth_limit) {
  std::string m;
  // Boundaries that do not prefix each other ("b1" would match "--b10").
  for (int i = 0; i < 100; ++i) {
    std::string b = "=_" + std::to_string(i) + "_=";
    m += "Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n--" + b + "\r\n";
  }
  m += "\r\ndeep\r\n";
  limits lim;
  lim.depth_max = 10;
  message_tree t = parse_message(m, lim);
  EXPECT_EQ(t.parts.size(), 11u);
  EXPECT_TRUE(t.defects & defect_depth_limit);
  expect_consistent(m, lim);
  // With prefixing boundaries "--b10" closes back to the "b1" level: still consistent.
  std::string p;
  for (int i = 0; i < 30; ++i) p += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
  expect_consistent(p, lim);
  // message/rfc822 nesting too.
  std::string r;
  for (int i = 0; i < 100; ++i) r += "Content-Type: message/rfc822\r\n\r\n";
  r += "Subject: bottom\r\n\r\nx";
  message_tree tr = parse_message(r, lim);
  EXPECT_EQ(tr.parts.size(), 11u);
  expect_consistent(r, lim);
}

TEST(mime_structure, part_count_limit) {
  std::string m = "Content-Type: multipart/mixed; boundary=p\r\n\r\n";
  for (int i = 0; i < 500; ++i) m += "--p\r\n\r\npart " + std::to_string(i) + "\r\n";
  m += "--p--\r\n";
  limits lim;
  lim.part_count_max = 50;
  message_tree t = parse_message(m, lim);
  EXPECT_EQ(t.parts.size(), 50u);
  EXPECT_TRUE(t.defects & defect_part_count_limit);
  EXPECT_EQ(t.parts[0].info.defects & defect_missing_final_boundary, 0u);  // the close delimiter still counts
  expect_consistent(m, lim);
}

TEST(mime_structure, huge_header_count_in_a_part) {
  std::string m = "Content-Type: multipart/mixed; boundary=h\r\n\r\n--h\r\n";
  for (int i = 0; i < 20000; ++i) m += "X-Spam: " + std::to_string(i) + "\r\n";
  m += "Content-Type: text/html\r\n\r\nbody\r\n--h--\r\n";
  limits lim;
  lim.header_count_max = 1000;
  message_tree t = parse_message(m, lim);
  ASSERT_EQ(t.parts.size(), 2u);
  // Content-Type came after the cap: ignored, the default applies.
  EXPECT_TRUE(t.parts[1].info.type.is("text", "plain"));
  EXPECT_TRUE(t.parts[1].info.defects & defect_header_count_limit);
  EXPECT_EQ(body_of(t, m, 1), "body");
  expect_consistent(m, lim);
}

TEST(mime_structure, over_long_header_field_is_truncated_not_stored) {
  std::string m = "Subject: " + std::string(1 << 20, 'x') + "\r\nContent-Type: text/html\r\n\r\nb";
  limits lim;
  lim.header_field_size_max = 1024;
  message_tree t = parse_message(m, lim);
  EXPECT_TRUE(t.parts[0].info.type.is("text", "html"));
  EXPECT_TRUE(t.defects & defect_header_field_truncated);
  EXPECT_EQ(body_of(t, m, 0), "b");
  expect_consistent(m, lim);
}

TEST(mime_structure, no_header_body_separator) {
  std::string m = "Subject: only headers\r\nX: y";
  message_tree t = parse_message(m);
  EXPECT_EQ(t.parts[0].info.body_start, m.size());
  EXPECT_EQ(t.parts[0].info.body_size(), 0u);
  EXPECT_TRUE(t.defects & defect_header_without_body);
  expect_consistent(m);
  expect_consistent("");
  expect_consistent("From x\n");
  expect_consistent("\r\n");
  expect_consistent("--");
}

