// Response helpers and sequence-set resolution/compression.
#include <gtest/gtest.h>

#include "protocols/imap/parser/response.h"
#include "protocols/imap/parser/sequence_set.h"

namespace {

TEST(imap_response, quote_or_literal) {
  EXPECT_EQ(imap::quote_or_literal("hello"), "\"hello\"");
  EXPECT_EQ(imap::quote_or_literal(""), "\"\"");
  EXPECT_EQ(imap::quote_or_literal("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"");
  EXPECT_EQ(imap::quote_or_literal("two\r\nlines"), "{10}\r\ntwo\r\nlines");
  EXPECT_EQ(imap::quote_or_literal("caf\xc3\xa9"), "{5}\r\ncaf\xc3\xa9");
  imap::quoting_options utf8;
  utf8.utf8_allowed = true;
  EXPECT_EQ(imap::quote_or_literal("caf\xc3\xa9", utf8), "\"caf\xc3\xa9\"");
  EXPECT_EQ(imap::quote_or_literal(std::string(1025, 'x')).substr(0, 8), "{1025}\r\n");
  std::string out;
  imap::append_nstring(out, std::nullopt);
  out += ' ';
  imap::append_astring(out, "atom");
  out += ' ';
  imap::append_astring(out, "nil");
  out += ' ';
  imap::append_astring(out, "has space");
  EXPECT_EQ(out, "NIL atom \"nil\" \"has space\"");
}

TEST(imap_response, flag_list) {
  std::vector<std::string> flags = {"\\Seen", "\\Answered", "$Junk"};
  EXPECT_EQ(imap::flag_list(flags), "(\\Seen \\Answered $Junk)");
  EXPECT_EQ(imap::flag_list({}), "()");
}

TEST(imap_response, mailbox_in_responses) {
  std::string out;
  imap::append_mailbox(out, "Entw\xc3\xbcrfe", imap::mailbox_encoding::modified_utf7);
  EXPECT_EQ(out, "\"Entw&APw-rfe\"");
  out.clear();
  imap::append_mailbox(out, "Entw\xc3\xbcrfe", imap::mailbox_encoding::utf8);
  EXPECT_EQ(out, "\"Entw\xc3\xbcrfe\"");
}

TEST(imap_sequence_set, compress) {
  EXPECT_EQ(imap::compress_sequence_set({1, 2, 3, 4, 5, 7, 9, 10, 11, 12}), "1:5,7,9:12");
  EXPECT_EQ(imap::compress_sequence_set({12, 3, 1, 2, 3, 0}), "1:3,12");
  EXPECT_EQ(imap::compress_sequence_set({}), "");
  EXPECT_EQ(imap::compress_sequence_set({4294967294u, 4294967293u}), "4294967293:4294967294");
}

TEST(imap_sequence_set, parse_normalises_and_formats) {
  std::uint32_t budget = 100;
  auto set = imap::parse_sequence_set("5:1,*,7:*,3", budget);
  ASSERT_TRUE(set.has_value());
  EXPECT_EQ(imap::format_sequence_set(*set), "1:5,*,7:*,3");
  EXPECT_EQ(budget, 96u);
}

TEST(imap_sequence_set, resolve_star_and_merge) {
  std::uint32_t budget = 100;
  auto set = imap::parse_sequence_set("5:*,1:2,3", budget);
  ASSERT_TRUE(set.has_value());
  auto resolved = imap::resolve(*set, 3);  // "5:*" with 3 messages is "3:5"
  EXPECT_EQ(resolved, (std::vector<imap::sequence_range>{{1, 5}}));
  EXPECT_TRUE(imap::contains(resolved, 4));
  EXPECT_FALSE(imap::contains(resolved, 6));
  auto empty = imap::resolve(*imap::parse_sequence_set("*", budget), 0);
  EXPECT_TRUE(empty.empty());
  auto gaps = imap::resolve(*imap::parse_sequence_set("10:12,1,3:4", budget), 100);
  EXPECT_EQ(gaps, (std::vector<imap::sequence_range>{{1, 1}, {3, 4}, {10, 12}}));
  EXPECT_FALSE(imap::contains(gaps, 2));
  EXPECT_FALSE(imap::contains(gaps, 0));
}

}  // namespace
