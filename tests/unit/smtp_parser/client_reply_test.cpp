#include <gtest/gtest.h>

#include "protocols/smtp/parser/client_reply.h"

namespace {

using status = smtp::reply_assembler::status;

TEST(ClientReply, MultiLineEhloAndCapabilities) {
  smtp::reply_assembler a;
  EXPECT_EQ(a.feed("250-mx.example Hello"), status::need_more);
  EXPECT_EQ(a.feed("250-PIPELINING"), status::need_more);
  EXPECT_EQ(a.feed("250-SIZE 10240000"), status::need_more);
  EXPECT_EQ(a.feed("250-starttls"), status::need_more);
  EXPECT_EQ(a.feed("250-AUTH PLAIN login"), status::need_more);
  EXPECT_EQ(a.feed("250-8BITMIME"), status::need_more);
  EXPECT_EQ(a.feed("250-SMTPUTF8"), status::need_more);
  EXPECT_EQ(a.feed("250 CHUNKING"), status::complete);
  auto r = a.take();
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.lines.size(), 8u);
  auto caps = smtp::parse_ehlo(r);
  EXPECT_TRUE(caps.esmtp && caps.pipelining && caps.starttls && caps.eightbitmime && caps.smtputf8 && caps.chunking);
  EXPECT_FALSE(caps.dsn);
  EXPECT_EQ(caps.size_max, 10240000u);
  EXPECT_EQ(caps.auth_mechanisms, (std::vector<std::string>{"PLAIN", "LOGIN"}));
}

TEST(ClientReply, EnhancedCodeIsSplitOffOnlyWhenItMatchesTheClass) {
  smtp::reply_assembler a;
  EXPECT_EQ(a.feed("550 5.1.1 <x@y>: user unknown"), status::complete);
  auto r = a.take();
  EXPECT_EQ(r.enhanced, "5.1.1");
  EXPECT_EQ(r.lines.at(0), "<x@y>: user unknown");
  EXPECT_EQ(r.summary(), "550 5.1.1 <x@y>: user unknown");
  EXPECT_TRUE(r.permanent());
  EXPECT_EQ(a.feed("451 2.0.0 odd"), status::complete);
  r = a.take();
  EXPECT_EQ(r.enhanced, "");
  EXPECT_TRUE(r.transient());
  EXPECT_EQ(a.feed("220"), status::complete);
  EXPECT_EQ(a.take().code, 220);
}

TEST(ClientReply, BrokenRepliesAreErrors) {
  smtp::reply_assembler a;
  EXPECT_EQ(a.feed("hello"), status::error);
  EXPECT_EQ(a.feed("25"), status::error);
  EXPECT_EQ(a.feed("250x"), status::error);
  EXPECT_EQ(a.feed("650 no"), status::error);
  smtp::reply_assembler b;
  EXPECT_EQ(b.feed("250-one"), status::need_more);
  EXPECT_EQ(b.feed("251 two"), status::error);
  smtp::reply_assembler c;
  status s = status::need_more;
  for (size_t i = 0; i < smtp::reply_lines_max + 5 && s == status::need_more; ++i) s = c.feed("250-more");
  EXPECT_EQ(s, status::error);
}

}  // namespace
