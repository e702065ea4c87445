#include "protocols/msgauth/canonical.h"

#include <gtest/gtest.h>

#include "protocols/msgauth/message.h"
#include "protocols/msgauth/tag_list.h"

using namespace msgauth;

static std::string canon_body(canonicalization c, std::string_view body, size_t chunk = 0) {
  body_canonicalizer canon(c);
  std::string out;
  if (chunk == 0) {
    canon.feed(body, out);
  } else {
    for (size_t i = 0; i < body.size(); i += chunk) canon.feed(body.substr(i, chunk), out);
  }
  canon.finish(out);
  return out;
}

// RFC 6376 §3.4.6, the canonicalization examples.
TEST(Canonical, Rfc6376Example) {
  std::string header = "A: X\r\nB : Y\t\r\n\tZ  \r\n";
  std::string body = " C \r\nD \t E\r\n\r\n\r\n";
  auto fields = split_header_fields(header);
  ASSERT_TRUE(fields);
  ASSERT_EQ(fields->size(), 2u);
  std::string relaxed, simple;
  for (const auto& f : *fields) {
    canonicalize_header(canonicalization::relaxed, f.raw, relaxed);
    canonicalize_header(canonicalization::simple, f.raw, simple);
  }
  EXPECT_EQ(relaxed, "a:X\r\nb:Y Z\r\n");
  EXPECT_EQ(simple, header);
  EXPECT_EQ(canon_body(canonicalization::relaxed, body), " C\r\nD E\r\n");
  EXPECT_EQ(canon_body(canonicalization::simple, body), " C \r\nD \t E\r\n");
}

TEST(Canonical, EmptyBodies) {
  EXPECT_EQ(canon_body(canonicalization::simple, ""), "\r\n");
  EXPECT_EQ(canon_body(canonicalization::simple, "\r\n\r\n"), "\r\n");
  EXPECT_EQ(canon_body(canonicalization::relaxed, ""), "");
  EXPECT_EQ(canon_body(canonicalization::relaxed, " \r\n\t\r\n"), "");
  // A last line without CRLF gets one.
  EXPECT_EQ(canon_body(canonicalization::simple, "abc"), "abc\r\n");
  EXPECT_EQ(canon_body(canonicalization::relaxed, "abc  "), "abc\r\n");
  // A bare CR is content.
  EXPECT_EQ(canon_body(canonicalization::relaxed, "a\rb\r\n"), "a\rb\r\n");
  // Inner empty lines stay.
  EXPECT_EQ(canon_body(canonicalization::relaxed, "a\r\n\r\n \r\nb\r\n\r\n"), "a\r\n\r\n\r\nb\r\n");
}

// The streaming canonicalizer gives the same bytes however the input is cut.
TEST(Canonical, ChunkingDoesNotMatter) {
  std::string body = "  lead\t \r\n\r\n\r\nmid \t\r\r\n x  y \r\n\r\n  \r\n\r\ntail\r";
  for (auto c : {canonicalization::simple, canonicalization::relaxed}) {
    std::string whole = canon_body(c, body);
    for (size_t chunk = 1; chunk < 9; ++chunk) EXPECT_EQ(canon_body(c, body, chunk), whole) << chunk;
  }
}

TEST(Canonical, ParsePair) {
  auto p = parse_canonicalization("relaxed/simple");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->header, canonicalization::relaxed);
  EXPECT_EQ(p->body, canonicalization::simple);
  p = parse_canonicalization("relaxed");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->body, canonicalization::simple);
  EXPECT_FALSE(parse_canonicalization("bogus/relaxed"));
  EXPECT_FALSE(parse_canonicalization("relaxed/"));
}

TEST(TagList, ParsesAndRejects) {
  auto tags = parse_tag_list(" v = 1 ;a=rsa-sha256;\r\n\tb=ab cd;");
  ASSERT_TRUE(tags);
  ASSERT_EQ(tags->size(), 3u);
  EXPECT_EQ((*tags)[0].name, "v");
  EXPECT_EQ((*tags)[0].value, "1");
  EXPECT_EQ(*find_tag(*tags, "b"), "ab cd");
  EXPECT_FALSE(parse_tag_list("a=1; a=2"));  // duplicate
  EXPECT_FALSE(parse_tag_list("a=1; junk"));
  EXPECT_FALSE(parse_tag_list("a=1;; b=2"));
  EXPECT_FALSE(parse_tag_list("1a=2"));
  EXPECT_TRUE(parse_tag_list(""));
}

TEST(HeaderCollector, FindsTheBodyAcrossChunks) {
  std::string message = "A: 1\r\nB: 2\r\n\r\nbody";
  for (size_t chunk = 1; chunk < 6; ++chunk) {
    header_collector collector(1000);
    std::string body;
    for (size_t i = 0; i < message.size(); i += chunk) {
      std::string_view piece = std::string_view(message).substr(i, chunk);
      size_t used = collector.complete() ? 0 : collector.feed(piece);
      body.append(piece.substr(used));
    }
    EXPECT_TRUE(collector.complete());
    EXPECT_EQ(collector.header(), "A: 1\r\nB: 2\r\n\r\n");
    EXPECT_EQ(body, "body");
  }
  header_collector small(8);
  small.feed(message);
  EXPECT_TRUE(small.overflowed());
}
