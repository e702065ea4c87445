// command_reader: framing, literals at every split point, and every limit.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocols/imap/parser/reader.h"

namespace {

using imap::command_reader;
using imap::errc;
using imap::literal_mode;
using imap::read_status;

template <std::size_t N>
std::string bytes_of(const char (&literal)[N]) {
  return std::string(literal, N - 1);  // keeps embedded NULs
}

// What a session observes from a byte stream: one string per event, so two
// feeds of the same bytes can be compared whatever the chunking.
struct transcript {
  std::vector<std::string> events;
  std::string leftover;
};

std::string describe_command(const command_reader& reader) {
  auto cmd = reader.command();
  std::string out = "command:" + std::string(cmd.text);
  for (const auto& l : cmd.literals) out += "|lit@" + std::to_string(l.marker_offset) + "+" + std::to_string(l.size_bytes);
  return out;
}

// Feeds `chunks` in order, accepting literals under `limit_accept` bytes and
// rejecting others, the way a session would.
transcript run(command_reader& reader, const std::vector<std::string>& chunks, literal_mode mode = literal_mode::buffer) {
  transcript t;
  std::string pending;
  std::string streamed;
  for (const std::string& chunk : chunks) {
    pending += chunk;
    std::string_view input = pending;
    while (true) {
      auto ev = reader.read(input);
      input.remove_prefix(ev.consumed_bytes);
      if (ev.status == read_status::need_more) {
        EXPECT_TRUE(input.empty());
        break;
      }
      switch (ev.status) {
        case read_status::need_literal:
          t.events.push_back("literal:" + std::string(ev.literal.tag) + ":" + std::to_string(ev.literal.size_bytes) +
                             (ev.literal.non_synchronizing ? "+" : "") + (ev.literal.binary ? "~" : ""));
          reader.accept_literal(mode);
          break;
        case read_status::literal_chunk:
          streamed += ev.bytes;
          break;
        case read_status::command:
          if (!streamed.empty()) t.events.push_back("streamed:" + streamed);
          streamed.clear();
          t.events.push_back(describe_command(reader));
          break;
        case read_status::error:
          t.events.push_back("error:" + std::string(to_string(ev.error.code)) + ":" + ev.error.tag +
                             (ev.error.can_continue ? "" : ":fatal"));
          break;
        default:
          break;
      }
    }
    pending.assign(input);
  }
  t.leftover = pending;
  return t;
}

transcript run_whole(std::string_view bytes, imap::parser_limits limits = {}, literal_mode mode = literal_mode::buffer) {
  command_reader reader(limits);
  return run(reader, {std::string(bytes)}, mode);
}

TEST(imap_reader, simple_command_leaves_following_bytes) {
  command_reader reader;
  std::string_view input = "a1 NOOP\r\na2 STARTTLS\r\ninjected";
  auto ev = reader.read(input);
  ASSERT_EQ(ev.status, read_status::command);
  EXPECT_EQ(ev.consumed_bytes, 9u);
  EXPECT_EQ(reader.command().text, "a1 NOOP");
  input.remove_prefix(ev.consumed_bytes);
  ev = reader.read(input);
  ASSERT_EQ(ev.status, read_status::command);
  EXPECT_EQ(reader.command().text, "a2 STARTTLS");
  // The session stops here: "injected" is still in its buffer, never consumed.
  EXPECT_EQ(input.substr(ev.consumed_bytes), "injected");
}

// A session asks between_commands() before it waits for input, to know
// whether a shutdown may say BYE. After a command it is true (the command's
// bytes stay buffered for command(), which made an idle session that had
// sent one look busy: SIGTERM waited out the whole grace period); inside a
// line or a literal it is false.
TEST(imap_reader, between_commands_after_a_command_not_inside_one) {
  command_reader reader;
  EXPECT_TRUE(reader.between_commands());
  auto ev = reader.read("a1 NOOP\r\n");
  ASSERT_EQ(ev.status, read_status::command);
  EXPECT_GT(reader.buffered_bytes(), 0u);
  EXPECT_TRUE(reader.between_commands());
  ev = reader.read("a2 NO");
  EXPECT_EQ(ev.status, read_status::need_more);
  EXPECT_FALSE(reader.between_commands());
  ev = reader.read("OP\r\n");
  ASSERT_EQ(ev.status, read_status::command);
  EXPECT_TRUE(reader.between_commands());
  ev = reader.read("a3 LOGIN {3}\r\n");
  ASSERT_EQ(ev.status, read_status::need_literal);
  EXPECT_FALSE(reader.between_commands());
  reader.accept_literal();
  EXPECT_FALSE(reader.between_commands());
}

TEST(imap_reader, bare_lf_and_empty_lines) {
  auto t = run_whole("\r\n\na NOOP\nb NOOP\r\n");
  ASSERT_EQ(t.events.size(), 2u);
  EXPECT_EQ(t.events[0], "command:a NOOP");
  EXPECT_EQ(t.events[1], "command:b NOOP");
}

TEST(imap_reader, synchronising_literal_reports_tag_and_size) {
  command_reader reader;
  std::string_view input = "A003 LOGIN {5}\r\n";
  auto ev = reader.read(input);
  ASSERT_EQ(ev.status, read_status::need_literal);
  EXPECT_EQ(ev.literal.tag, "A003");
  EXPECT_EQ(ev.literal.size_bytes, 5u);
  EXPECT_FALSE(ev.literal.non_synchronizing);
  EXPECT_EQ(ev.consumed_bytes, input.size());
  reader.accept_literal();
  ev = reader.read("alice {6+}\r\nsecret\r\n");
  ASSERT_EQ(ev.status, read_status::need_literal);
  EXPECT_TRUE(ev.literal.non_synchronizing);
  reader.accept_literal();
  ev = reader.read(std::string_view("alice {6+}\r\nsecret\r\n").substr(ev.consumed_bytes));
  ASSERT_EQ(ev.status, read_status::command);
  auto cmd = reader.command();
  EXPECT_EQ(cmd.text, "A003 LOGIN {5}\r\nalice {6+}\r\nsecret");
  ASSERT_EQ(cmd.literals.size(), 2u);
  EXPECT_EQ(cmd.text.substr(cmd.literals[0].data_offset, 5), "alice");
  EXPECT_EQ(cmd.text.substr(cmd.literals[1].data_offset, 6), "secret");
}

// Every way of cutting a transcript in two, and byte by byte, must give the
// events of the one-shot feed: a session's reads split anywhere.
TEST(imap_reader, every_split_point_gives_the_same_events) {
  const std::vector<std::string> transcripts = {
      "a LOGIN {5}\r\nalice {6}\r\nsecret\r\nb NOOP\r\n",
      "A004 APPEND \"Sent Items\" (\\Seen) {31+}\r\nSubject: hi\r\n\r\nhello {3}\r\n.\r\n\r\nb LOGOUT\r\n",
      bytes_of("x APPEND INBOX ~{4}\r\n\0\1\2\3 (\\Draft) {2}\r\nab\r\n"),
      "t1 SEARCH CHARSET UTF-8 SUBJECT {4}\r\n\xc3\xa4\xc3\xb6\r\n",
      "c1 LOGIN {0}\r\n {0}\r\n\r\n",
  };
  for (std::string wire : transcripts) {
    transcript whole = run_whole(wire);
    ASSERT_FALSE(whole.events.empty()) << wire;
    for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
      command_reader reader;
      transcript split = run(reader, {wire.substr(0, cut), wire.substr(cut)});
      EXPECT_EQ(split.events, whole.events) << "cut at " << cut << " of " << wire;
    }
    command_reader reader;
    std::vector<std::string> bytes;
    for (char c : wire) bytes.emplace_back(1, c);
    EXPECT_EQ(run(reader, bytes).events, whole.events) << wire;
  }
}

