#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_io/net/line_reader.h"

namespace {
struct outcome {
  std::vector<std::string> lines;  // "<too long>" for an over-long line
  std::vector<bool> bare;
};

outcome feed_all(kio::line_reader& reader, const std::string& input, std::vector<size_t> cuts) {
  outcome out;
  size_t start = 0;
  cuts.push_back(input.size());
  for (size_t cut : cuts) {
    std::string chunk = input.substr(start, cut - start);  // a separate buffer, as a recv chunk would be
    start = cut;
    std::span<const std::byte> rest(reinterpret_cast<const std::byte*>(chunk.data()), chunk.size());
    while (!rest.empty()) {
      auto step = reader.feed(rest);
      rest = rest.subspan(step.consumed);
      if (step.state == kio::line_reader::status::line) {
        out.lines.emplace_back(step.line);
        out.bare.push_back(step.bare_lf);
      } else if (step.state == kio::line_reader::status::too_long) {
        out.lines.emplace_back("<too long>");
        out.bare.push_back(false);
      }
    }
  }
  return out;
}
}  // namespace

TEST(line_reader, same_lines_at_every_split_point) {
  const std::string input = "EHLO a.example\r\nMAIL FROM:<x@y>\r\n\r\nbare\nlast\r\n";
  kio::line_reader whole(64);
  auto reference = feed_all(whole, input, {});
  ASSERT_EQ(reference.lines, (std::vector<std::string>{"EHLO a.example", "MAIL FROM:<x@y>", "", "bare", "last"}));
  EXPECT_EQ(reference.bare, (std::vector<bool>{false, false, false, true, false}));
  for (size_t a = 0; a <= input.size(); ++a) {
    for (size_t b = a; b <= input.size(); b += 3) {
      kio::line_reader reader(64);
      auto got = feed_all(reader, input, {a, b});
      EXPECT_EQ(got.lines, reference.lines) << "cuts " << a << "," << b;
      EXPECT_EQ(got.bare, reference.bare);
    }
  }
}

TEST(line_reader, over_long_line_is_reported_once_and_never_buffered) {
  std::string input = "short\r\n" + std::string(5000, 'x') + "\r\nafter\r\n";
  for (size_t cut : {size_t(3), size_t(10), size_t(100), size_t(4000), size_t(5007)}) {
    kio::line_reader reader(100);
    auto got = feed_all(reader, input, {cut});
    EXPECT_EQ(got.lines, (std::vector<std::string>{"short", "<too long>", "after"})) << cut;
  }
  // Exactly at the limit is fine, one over is not.
  kio::line_reader reader(10);
  auto got = feed_all(reader, std::string(10, 'a') + "\r\n" + std::string(11, 'b') + "\r\n", {5, 11});
  EXPECT_EQ(got.lines, (std::vector<std::string>{std::string(10, 'a'), "<too long>"}));
}

TEST(line_reader, a_line_without_end_grows_no_buffer) {
  kio::line_reader reader(100);
  std::string chunk(4096, 'z');
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(chunk.data()), chunk.size());
  for (int i = 0; i < 1000; ++i) {
    auto step = reader.feed(bytes);
    EXPECT_EQ(step.state, kio::line_reader::status::need_more);
    EXPECT_EQ(step.consumed, chunk.size());
  }
  EXPECT_TRUE(reader.has_partial());
  reader.reset();
  EXPECT_FALSE(reader.has_partial());
}
