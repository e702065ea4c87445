// POP3 parser: commands (RFC 1939/2449/2595/5034), line limits, the
// multi-line dot-stuffer and the TOP filter.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocols/pop3/parser/parser.h"

namespace {

using pop3::command_kind;
using pop3::errc;

TEST(pop3_parser, commands_from_clients) {
  struct good {
    std::string line;
    command_kind kind;
    std::string argument;
    std::optional<std::uint32_t> message;
    std::uint32_t lines = 0;
  };
  const std::vector<good> cases = {
      {"USER alice@example.com", command_kind::user, "alice@example.com", {}},
      {"user alice", command_kind::user, "alice", {}},
      {"PASS secret with spaces ", command_kind::pass, "secret with spaces ", {}},
      {"STAT", command_kind::stat, "", {}},
      {"LIST", command_kind::list, "", {}},
      {"LIST 2", command_kind::list, "", 2u},
      {"RETR 1", command_kind::retr, "", 1u},
      {"retr 4294967295", command_kind::retr, "", 4294967295u},
      {"DELE 3", command_kind::dele, "", 3u},
      {"NOOP", command_kind::noop, "", {}},
      {"RSET", command_kind::rset, "", {}},
      {"QUIT", command_kind::quit, "", {}},
      {"TOP 1 0", command_kind::top, "", 1u, 0},
      {"TOP 7 25", command_kind::top, "", 7u, 25},
      {"UIDL", command_kind::uidl, "", {}},
      {"UIDL 9", command_kind::uidl, "", 9u},
      {"CAPA", command_kind::capa, "", {}},
      {"STLS", command_kind::stls, "", {}},
      {"AUTH", command_kind::auth, "", {}},
      {"AUTH plain", command_kind::auth, "PLAIN", {}},
  };
  for (const good& c : cases) {
    auto cmd = pop3::parse_command(c.line);
    ASSERT_TRUE(cmd.has_value()) << c.line << ": " << to_string(cmd.error());
    EXPECT_EQ(cmd->kind, c.kind) << c.line;
    EXPECT_EQ(cmd->argument, c.argument) << c.line;
    EXPECT_EQ(cmd->message, c.message) << c.line;
    EXPECT_EQ(cmd->lines, c.lines) << c.line;
  }
  auto auth = pop3::parse_command("AUTH PLAIN AGFsaWNlAHNlY3JldA==");
  ASSERT_TRUE(auth.has_value());
  EXPECT_EQ(auth->argument, "PLAIN");
  EXPECT_EQ(auth->initial_response, "AGFsaWNlAHNlY3JldA==");
  auth = pop3::parse_command("AUTH PLAIN =");
  ASSERT_TRUE(auth.has_value());
  EXPECT_EQ(auth->initial_response, "=");
}

TEST(pop3_parser, errors) {
  const std::vector<std::pair<std::string, errc>> cases = {
      {"APOP alice c4c9334bac560ecc979e58001b3e22fb", errc::apop_not_supported},
      {"XTND XMIT", errc::unknown_command},
      {"", errc::unknown_command},
      {"USER", errc::syntax},
      {"USER a b", errc::syntax},
      {"PASS", errc::syntax},
      {"STAT 1", errc::syntax},
      {"RETR", errc::syntax},
      {"RETR 0", errc::bad_message_number},
      {"RETR -1", errc::bad_message_number},
      {"RETR 4294967296", errc::bad_message_number},
      {"RETR 1x", errc::bad_message_number},
      {"LIST 1 2", errc::syntax},
      {"TOP 1", errc::syntax},
      {"TOP 1 x", errc::syntax},
      {"DELE 1 2", errc::syntax},
      {"AUTH PLAIN a*b", errc::syntax},
      {"AUTH PLAIN a b", errc::syntax},
      {"USER " + std::string(260, 'a'), errc::line_too_long},
      {std::string("USER a\0b", 8), errc::syntax},
  };
  for (const auto& [line, code] : cases) {
    auto cmd = pop3::parse_command(line);
    ASSERT_FALSE(cmd.has_value()) << line;
    EXPECT_EQ(cmd.error(), code) << line << " gave " << to_string(cmd.error());
  }
  // RFC 2449: 255 octets including CRLF is the longest accepted line.
  EXPECT_TRUE(pop3::parse_command("USER " + std::string(248, 'a')).has_value());
  EXPECT_FALSE(pop3::parse_command("USER " + std::string(249, 'a')).has_value());
  pop3::parser_limits tight;
  tight.argument_length_max = 10;
  auto long_user = pop3::parse_command("USER " + std::string(11, 'a'), tight);
  ASSERT_FALSE(long_user.has_value());
  EXPECT_EQ(long_user.error(), errc::argument_too_long);
}

TEST(pop3_line_reader, frames_lines_and_refuses_long_ones_early) {
  pop3::line_reader reader;
  std::string_view input = "USER a\r\nPASS b\nSTLS\r\nleft";
  std::vector<std::string> lines;
  while (true) {
    auto ev = reader.read(input);
    input.remove_prefix(ev.consumed_bytes);
    if (ev.status != pop3::read_status::line) break;
    lines.emplace_back(ev.line);
    if (lines.back() == "STLS") break;  // the session stops reading here
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"USER a", "PASS b", "STLS"}));
  EXPECT_EQ(input, "left");  // plaintext after STLS stays with the session, to be discarded

  pop3::line_reader limited;
  std::string flood(100000, 'x');
  auto ev = limited.read(flood);
  ASSERT_EQ(ev.status, pop3::read_status::error);
  EXPECT_EQ(ev.error, errc::line_too_long);
  EXPECT_LE(ev.consumed_bytes, 256u);
  ev = limited.read(std::string_view(flood).substr(ev.consumed_bytes));
  EXPECT_EQ(ev.status, pop3::read_status::need_more);
  ev = limited.read("xx\r\nNOOP\r\n");  // "xx\r\n" ends the skipped line
  ASSERT_EQ(ev.status, pop3::read_status::line);
  EXPECT_EQ(ev.line, "NOOP");

  // Exactly 255 octets with CRLF is fine; 256 is not.
  pop3::line_reader exact;
  std::string ok = std::string(253, 'a') + "\r\n";
  ev = exact.read(ok);
  EXPECT_EQ(ev.status, pop3::read_status::line);
  std::string too_long = std::string(254, 'a') + "\r\n";
  ev = exact.read(too_long);
  EXPECT_EQ(ev.status, pop3::read_status::error);

  // AUTH continuation lines get their own, larger limit.
  pop3::line_reader sasl;
  sasl.set_line_length_max(pop3::parser_limits{}.sasl_line_length_max);
  std::string token = std::string(4000, 'Q') + "\r\n";
  ev = sasl.read(token);
  ASSERT_EQ(ev.status, pop3::read_status::line);
  EXPECT_EQ(ev.line.size(), 4000u);
}

