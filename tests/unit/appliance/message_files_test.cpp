// Where `ringmail spam train` finds messages: which file contents count as
// mail, and how an mbox splits.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "appliance/spam/message_files.h"

namespace appliance {
namespace {

TEST(message_files, a_message_starts_with_a_header_field_or_an_mbox_line) {
  EXPECT_TRUE(looks_like_message("From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"));
  EXPECT_TRUE(looks_like_message("Return-Path: <a@example.org>\n"));
  EXPECT_TRUE(looks_like_message("From a@example.org Thu Aug 22 13:17:22 2002\nFrom: a@example.org\n"));
  EXPECT_TRUE(looks_like_message("X-Old-Style  : value\n"));  // RFC 5322 obs-optional
  EXPECT_FALSE(looks_like_message("{\"id\": 1, \"group\": \"easy-ham-1\"}\n"));
  EXPECT_FALSE(looks_like_message("Hello there: this is a body\n"));
  EXPECT_FALSE(looks_like_message(":no name\n"));
  EXPECT_FALSE(looks_like_message("\r\nFrom: after an empty line\r\n"));
  EXPECT_FALSE(looks_like_message("Subject"));
  EXPECT_FALSE(looks_like_message(""));
}

TEST(message_files, an_mbox_splits_at_from_lines_with_a_date) {
  std::string mbox =
      "From a@example.org Thu Aug 22 13:17:22 2002\nSubject: one\n\nFrom here on, a body line\n\n"
      "From b@example.org Fri Aug 23 10:00:00 2002\nSubject: two\n\nbody\n";
  std::vector<std::string> messages;
  for_each_message(mbox, [&](std::string_view m) { messages.emplace_back(m); });
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(messages[0].find("From here on") != std::string::npos);
  EXPECT_TRUE(messages[1].starts_with("From b@example.org"));
}

}  // namespace
}  // namespace appliance