TEST(imap_reader, binary_literal_with_nul) {
  std::string wire = bytes_of("x APPEND INBOX ~{4}\r\n\0\1\2\3\r\n");
  auto t = run_whole(wire);
  ASSERT_EQ(t.events.size(), 2u);
  EXPECT_EQ(t.events[0], "literal:x:4~");
}

TEST(imap_reader, streamed_literal_arrives_in_chunks) {
  command_reader reader;
  std::string wire = "s APPEND INBOX {10}\r\n0123456789\r\n";
  transcript t = run(reader, {wire.substr(0, 25), wire.substr(25)}, literal_mode::stream);
  ASSERT_EQ(t.events.size(), 3u);
  EXPECT_EQ(t.events[1], "streamed:0123456789");
  // The framed text holds the marker only; the literal is flagged streamed.
  EXPECT_EQ(t.events[2], "command:s APPEND INBOX {10}\r\n|lit@15+10");
}

TEST(imap_reader, huge_literal_is_refused_before_reading_it) {
  imap::parser_limits limits;
  limits.literal_size_max = 1000;
  command_reader reader(limits);
  std::string_view input = "A1 APPEND INBOX {1000000}\r\nA2 NOOP\r\n";
  auto ev = reader.read(input);
  ASSERT_EQ(ev.status, read_status::error);
  EXPECT_EQ(ev.error.code, errc::literal_too_large);
  EXPECT_EQ(ev.error.tag, "A1");
  EXPECT_TRUE(ev.error.can_continue);
  EXPECT_TRUE(imap::is_size_limit(ev.error.code));
  // Only the line was consumed; the client, told NO, sends its next command.
  EXPECT_EQ(ev.consumed_bytes, 27u);
  input.remove_prefix(ev.consumed_bytes);
  ev = reader.read(input);
  ASSERT_EQ(ev.status, read_status::command);
  EXPECT_EQ(reader.command().text, "A2 NOOP");
}