std::string stuffed(const std::vector<std::string>& chunks) {
  pop3::dot_stuffer stuffer;
  std::string out;
  for (const std::string& c : chunks) stuffer.append(c, out);
  stuffer.finish(out);
  return out;
}

TEST(pop3_dot_stuffer, stuffs_and_terminates) {
  EXPECT_EQ(stuffed({".foo\r\nbar\r\n"}), "..foo\r\nbar\r\n.\r\n");
  EXPECT_EQ(stuffed({"a\r\n.\r\nb\r\n"}), "a\r\n..\r\nb\r\n.\r\n");
  EXPECT_EQ(stuffed({""}), ".\r\n");
  EXPECT_EQ(stuffed({}), ".\r\n");
  // A message not ending in CRLF still terminates on its own line.
  EXPECT_EQ(stuffed({"no newline"}), "no newline\r\n.\r\n");
  EXPECT_EQ(stuffed({"ends in cr\r"}), "ends in cr\r\n.\r\n");
  EXPECT_EQ(stuffed({"ends in dot\r\n."}), "ends in dot\r\n..\r\n.\r\n");
  // Bare LF becomes CRLF, so "\n.\n" cannot pass as a terminator.
  EXPECT_EQ(stuffed({"a\n.\nb"}), "a\r\n..\r\nb\r\n.\r\n");
  // Chunk boundaries: the dot after a chunk ending in LF is at a line start;
  // a dot continuing a line is not; a CRLF split across chunks is one CRLF.
  EXPECT_EQ(stuffed({"a\r\n", ".b"}), "a\r\n..b\r\n.\r\n");
  EXPECT_EQ(stuffed({"a", ".b\r\n"}), "a.b\r\n.\r\n");
  EXPECT_EQ(stuffed({"a\r", "\n.b"}), "a\r\n..b\r\n.\r\n");
  EXPECT_EQ(stuffed({".", ".", "\r\n"}), "...\r\n.\r\n");
}

TEST(pop3_top_filter, keeps_header_and_n_body_lines) {
  std::string message = "Subject: x\r\nFrom: y\r\n\r\nline1\r\nline2\r\nline3\r\n";
  auto kept = [&](std::uint32_t lines, std::size_t step) {
    pop3::top_filter filter(lines);
    std::string out;
    for (std::size_t at = 0; at < message.size() && !filter.done(); at += step) {
      std::string_view chunk = std::string_view(message).substr(at, step);
      out.append(chunk.substr(0, filter.keep(chunk)));
    }
    return out;
  };
  for (std::size_t step : {1u, 3u, 1000u}) {
    EXPECT_EQ(kept(0, step), "Subject: x\r\nFrom: y\r\n\r\n");
    EXPECT_EQ(kept(2, step), "Subject: x\r\nFrom: y\r\n\r\nline1\r\nline2\r\n");
    EXPECT_EQ(kept(10, step), message);
  }
}

}  // namespace
