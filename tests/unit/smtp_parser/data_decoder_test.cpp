#include "protocols/smtp/parser/data_decoder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using smtp::bare_line_ending_policy;
using smtp::data_decoder;
using smtp::data_limits;
using smtp::data_rejection;

// What a session sees after feeding a stream: the content it would spool,
// how many input bytes the decoder used, and what is left for the command
// reader.
struct outcome {
  std::string content;
  std::size_t consumed = 0;
  bool end_of_data = false;
  std::string leftover;
  data_rejection rejection = data_rejection::none;
  bool nul = false;
  bool eight_bit = false;
  bool bare = false;
  std::uint64_t content_size = 0;

  friend bool operator==(const outcome&, const outcome&) = default;
};

std::ostream& operator<<(std::ostream& os, const outcome& o) {
  return os << "{content=" << testing::PrintToString(o.content) << " consumed=" << o.consumed
            << " end=" << o.end_of_data << " leftover=" << testing::PrintToString(o.leftover)
            << " rejection=" << static_cast<int>(o.rejection) << "}";
}

// Feeds `input` cut at `cuts` (increasing offsets), the way a session loop
// would: each received chunk is fed until it is used up or data ends.
outcome run(std::string input, const std::vector<std::size_t>& cuts, const data_limits& limits = {}) {
  data_decoder decoder(limits);
  outcome o;
  std::size_t begin = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (const std::size_t end : ends) {
    // Each chunk is copied into its own buffer, as a receive buffer would be.
    std::string chunk = input.substr(begin, end - begin);
    std::span<std::byte> rest = std::as_writable_bytes(std::span(chunk.data(), chunk.size()));
    while (!rest.empty() && !o.end_of_data) {
      const smtp::data_step step = decoder.feed(rest);
      o.content.append(reinterpret_cast<const char*>(step.prefix.data()), step.prefix.size());
      o.content.append(reinterpret_cast<const char*>(rest.data()), step.content_size);
      EXPECT_LE(step.content_size, step.consumed + 4);
      EXPECT_TRUE(step.consumed > 0 || step.end_of_data) << "no progress";
      if (step.consumed == 0 && !step.end_of_data) return o;
      o.consumed += step.consumed;
      o.end_of_data = step.end_of_data;
      if (step.end_of_data) {
        // What follows the terminator is untouched, for the command reader.
        o.leftover.assign(reinterpret_cast<const char*>(rest.data()) + step.consumed, rest.size() - step.consumed);
        o.leftover += input.substr(end);
      }
      rest = rest.subspan(step.consumed);
    }
    if (o.end_of_data) break;
    begin = end;
  }
  // Bytes owed by the decoder arrive with the next feed, even an empty one.
  const smtp::data_step flush = decoder.feed({});
  o.content.append(reinterpret_cast<const char*>(flush.prefix.data()), flush.prefix.size());
  o.rejection = decoder.rejection();
  o.nul = decoder.nul_seen();
  o.eight_bit = decoder.eight_bit_seen();
  o.bare = decoder.bare_line_ending_seen();
  o.content_size = decoder.content_size();
  return o;
}

outcome one_shot(const std::string& input, const data_limits& limits = {}) { return run(input, {}, limits); }