TEST(imap_reader, literal_minus_refuses_big_non_sync_literal_and_skips_it) {
  imap::parser_limits limits;  // non_sync_literal_size_max = 4096 (LITERAL-)
  std::string data(5000, 'x');
  std::string wire = "L1 APPEND INBOX {5000+}\r\n" + data + " {3+}\r\nabc\r\nL2 NOOP\r\n";
  auto t = run_whole(wire, limits);
  ASSERT_EQ(t.events.size(), 2u);
  EXPECT_EQ(t.events[0], "error:non-synchronizing literal too large:L1");
  EXPECT_EQ(t.events[1], "command:L2 NOOP");
}

TEST(imap_reader, rejected_literal_sync_and_non_sync) {
  command_reader reader;
  std::string_view input = "q1 APPEND INBOX {20}\r\nq2 APPEND INBOX {3+}\r\nabc\r\nq3 NOOP\r\n";
  auto ev = reader.read(input);
  ASSERT_EQ(ev.status, read_status::need_literal);
  reader.reject_literal();  // e.g. over quota: "q1 NO [OVERQUOTA]"; the client sends nothing
  input.remove_prefix(ev.consumed_bytes);
  ev = reader.read(input);
  ASSERT_EQ(ev.status, read_status::need_literal);
  EXPECT_EQ(ev.literal.tag, "q2");
  reader.reject_literal();  // the 3 bytes come anyway and must be skipped
  input.remove_prefix(ev.consumed_bytes);
  ev = reader.read(input);
  ASSERT_EQ(ev.status, read_status::command);
  EXPECT_EQ(reader.command().text, "q3 NOOP");
}

TEST(imap_reader, unterminated_literal_waits_without_command) {
  auto t = run_whole("u1 LOGIN {10}\r\nabc");
  ASSERT_EQ(t.events.size(), 1u);
  EXPECT_EQ(t.events[0], "literal:u1:10");
  EXPECT_TRUE(t.leftover.empty());  // consumed into the bounded buffer
}

TEST(imap_reader, line_too_long_is_refused_early_and_skipped) {
  imap::parser_limits limits;
  limits.line_length_max = 100;
  command_reader reader(limits);
  std::string longline = "T1 SEARCH " + std::string(1000000, 'a');
  auto ev = reader.read(longline);
  ASSERT_EQ(ev.status, read_status::error);
  EXPECT_EQ(ev.error.code, errc::line_too_long);
  EXPECT_EQ(ev.error.tag, "T1");
  EXPECT_LE(ev.consumed_bytes, 102u);  // refused after max+2 bytes, not at the line's end
  EXPECT_LE(reader.buffered_bytes(), 102u);
  std::string_view rest = std::string_view(longline).substr(ev.consumed_bytes);
  ev = reader.read(rest);
  EXPECT_EQ(ev.status, read_status::need_more);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
  // The long line ends in a non-synchronising literal: its data is skipped too.
  ev = reader.read(" {5+}\r\n{9}\r\n\r\nT2 NOOP\r\n");
  ASSERT_EQ(ev.status, read_status::command);
  EXPECT_EQ(reader.command().text, "T2 NOOP");
}

TEST(imap_reader, line_exactly_at_limit_is_accepted) {
  imap::parser_limits limits;
  limits.line_length_max = 20;
  std::string line = "a SEARCH " + std::string(11, 'x');  // 20 bytes
  auto t = run_whole(line + "\r\n", limits);
  ASSERT_EQ(t.events.size(), 1u);
  EXPECT_EQ(t.events[0], "command:" + line);
  t = run_whole(line + "y\r\n", limits);
  EXPECT_EQ(t.events[0], "error:line too long:a");
}

