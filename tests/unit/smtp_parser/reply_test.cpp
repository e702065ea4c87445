#include "protocols/smtp/parser/reply.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

TEST(smtp_reply, single_line) {
  EXPECT_EQ(smtp::format_reply(smtp::replies::bad_arguments), "501 5.5.4 Syntax error in parameters or arguments\r\n");
  EXPECT_EQ(smtp::format_reply(smtp::reply{220, "", "mx.example.org ESMTP ringmail"}),
            "220 mx.example.org ESMTP ringmail\r\n");
  EXPECT_EQ(smtp::format_reply(smtp::reply{250, "2.0.0", ""}), "250 2.0.0\r\n");
}

TEST(smtp_reply, multi_line_ehlo) {
  const std::vector<std::string_view> lines{"mx.example.org", "PIPELINING", "SIZE 10240000", "8BITMIME"};
  std::string out;
  smtp::format_reply(out, 250, "", lines);
  EXPECT_EQ(out, "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n");

  out.clear();
  const std::vector<std::string_view> two{"first", "second"};
  smtp::format_reply(out, 550, "5.7.1", two);
  EXPECT_EQ(out, "550-5.7.1 first\r\n550 5.7.1 second\r\n");
}

TEST(smtp_reply, empty_lines_gives_one_line) {
  std::string out;
  smtp::format_reply(out, 354, "", std::span<const std::string_view>());
  EXPECT_EQ(out, "354 \r\n");
}

TEST(smtp_reply, text_cannot_inject_lines) {
  // A client-chosen string (an EHLO name echoed back) must not become a second reply.
  std::string out;
  using namespace std::string_view_literals;
  const std::string_view lines[] = {"hi\r\n250 fake\0x"sv};
  smtp::format_reply(out, 250, "", lines);
  EXPECT_EQ(out, std::string("250 hi  250 fake x\r\n"));
}

TEST(smtp_reply, long_lines_are_cut) {
  const std::string long_text(2000, 'x');
  const std::string_view lines[] = {long_text, "short"};
  std::string out;
  smtp::format_reply(out, 250, "2.0.0", lines, 100);
  const std::size_t first_end = out.find("\r\n");
  EXPECT_EQ(first_end + 2, 100u);
  EXPECT_EQ(out.substr(0, 10), "250-2.0.0 ");
  EXPECT_EQ(out.substr(first_end + 2), "250 2.0.0 short\r\n");

  out.clear();
  smtp::format_reply(out, smtp::reply{554, "5.7.1", long_text});
  EXPECT_EQ(out.size(), smtp::reply_line_length_max);
}

}  // namespace