// The same input split at every point, at every pair of points (for short
// inputs) and byte by byte, must give what one feed gives.
void expect_split_invariant(const std::string& input, const data_limits& limits = {}) {
  const outcome reference = one_shot(input, limits);
  for (std::size_t i = 0; i <= input.size(); ++i) {
    ASSERT_EQ(run(input, {i}, limits), reference) << "split at " << i << " of " << testing::PrintToString(input);
  }
  if (input.size() <= 80) {
    for (std::size_t i = 0; i <= input.size(); ++i) {
      for (std::size_t j = i; j <= input.size(); ++j) {
        ASSERT_EQ(run(input, {i, j}, limits), reference) << "split at " << i << "," << j;
      }
    }
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
  ASSERT_EQ(run(input, every, limits), reference) << "byte by byte";
}

data_limits normalize_limits() {
  data_limits limits;
  limits.bare_line_endings = bare_line_ending_policy::normalize;
  return limits;
}

TEST(smtp_data_decoder, simple_message) {
  const outcome o = one_shot("Subject: hi\r\n\r\nbody\r\n.\r\n");
  EXPECT_TRUE(o.end_of_data);
  EXPECT_EQ(o.content, "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(o.consumed, 24u);
  EXPECT_EQ(o.rejection, data_rejection::none);
  EXPECT_EQ(o.content_size, o.content.size());
}

TEST(smtp_data_decoder, empty_message_right_after_data_command) {
  const outcome o = one_shot(".\r\nQUIT\r\n");
  EXPECT_TRUE(o.end_of_data);
  EXPECT_EQ(o.content, "");
  EXPECT_EQ(o.consumed, 3u);
  EXPECT_EQ(o.leftover, "QUIT\r\n");
}

TEST(smtp_data_decoder, dot_unstuffing) {
  const outcome o = one_shot("..leading\r\n..\r\n...\r\nmid.dle\r\n.x\r\n.\r\n");
  EXPECT_TRUE(o.end_of_data);
  EXPECT_EQ(o.content, ".leading\r\n.\r\n..\r\nmid.dle\r\nx\r\n");
}

TEST(smtp_data_decoder, pipelined_commands_are_left_in_place) {
  std::string input = "line\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n";
  std::span<std::byte> buffer = std::as_writable_bytes(std::span(input.data(), input.size()));
  data_decoder decoder;
  const smtp::data_step step = decoder.feed(buffer);
  EXPECT_TRUE(step.end_of_data);
  EXPECT_EQ(step.consumed, 9u);
  EXPECT_EQ(step.content_size, 6u);
  EXPECT_EQ(input.substr(0, 6), "line\r\n");
  EXPECT_EQ(input.substr(step.consumed), "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
  // Once done, the decoder takes nothing more.
  const smtp::data_step after = decoder.feed(buffer.subspan(step.consumed));
  EXPECT_TRUE(after.end_of_data);
  EXPECT_EQ(after.consumed, 0u);
  EXPECT_EQ(after.content_size, 0u);
  expect_split_invariant("line\r\n.\r\nMAIL FROM:<a@b.example>\r\n");
}

TEST(smtp_data_decoder, terminator_split_across_chunks) {
  for (const char* input : {"abc\r\n.\r\n", ".\r\n", "\r\n.\r\n", "a\r\n..\r\n.\r\nnext"}) {
    expect_split_invariant(input);
  }
  // A terminator spread over five chunks of one byte.
  const outcome o = run("x\r\n.\r\nN", {1, 2, 3, 4, 5});
  EXPECT_TRUE(o.end_of_data);
  EXPECT_EQ(o.content, "x\r\n");
  EXPECT_EQ(o.consumed, 6u);
  EXPECT_EQ(o.leftover, "N");
}

// SMTP smuggling: each of these looks like an end of data to some MTA. None
// may end data here. In reject mode the message is refused with 550 5.6.11;
// the data still ends only at the real CRLF.CRLF, so the "smuggled" MAIL
// command is never read as a command.
TEST(smtp_data_decoder, smuggling_variants_never_end_data) {
  const char* fake_ends[] = {"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\n.\r", "\r\n.\r",
                             "\r\n.\rX", "\n.", "\r.", "\r\n\n.\n", "\r\n\r.\r\n"};
  for (const char* fake : fake_ends) {
    const std::string input =
        std::string("Subject: first\r\n\r\nbody") + fake + "MAIL FROM:<evil@x.example>\r\n" + "last\r\n.\r\nQUIT\r\n";
    const outcome o = one_shot(input);
    EXPECT_TRUE(o.end_of_data) << testing::PrintToString(fake);
    EXPECT_EQ(o.leftover, "QUIT\r\n") << testing::PrintToString(fake);
    EXPECT_EQ(o.consumed, input.size() - 6) << testing::PrintToString(fake);
    EXPECT_EQ(o.rejection, data_rejection::bare_line_ending) << testing::PrintToString(fake);
    EXPECT_TRUE(o.bare);
    data_decoder decoder;
    std::string copy = input;
    (void)decoder.feed(std::as_writable_bytes(std::span(copy.data(), copy.size())));
    ASSERT_TRUE(decoder.verdict().has_value());
    EXPECT_EQ(decoder.verdict()->code, 550);
    EXPECT_EQ(decoder.verdict()->enhanced, "5.6.11");
    expect_split_invariant(input);

    // Normalize mode: the same end, no rejection.
    const outcome n = one_shot(input, normalize_limits());
    EXPECT_TRUE(n.end_of_data) << testing::PrintToString(fake);
    EXPECT_EQ(n.leftover, "QUIT\r\n");
    EXPECT_EQ(n.rejection, data_rejection::none);
    EXPECT_TRUE(n.bare);
    // And no bare CR or LF survives in the content.
    for (std::size_t i = 0; i < n.content.size(); ++i) {
      if (n.content[i] == '\r') {
        ASSERT_TRUE(i + 1 < n.content.size() && n.content[i + 1] == '\n') << testing::PrintToString(n.content);
      }
      if (n.content[i] == '\n') {
        ASSERT_TRUE(i > 0 && n.content[i - 1] == '\r') << testing::PrintToString(n.content);
      }
    }
    expect_split_invariant(input, normalize_limits());
  }
}

TEST(smtp_data_decoder, bare_line_ending_at_the_very_start) {
  for (const char* input : {"\n.\r\n\r\n.\r\n", "\r.\r\n\r\n.\r\n", ".\n\r\n.\r\n", ".\r\r\n.\r\n"}) {
    const outcome o = one_shot(input);
    EXPECT_TRUE(o.end_of_data) << testing::PrintToString(input);
    EXPECT_EQ(o.consumed, std::strlen(input));
    EXPECT_EQ(o.rejection, data_rejection::bare_line_ending);
    expect_split_invariant(input);
    expect_split_invariant(input, normalize_limits());
  }
}

TEST(smtp_data_decoder, normalize_writes_crlf) {
  struct row {
    const char* input;
    const char* content;
  };
  const row rows[] = {
      {"a\nb\r\n.\r\n", "a\r\nb\r\n"},
      {"a\rb\r\n.\r\n", "a\r\nb\r\n"},
      {"\n\n\n\r\n.\r\n", "\r\n\r\n\r\n\r\n"},  // expansion from the first byte on
      {"\r\r\r\r\n.\r\n", "\r\n\r\n\r\n\r\n"},
      {"a\n.\nb\r\n.\r\n", "a\r\n.\r\nb\r\n"},  // no unstuffing after a bare LF
      {"a\n..\r\n.\r\n", "a\r\n..\r\n"},
      {"x\r\n.\rY\r\n.\r\n", "x\r\n\r\nY\r\n"},  // stuffed dot, then a bare CR
      {"x\r\n.\r\n\r\n.\r\n", "x\r\n"},
      {"x\r\n.\n\n\r\n.\r\n", "x\r\n\r\n\r\n\r\n"},
      {"x\r\n.\r\n", "x\r\n"},
  };
  for (const auto& r : rows) {
    const outcome o = one_shot(r.input, normalize_limits());
    EXPECT_TRUE(o.end_of_data) << testing::PrintToString(r.input);
    EXPECT_EQ(o.content, r.content) << testing::PrintToString(r.input);
    EXPECT_EQ(o.rejection, data_rejection::none);
    EXPECT_EQ(o.content_size, o.content.size());
    expect_split_invariant(r.input, normalize_limits());
  }
}

TEST(smtp_data_decoder, long_lines) {
  data_limits limits;
  const std::string ok_line(998, 'a');
  const outcome ok = one_shot(ok_line + "\r\n.\r\n", limits);
  EXPECT_EQ(ok.rejection, data_rejection::none);
  EXPECT_EQ(ok.content, ok_line + "\r\n");
  // A stuffed dot does not count: 998 octets of content.
  EXPECT_EQ(one_shot("." + ok_line + "\r\n.\r\n").rejection, data_rejection::none);

  const std::string long_line(999, 'b');
  const std::string input = "short\r\n" + long_line + "\r\nmore\r\n.\r\nQUIT\r\n";
  const outcome bad = one_shot(input, limits);
  EXPECT_TRUE(bad.end_of_data);
  EXPECT_EQ(bad.leftover, "QUIT\r\n");
  EXPECT_EQ(bad.rejection, data_rejection::line_too_long);
  // Content stops where the limit tripped: nothing is buffered beyond it.
  EXPECT_EQ(bad.content, "short\r\n" + std::string(998, 'b'));
  data_decoder decoder(limits);
  std::string copy = input;
  (void)decoder.feed(std::as_writable_bytes(std::span(copy.data(), copy.size())));
  EXPECT_EQ(decoder.verdict()->code, 500);  // 500 5.5.2, as for commands (issue 5)
  EXPECT_TRUE(decoder.line_too_long());
  expect_split_invariant(input, limits);

  // A megabyte-long line is consumed in constant memory and still ends.
  const outcome huge = one_shot(std::string(1 << 20, 'z') + "\r\n.\r\n");
  EXPECT_TRUE(huge.end_of_data);
  EXPECT_EQ(huge.rejection, data_rejection::line_too_long);

  data_limits small;
  small.line_size_max = 10;
  expect_split_invariant("12345678\r\n123456789\r\n.\r\n", small);
  EXPECT_EQ(one_shot("12345678\r\n.\r\n", small).rejection, data_rejection::none);
  EXPECT_EQ(one_shot("123456789\r\n.\r\n", small).rejection, data_rejection::line_too_long);
}

TEST(smtp_data_decoder, oversize_is_consumed_to_the_end) {
  data_limits limits;
  limits.message_size_max = 10;
  const outcome exact = one_shot("01234567\r\n.\r\n", limits);
  EXPECT_EQ(exact.rejection, data_rejection::none);
  EXPECT_EQ(exact.content_size, 10u);

  const std::string input = "0123456789\r\nmore lines\r\n.\r\nQUIT\r\n";
  const outcome big = one_shot(input, limits);
  EXPECT_TRUE(big.end_of_data);
  EXPECT_EQ(big.rejection, data_rejection::oversize);
  EXPECT_EQ(big.leftover, "QUIT\r\n");
  EXPECT_EQ(big.content, "0123456789");  // nothing past the limit is produced
  EXPECT_EQ(big.content_size, 24u);      // but the size is still counted
  expect_split_invariant(input, limits);
  data_decoder decoder(limits);
  std::string copy = input;
  (void)decoder.feed(std::as_writable_bytes(std::span(copy.data(), copy.size())));
  EXPECT_EQ(*decoder.verdict(), smtp::replies::message_too_big);
  EXPECT_TRUE(decoder.oversize());
}

TEST(smtp_data_decoder, first_rejection_reason_wins) {
  data_limits limits;
  limits.message_size_max = 5;
  const outcome o = one_shot("a\nbcdefgh\r\n.\r\n", limits);
  EXPECT_EQ(o.rejection, data_rejection::bare_line_ending);
  data_decoder decoder(limits);
  std::string input = "abcdefgh\nx\r\n.\r\n";
  (void)decoder.feed(std::as_writable_bytes(std::span(input.data(), input.size())));
  EXPECT_EQ(decoder.rejection(), data_rejection::oversize);
  EXPECT_TRUE(decoder.bare_line_ending_seen());
}

TEST(smtp_data_decoder, nul_and_eight_bit_are_recorded) {
  const outcome plain = one_shot("ascii only\r\n.\r\n");
  EXPECT_FALSE(plain.nul);
  EXPECT_FALSE(plain.eight_bit);
  const outcome nul = one_shot(std::string("a\0b\r\n.\r\n", 8));
  EXPECT_TRUE(nul.nul);
  EXPECT_EQ(nul.content, std::string("a\0b\r\n", 5));
  EXPECT_TRUE(one_shot("caf\xc3\xa9\r\n.\r\n").eight_bit);
  EXPECT_TRUE(one_shot(".\xff\r\n.\r\n").eight_bit);
  expect_split_invariant(std::string("\0.\r\n.\0\r\n\xff\r\n.\r\n", 14));
}

TEST(smtp_data_decoder, reset_starts_a_new_message) {
  data_decoder decoder;
  std::string first = "a\nb\r\n.\r\n";
  (void)decoder.feed(std::as_writable_bytes(std::span(first.data(), first.size())));
  EXPECT_TRUE(decoder.done());
  EXPECT_EQ(decoder.rejection(), data_rejection::bare_line_ending);
  decoder.reset();
  EXPECT_FALSE(decoder.done());
  EXPECT_EQ(decoder.rejection(), data_rejection::none);
  EXPECT_EQ(decoder.content_size(), 0u);
  std::string second = "..ok\r\n.\r\n";
  const smtp::data_step step = decoder.feed(std::as_writable_bytes(std::span(second.data(), second.size())));
  EXPECT_TRUE(step.end_of_data);
  EXPECT_EQ(second.substr(0, step.content_size), ".ok\r\n");
  EXPECT_FALSE(decoder.verdict().has_value());
}

// An independent, non-streaming reference for well-formed (CRLF-only)
// input: find the first CRLF.CRLF (the DATA command's CRLF counts), then
// unstuff line by line.
outcome reference(const std::string& input) {
  outcome o;
  const std::string framed = "\r\n" + input;
  const std::size_t at = framed.find("\r\n.\r\n");
  if (at == std::string::npos) return o;
  const std::string raw = input.substr(0, at);
  o.end_of_data = true;
  o.consumed = at + 3;
  o.leftover = input.substr(o.consumed);
  std::size_t start = 0;
  while (start < raw.size()) {
    std::size_t end = raw.find("\r\n", start);
    end = end == std::string::npos ? raw.size() : end + 2;
    std::string line = raw.substr(start, end - start);
    if (!line.empty() && line[0] == '.') line.erase(0, 1);
    o.content += line;
    start = end;
  }
  return o;
}

TEST(smtp_data_decoder, random_streams_match_reference_and_splits) {
  std::mt19937 random(20240229);
  const std::vector<std::string> well_formed{"a", "b", ".", "..", "\r\n", "\r\n", "\r\n.", "\0", "\xe9", "xyz"};
  const std::vector<std::string> hostile{"a", ".", "\r", "\n", "\r\n", "\r\n.", "\n.", "\r.", "\r\n.\r", "\0"};
  for (int iteration = 0; iteration < 3000; ++iteration) {
    const bool bad = iteration % 2 == 1;
    const auto& tokens = bad ? hostile : well_formed;
    std::string input;
    const int count = static_cast<int>(random() % 40);
    for (int i = 0; i < count; ++i) input += tokens[random() % tokens.size()];
    input += "\r\n.\r\nNEXT";
    data_limits limits;
    if (iteration % 4 == 3) limits.bare_line_endings = bare_line_ending_policy::normalize;
    const outcome whole = one_shot(input, limits);
    ASSERT_TRUE(whole.end_of_data);
    if (!bad) {
      const outcome expected = reference(input);
      ASSERT_EQ(whole.content, expected.content) << testing::PrintToString(input);
      ASSERT_EQ(whole.consumed, expected.consumed) << testing::PrintToString(input);
      ASSERT_EQ(whole.leftover, expected.leftover);
      ASSERT_EQ(whole.rejection, data_rejection::none);
    } else {
      // With bare CR/LF the end is still the first real CRLF.CRLF.
      ASSERT_EQ(whole.consumed, reference(input).consumed) << testing::PrintToString(input);
    }
    // Random cuts.
    std::vector<std::size_t> cuts;
    for (std::size_t at = random() % 7; at < input.size(); at += 1 + random() % 9) cuts.push_back(at);
    ASSERT_EQ(run(input, cuts, limits), whole) << testing::PrintToString(input);
  }
}

TEST(smtp_bdat_counter, counts_chunks_and_leaves_the_rest) {
  smtp::bdat_counter counter(100);
  counter.start_chunk(10, false);
  EXPECT_EQ(counter.take(4), 4u);
  EXPECT_FALSE(counter.chunk_complete());
  EXPECT_EQ(counter.chunk_remaining(), 6u);
  EXPECT_EQ(counter.take(20), 6u);  // 14 bytes are the next command
  EXPECT_TRUE(counter.chunk_complete());
  EXPECT_EQ(counter.take(5), 0u);
  counter.start_chunk(0, true);
  EXPECT_TRUE(counter.chunk_complete());
  EXPECT_TRUE(counter.last_chunk());
  EXPECT_EQ(counter.message_size(), 10u);
  EXPECT_FALSE(counter.oversize());

  counter.reset();
  counter.start_chunk(60, false);
  EXPECT_EQ(counter.take(60), 60u);
  counter.start_chunk(41, true);
  EXPECT_TRUE(counter.oversize());
  counter.reset();
  counter.start_chunk(UINT64_MAX, false);
  EXPECT_EQ(counter.take(1000), 1000u);
  EXPECT_TRUE(counter.oversize());
}

}  // namespace
