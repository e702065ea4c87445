// data_decoder against the byte-at-a-time decoder it replaced
// (data_decoder_reference.h): every feed() must return the same step (prefix,
// content bytes, consumed, end of data) and leave the bytes after `consumed`
// as they were, and the decoders must end in the same state (rejection, size,
// NUL, 8-bit, bare line ending), for random streams and real messages cut
// into chunks of many sizes and at random points, in both bare-line-ending
// policies and with small line and message limits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "protocols/smtp/parser/data_decoder.h"
#include "tests/unit/smtp_parser/data_decoder_lockstep.h"

namespace {

namespace fs = std::filesystem;
using smtp::bare_line_ending_policy;
using smtp::data_limits;
using smtp::testing_reference::compare_with_reference;
using smtp::testing_reference::dot_stuffed;

std::string show(const std::string& s) {
  return s.size() <= 300 ? testing::PrintToString(s) : testing::PrintToString(s.substr(0, 300)) + "...";
}

std::vector<std::size_t> every(std::size_t step, std::size_t size) {
  std::vector<std::size_t> cuts;
  for (std::size_t at = step; at < size; at += step) cuts.push_back(at);
  return cuts;
}

std::vector<data_limits> limit_variants(std::mt19937& random) {
  std::vector<data_limits> out;
  for (const auto policy : {bare_line_ending_policy::reject, bare_line_ending_policy::normalize}) {
    data_limits plain;
    plain.bare_line_endings = policy;
    out.push_back(plain);
    data_limits small = plain;
    small.line_size_max = random() % 40;  // 0..39, through the "< 2" corner
    small.message_size_max = random() % 300;
    out.push_back(small);
  }
  return out;
}

void expect_same(const std::string& input, const std::vector<std::size_t>& cuts, const data_limits& limits,
                 const char* what) {
  const std::string diff = compare_with_reference(input, cuts, limits);
  ASSERT_EQ(diff, "") << what << " normalize=" << (limits.bare_line_endings == bare_line_ending_policy::normalize)
                      << " line_max=" << limits.line_size_max << " size_max=" << limits.message_size_max
                      << " input=" << show(input);
}

void expect_same_in_all_chunkings(const std::string& input, const data_limits& limits, std::mt19937& random) {
  expect_same(input, {}, limits, "whole");
  for (const std::size_t step : {1u, 2u, 3u, 7u, 15u, 16u, 17u, 31u, 33u, 64u, 1000u, 4096u}) {
    if (step >= input.size()) break;
    if (step < 7 && input.size() > 20000) continue;
    expect_same(input, every(step, input.size()), limits, "fixed chunks");
  }
  std::vector<std::size_t> cuts;
  for (std::size_t at = random() % 50; at < input.size(); at += 1 + random() % 97) cuts.push_back(at);
  expect_same(input, cuts, limits, "random cuts");
}

TEST(smtp_data_decoder_diff, random_streams) {
  std::mt19937 random(20261124);
  const std::vector<std::string> tokens{
      "a",   "b",        ".",     "..",  "\r\n", "\r\n", "\r\n.",        "\r\n..", "\r\n.\r\n", "\r", "\n",
      "\n.", "\r.",      "\r\n.\r", "\0",  "\xe9", "\x80", "xyz",        ".\r\n",  "\r\r\n",    "\n\r",
      "0123456789abcdef0123456789abcdef0123456789", "The quick brown fox jumps over the lazy dog. "};
  for (int iteration = 0; iteration < 4000; ++iteration) {
    std::string input;
    const int count = static_cast<int>(random() % (iteration % 10 == 0 ? 400 : 60));
    // Some streams mostly well formed, some hostile.
    const std::size_t pool = iteration % 3 == 0 ? 9 : tokens.size();
    for (int i = 0; i < count; ++i) {
      const std::size_t pick = random() % (pool + 2);
      input += pick < pool ? tokens[pick] : tokens[tokens.size() - 1 - (pick - pool)];
    }
    if (iteration % 5 != 4) input += "\r\n.\r\nNEXT COMMAND\r\n";
    for (const data_limits& limits : limit_variants(random)) {
      expect_same(input, {}, limits, "whole");
      std::vector<std::size_t> cuts;
      for (std::size_t at = random() % 7; at < input.size(); at += 1 + random() % 23) cuts.push_back(at);
      expect_same(input, cuts, limits, "random cuts");
      if (input.size() < 400) expect_same(input, every(1, input.size()), limits, "byte by byte");
    }
  }
}

// The terminator and the line endings around a stuffing dot at every split
// point, after a prefix of every length up to two vector blocks.
TEST(smtp_data_decoder_diff, terminator_split_at_every_point_after_every_prefix_length) {
  std::mt19937 random(7);
  for (std::size_t prefix = 0; prefix <= 40; ++prefix) {
    for (const char* tail : {"\r\n.\r\nQUIT\r\n", "\r\n..x\r\n.\r\n", "\r\n.\n.\r\n\r\n.\r\n", "\r\r\n.\r\n",
                             "\n\r\n.\r\n", "\r\n\r\n.\r\n", "\r\n.\r.\r\n.\r\n"}) {
      const std::string input = std::string(prefix, 'x') + tail;
      for (const data_limits& limits : limit_variants(random)) {
        for (std::size_t i = 0; i <= input.size(); ++i) {
          for (std::size_t j = i; j <= input.size(); j += 3) expect_same(input, {i, j}, limits, "two cuts");
        }
      }
    }
  }
}

// Lines around the line limit (1000 with CRLF), long runs with NUL and 8-bit
// bytes at every position of a vector block, and a message at its size limit.
TEST(smtp_data_decoder_diff, limits_and_flags_at_every_position) {
  std::mt19937 random(11);
  for (const std::size_t length : {997u, 998u, 999u, 1000u, 1001u, 2048u}) {
    const std::string input = "ab\r\n" + std::string(length, 'y') + "\r\n." + std::string(length, 'z') + "\r\n.\r\n";
    data_limits limits;
    expect_same_in_all_chunkings(input, limits, random);
    limits.bare_line_endings = bare_line_ending_policy::normalize;
    expect_same_in_all_chunkings(input, limits, random);
  }
  for (std::size_t at = 0; at < 48; ++at) {
    for (const char special : {'\0', '\x80', '\xff'}) {
      std::string line(48, 'q');
      line[at] = special;
      const std::string input = line + "\r\n" + line + "\r\n.\r\n";
      expect_same(input, {}, {}, "flag position");
      expect_same(input, {at}, {}, "flag position, cut there");
      expect_same(input, {at + 1, 50 + at}, {}, "flag position, cut after");
    }
  }
  for (std::uint64_t size_max = 0; size_max < 120; ++size_max) {
    data_limits limits;
    limits.message_size_max = size_max;
    const std::string input = "first line\r\n..second\r\n\r\nthird line is longer than the rest\r\n" +
                              std::string(40, 'w') + "\r\n.\r\n";
    expect_same(input, {}, limits, "size limit");
    expect_same(input, every(16, input.size()), limits, "size limit, 16-byte chunks");
    expect_same(input, every(5, input.size()), limits, "size limit, 5-byte chunks");
  }
}

// Real messages as a client sends them: CRLF, dot-stuffed, terminated, with
// the next command behind; also as stored (bare LF) and in the stuffed form
// with no terminator. The committed MIME sample always, the SpamAssassin
// corpus (every 7th message) when it has been fetched.
TEST(smtp_data_decoder_diff, corpus_messages_in_chunks) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(DATA_DECODER_MIME_CORPUS_DIR))
    if (entry.path().extension() == ".eml") files.push_back(entry.path());
  const char* env = std::getenv("RINGMAIL_SPAMASSASSIN_DIR");
  const fs::path spam_dir = fs::path(env != nullptr ? env : DATA_DECODER_SPAMASSASSIN_DIR) / "data";
  std::size_t spam_files = 0;
  if (fs::is_directory(spam_dir)) {
    std::vector<fs::path> all;
    for (const auto& entry : fs::recursive_directory_iterator(spam_dir))
      if (entry.path().extension() == ".txt") all.push_back(entry.path());
    std::sort(all.begin(), all.end());
    for (std::size_t i = 0; i < all.size(); i += 7, ++spam_files) files.push_back(all[i]);
  }
  ASSERT_GE(files.size(), 40u);
  std::mt19937 random(5);
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string wire = dot_stuffed(raw);
    data_limits plain;
    data_limits normalize;
    normalize.bare_line_endings = bare_line_ending_policy::normalize;
    for (const data_limits& limits : {plain, normalize}) {
      expect_same_in_all_chunkings(wire + ".\r\nQUIT\r\n", limits, random);
      expect_same_in_all_chunkings(raw + "\r\n.\r\n", limits, random);
      expect_same(wire, every(16384, wire.size()), limits, "no terminator");
    }
    data_limits small;
    small.line_size_max = 78;
    small.message_size_max = wire.size() / 2;
    expect_same(wire + ".\r\n", every(4096, wire.size()), small, "small limits");
    if (HasFatalFailure()) return;
  }
  std::cout << "[ compared " << files.size() << " messages (" << spam_files << " from the SpamAssassin corpus) ]\n";
}

}  // namespace
