// Modified UTF-7 (RFC 3501 section 5.1.3) both ways, strictness, INBOX.
#include <gtest/gtest.h>

#include "protocols/imap/parser/mailbox_name.h"

namespace {

struct pair_case {
  std::string utf8;
  std::string wire;
};

TEST(imap_mailbox_name, round_trips) {
  const std::vector<pair_case> cases = {
      {"Sent", "Sent"},
      {"", ""},
      {"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
      {"\xc3\x89l\xc3\xa9ments envoy\xc3\xa9s", "&AMk-l&AOk-ments envoy&AOk-s"},
      {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
      {"&", "&-"},
      {"Tom & Jerry", "Tom &- Jerry"},
      {"\xf0\x9f\x98\x80", "&2D3eAA-"},                    // U+1F600, a surrogate pair
      {"\xd0\x9e\xd1\x82\xd0\xbf\xd1\x80\xd0\xb0\xd0\xb2\xd0\xbb\xd0\xb5\xd0\xbd\xd0\xbd\xd1\x8b\xd0\xb5",
       "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"},              // "Отправленные"
      {"a\xc3\xa4" "b\xc3\xb6" "c", "a&AOQ-b&APY-c"},
      {"\xe2\x82\xac/x", "&IKw-/x"},
  };
  for (const pair_case& c : cases) {
    auto encoded = imap::encode_modified_utf7(c.utf8);
    ASSERT_TRUE(encoded.has_value()) << c.wire;
    EXPECT_EQ(*encoded, c.wire);
    auto decoded = imap::decode_modified_utf7(c.wire);
    ASSERT_TRUE(decoded.has_value()) << c.wire;
    EXPECT_EQ(*decoded, c.utf8) << c.wire;
  }
}

TEST(imap_mailbox_name, refuses_non_canonical_and_invalid) {
  const std::vector<std::string> bad = {
      "&",                // unterminated shift
      "&U,BTFw",          // unterminated run
      "&AGE-",            // "a" must be written directly
      "&AOQ-&AOQ-",       // adjacent runs must be one
      "&AOR-",            // non-zero pad bits
      "&2D0-",            // lone high surrogate
      "&3gA-",            // lone low surrogate
      "&2D3YPQ-",         // high surrogate followed by high surrogate
      "Entw\xc3\xbcrfe",  // raw 8-bit
      "tab\there",        // control character
      "&A!-",             // not base64
      "&AOQAAA-",         // decodes to U+00E4 U+0000: control characters are refused
  };
  for (const std::string& wire : bad) {
    EXPECT_FALSE(imap::decode_modified_utf7(wire).has_value()) << wire;
  }
  // Too many pad bits: "&AOQA-" carries 24 bits, 8 of them padding.
  EXPECT_FALSE(imap::decode_modified_utf7("&AOQA-").has_value());
  EXPECT_FALSE(imap::encode_modified_utf7("\xc3\x28").has_value());
  EXPECT_FALSE(imap::encode_modified_utf7("\xed\xa0\x80").has_value());  // UTF-8 encoded surrogate
  EXPECT_FALSE(imap::encode_modified_utf7("\xc0\xaf").has_value());      // overlong "/"
}

TEST(imap_mailbox_name, inbox_is_case_insensitive) {
  for (const char* spelling : {"inbox", "Inbox", "INBOX", "iNbOx"}) {
    auto name = imap::decode_mailbox_name(spelling, imap::mailbox_encoding::modified_utf7);
    ASSERT_TRUE(name.has_value());
    EXPECT_EQ(*name, "INBOX");
  }
  EXPECT_EQ(*imap::decode_mailbox_name("inbox/sub", imap::mailbox_encoding::modified_utf7), "inbox/sub");
  EXPECT_EQ(*imap::decode_mailbox_name("INBOXES", imap::mailbox_encoding::utf8), "INBOXES");
  EXPECT_FALSE(imap::decode_mailbox_name(std::string("a\0b", 3), imap::mailbox_encoding::utf8).has_value());
}

TEST(imap_mailbox_name, encode_for_responses) {
  EXPECT_EQ(imap::encode_mailbox_name("Entw\xc3\xbcrfe", imap::mailbox_encoding::modified_utf7), "Entw&APw-rfe");
  EXPECT_EQ(imap::encode_mailbox_name("Entw\xc3\xbcrfe", imap::mailbox_encoding::utf8), "Entw\xc3\xbcrfe");
}

TEST(imap_mailbox_name, utf8_validation) {
  EXPECT_TRUE(imap::is_valid_utf8("plain"));
  EXPECT_TRUE(imap::is_valid_utf8("\xf4\x8f\xbf\xbf"));   // U+10FFFF
  EXPECT_FALSE(imap::is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(imap::is_valid_utf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(imap::is_valid_utf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(imap::is_valid_utf8("\x80"));              // stray continuation
}

}  // namespace