TEST(imap_reader, command_size_limit_counts_literals) {
  imap::parser_limits limits;
  limits.command_size_max = 100;
  auto t = run_whole("c1 LOGIN {60}\r\n" + std::string(60, 'u') + " {60}\r\nc2 NOOP\r\n", limits);
  ASSERT_EQ(t.events.size(), 3u);
  EXPECT_EQ(t.events[0], "literal:c1:60");
  EXPECT_EQ(t.events[1], "error:command too large:c1");
  EXPECT_EQ(t.events[2], "command:c2 NOOP");
}

TEST(imap_reader, too_many_literals) {
  imap::parser_limits limits;
  limits.literals_max = 2;
  auto t = run_whole("m APPEND X {1+}\r\na {1+}\r\nb {1+}\r\nc\r\nn NOOP\r\n", limits);
  ASSERT_EQ(t.events.size(), 4u);
  EXPECT_EQ(t.events[2], "error:too many literals:m");
  EXPECT_EQ(t.events[3], "command:n NOOP");
}

TEST(imap_reader, malformed_literal_size_is_fatal) {
  auto t = run_whole("o LOGIN {99999999999999999999999}\r\n");
  ASSERT_EQ(t.events.size(), 1u);
  EXPECT_EQ(t.events[0], "error:malformed literal:o:fatal");
}

TEST(imap_reader, brace_that_is_not_a_literal_is_text) {
  auto t = run_whole("b1 LOGIN a}\r\nb2 SEARCH {x}\r\n");
  ASSERT_EQ(t.events.size(), 2u);
  EXPECT_EQ(t.events[0], "command:b1 LOGIN a}");
  EXPECT_EQ(t.events[1], "command:b2 SEARCH {x}");
}

TEST(imap_reader, continuation_lines_for_authenticate_and_idle) {
  imap::parser_limits limits;
  limits.continuation_line_length_max = 16;
  command_reader reader(limits);
  std::string_view input = "a AUTHENTICATE PLAIN\r\nAGFsaWNl\r\n";
  auto ev = reader.read(input);
  ASSERT_EQ(ev.status, read_status::command);
  input.remove_prefix(ev.consumed_bytes);
  ev = reader.read_continuation(input.substr(0, 4));
  EXPECT_EQ(ev.status, read_status::need_more);
  ev = reader.read_continuation(input.substr(4));
  ASSERT_EQ(ev.status, read_status::line);
  EXPECT_EQ(ev.bytes, "AGFsaWNl");
  ev = reader.read_continuation(std::string(40, 'Q') + "\r\nDONE\r\n");
  ASSERT_EQ(ev.status, read_status::error);
  EXPECT_EQ(ev.error.code, errc::line_too_long);
  ev = reader.read_continuation(std::string_view(std::string(40, 'Q') + "\r\nDONE\r\n").substr(ev.consumed_bytes));
  // The rest of the long line is skipped, then DONE comes through.
  ASSERT_EQ(ev.status, read_status::line);
  EXPECT_EQ(ev.bytes, "DONE");
}

TEST(imap_reader, reset_forgets_a_partial_command) {
  command_reader reader;
  auto ev = reader.read("p1 LOGIN {5}\r\n");
  ASSERT_EQ(ev.status, read_status::need_literal);
  reader.accept_literal();
  ev = reader.read("ab");
  EXPECT_EQ(ev.status, read_status::need_more);
  reader.reset();
  ev = reader.read("p2 NOOP\r\n");
  ASSERT_EQ(ev.status, read_status::command);
  EXPECT_EQ(reader.command().text, "p2 NOOP");
}

}  // namespace

namespace {

// Regression (found by fuzz_imap_command): when an over-long line arrived in
// small reads, the reader refused it but remembered only the last read's
// bytes as the line's tail, so a "{5+}" marker split across reads was
// missed and the literal's data was then parsed as a command. Every cut of
// an over-long line ending in a non-synchronising literal must skip the data.
TEST(imap_reader, over_long_line_with_literal_at_every_split_point) {
  imap::parser_limits limits;
  limits.line_length_max = 20;
  const std::string wire = "T1 SEARCH aaaaaaaaaaaaaaaaaaaaaaaaa {5+}\r\n12345\r\nT2 NOOP\r\n";
  const std::vector<std::string> expected = {"error:line too long:T1", "command:T2 NOOP"};
  EXPECT_EQ(run_whole(wire, limits).events, expected);
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    command_reader reader(limits);
    EXPECT_EQ(run(reader, {wire.substr(0, cut), wire.substr(cut)}).events, expected) << "cut at " << cut;
  }
  command_reader reader(limits);
  std::vector<std::string> bytes;
  for (char c : wire) bytes.emplace_back(1, c);
  EXPECT_EQ(run(reader, bytes).events, expected);
}

}  // namespace
