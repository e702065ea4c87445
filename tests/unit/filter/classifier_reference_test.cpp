// The classifier's fast arithmetic (reciprocals, one division per token,
// a log-free Fisher product, the chi-square series cut where it cannot
// move the sum) against the textbook formulas written out plainly here:
// on random inputs, and on the SpamAssassin corpus (train on the *-1 sets,
// score the *-2 sets), where the scores may differ only in the last bits.
// Also the token store's big-table memory (huge pages) through training,
// copying and serialization.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "filter/classifier/classifier.h"
#include "filter/classifier/features.h"
#include "filter/classifier/token_store.h"

using namespace filter;
namespace fs = std::filesystem;

namespace {

double textbook_f(token_counts c, std::uint64_t spam_messages, std::uint64_t ham_messages,
                  const classifier_options& o) {
  double s = c.spam, h = c.ham, n = s + h;
  double spam_ratio = spam_messages == 0 ? 0.0 : s / static_cast<double>(spam_messages);
  double ham_ratio = ham_messages == 0 ? 0.0 : h / static_cast<double>(ham_messages);
  double p = spam_ratio + ham_ratio > 0 ? spam_ratio / (spam_ratio + ham_ratio) : o.robinson_x;
  return (o.robinson_strength * o.robinson_x + n * p) / (o.robinson_strength + n);
}

// In long double (x87: 64-bit mantissa, exponents to e^-11355): in double,
// exp(-m) loses bits past m = 708 and is 0 past 745, so the plain series
// said Q = 0 for a message of ~800 clues whose statistic sat near its
// mean (the old classifier did the same; the tails are now summed where
// they are small and kept as logs).
long double textbook_chi2_long(long double chi2, std::size_t v) {
  long double m = chi2 / 2.0L, term = std::exp(-m), sum = term;
  for (std::size_t i = 1; i < v / 2; ++i) {
    term *= m / static_cast<long double>(i);
    sum += term;
  }
  return std::min(sum, 1.0L);
}

double textbook_fisher(const std::vector<double>& fs) {
  if (fs.empty()) return 0.5;
  long double ln_ham = 0, ln_spam = 0;
  for (double f : fs) {
    f = std::clamp(f, 1e-12, 1.0 - 1e-12);
    ln_ham += std::log(static_cast<long double>(f));
    ln_spam += std::log(1.0L - f);
  }
  std::size_t v = 2 * fs.size();
  return static_cast<double>(
      (1.0L + (1.0L - textbook_chi2_long(-2.0L * ln_spam, v)) - (1.0L - textbook_chi2_long(-2.0L * ln_ham, v))) / 2.0L);
}

double textbook_classify(std::span<const std::uint64_t> hashes, const token_store& store,
                         const classifier_options& o) {
  std::vector<double> clues;
  for (auto h : hashes) {
    token_counts c = store.get(h);
    if (c.spam == 0 && c.ham == 0) continue;
    double f = textbook_f(c, store.spam_messages(), store.ham_messages(), o);
    if (std::fabs(f - 0.5) >= o.minimum_deviation) clues.push_back(f);
  }
  if (clues.size() > o.clues_max) {
    std::nth_element(clues.begin(), clues.begin() + static_cast<std::ptrdiff_t>(o.clues_max), clues.end(),
                     [](double a, double b) { return std::fabs(a - 0.5) > std::fabs(b - 0.5); });
    clues.resize(o.clues_max);
  }
  return textbook_fisher(clues);
}

}  // namespace

TEST(classifier_reference, token_probability_and_chi2_match_the_textbook) {
  std::mt19937_64 rng(7);
  classifier_options o;
  for (int i = 0; i < 100000; ++i) {
    std::uint64_t spam_messages = rng() % 5000, ham_messages = rng() % 5000;
    token_counts c{static_cast<std::uint32_t>(rng() % (spam_messages + 1)),
                   static_cast<std::uint32_t>(rng() % (ham_messages + 1))};
    double want = textbook_f(c, spam_messages, ham_messages, o);
    ASSERT_NEAR(token_probability(c, spam_messages, ham_messages, o), want, 1e-14 * std::max(1.0, want))
        << c.spam << "/" << spam_messages << " " << c.ham << "/" << ham_messages;
  }
  for (std::size_t v : {2u, 4u, 10u, 300u, 2000u}) {
    for (double chi2 : {0.0, 0.5, 3.0, 40.0, 300.0, 1999.0, 2500.0, 5000.0}) {
      double want = static_cast<double>(textbook_chi2_long(chi2, v));
      EXPECT_NEAR(chi2_survival(chi2, v), want, 1e-15 + 1e-13 * want) << chi2 << " " << v;
    }
  }
}

// The small upper tail's log takes ln((k - 1)!) from a per-thread table
// for k - 1 < 1024 and from lgamma above: across that edge, and on fresh
// threads (each with its own table) as on one whose table is filled, the
// log matches the textbook series and the doubles are the same.
TEST(classifier_reference, small_tails_match_the_textbook_across_the_log_factorial_table) {
  std::vector<std::size_t> ks;
  for (std::size_t k = 1; k <= 1100; k += 37) ks.push_back(k);
  for (std::size_t k : {1022u, 1023u, 1024u, 1025u, 1026u}) ks.push_back(k);
  auto tails = [&] {
    std::vector<double> logs;
    for (std::size_t k : ks) {
      double chi2 = 4.0 * static_cast<double>(k) + 200.0;  // far above the mean 2k: the upper tail is tiny
      logs.push_back(chi2_both_tails(chi2, 2 * k).upper.log);
    }
    return logs;
  };
  std::vector<double> here = tails();
  for (std::size_t i = 0; i < ks.size(); ++i) {
    double chi2 = 4.0 * static_cast<double>(ks[i]) + 200.0;
    long double want = std::log(textbook_chi2_long(chi2, 2 * ks[i]));
    EXPECT_NEAR(here[i], static_cast<double>(want), 1e-9 * std::fabs(static_cast<double>(want))) << ks[i];
  }
  EXPECT_EQ(tails(), here);  // the table filled
  std::vector<double> first, second;
  std::thread a([&] { first = tails(); });
  std::thread b([&] { second = tails(); });
  a.join();
  b.join();
  EXPECT_EQ(first, here);
  EXPECT_EQ(second, here);
}

TEST(classifier_reference, fisher_product_matches_the_sum_of_logs) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> any(0.0, 1.0);
  for (std::size_t n : {1u, 2u, 5u, 40u, 150u, 700u, 1000u}) {
    for (int round = 0; round < 50; ++round) {
      std::vector<double> fs(n);
      int mood = round % 5;  // mixed, spammy, hammy, extreme (clamped), near 0.5
      for (auto& f : fs) {
        double u = any(rng);
        f = mood == 0 ? u : mood == 1 ? 0.75 + 0.25 * u : mood == 2 ? 0.25 * u : mood == 3 ? (u < 0.5 ? 1e-15 : 1 - 1e-15)
                                                                                            : 0.4 + 0.2 * u;
      }
      ASSERT_NEAR(fisher_combine(fs), textbook_fisher(fs), 1e-12) << n << " mood " << mood;
    }
  }
}

TEST(classifier_reference, corpus_scores_match_the_textbook_to_the_last_bits) {
  const char* env = std::getenv("RINGMAIL_SPAMASSASSIN_DIR");
  fs::path dir = (env != nullptr ? fs::path(env) : fs::path(FILTER_SPAMASSASSIN_DIR)) / "data";
  if (!fs::is_directory(dir / "spam-2")) GTEST_SKIP() << "SpamAssassin corpus not in " << dir;
  auto files_of = [&](const char* set) {
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(dir / set))
      if (e.path().extension() == ".txt") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
  };
  auto read = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  token_store store;
  feature_scanner scanner(tokenizer_options{});
  auto features = [&](const fs::path& p) {
    std::string m = read(p);
    scanner.start();
    scanner.feed(m);
    scanner.finish();
    return scanner.unique();
  };
  for (const char* set : {"easy-ham-1", "hard-ham-1", "spam-1"}) {
    bool spam = std::string_view(set) == "spam-1";
    for (auto& f : files_of(set)) store.train(features(f), spam);
  }
  std::size_t scored = 0;
  double worst = 0;
  std::vector<double> scratch;
  // The defaults, and SpamBayes' values without their 150-clue cap: at a
  // cap, clues of equal strength (f and 1 - f, or equal counts) are cut
  // by their last bits, so with a small cap a few messages keep a
  // different one of two equally strong clues (9 of 2796 with 150).
  classifier_options uncapped = classifier_options::spambayes();
  uncapped.clues_max = SIZE_MAX;
  for (auto o : {classifier_options{}, uncapped}) {
    for (const char* set : {"easy-ham-2", "spam-2"}) {
      for (auto& f : files_of(set)) {
        auto hashes = features(f);
        double fast = classify(hashes, store, nullptr, o, scratch).probability;
        double textbook = textbook_classify(hashes, store, o);
        worst = std::max(worst, std::fabs(fast - textbook));
        ++scored;
      }
    }
  }
  ASSERT_GT(scored, 5000u);
  std::printf("max |fast - textbook| over %zu scores: %.3g\n", scored, worst);
  EXPECT_LT(worst, 1e-9);
}

TEST(token_store, a_table_in_huge_pages_trains_copies_and_round_trips) {
  token_store s;
  std::vector<std::uint64_t> keys(200000);
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = (i + 1) * 0x9e3779b97f4a7c15ull;
  s.train(keys, true);
  std::vector<std::uint64_t> half(keys.begin(), keys.begin() + 1000);
  s.train(half, false);
  ASSERT_GE(s.memory_bytes(), std::size_t{4} << 20);  // past the 2 MiB line
  EXPECT_EQ(s.token_count(), keys.size());
  token_store copy = s;
  copy.merge(s);
  EXPECT_EQ(copy.get(keys[5]).spam, 2u);
  EXPECT_EQ(copy.get(keys[5]).ham, 2u);
  EXPECT_EQ(copy.get(keys[150000]).ham, 0u);
  std::string bytes;
  s.serialize(bytes);
  auto back = token_store::parse(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->token_count(), s.token_count());
  for (std::size_t i = 0; i < keys.size(); i += 997) {
    ASSERT_EQ(back->get(keys[i]).spam, 1u);
    ASSERT_EQ(back->get(keys[i]).ham, i < 1000 ? 1u : 0u);
  }
  EXPECT_EQ(back->get(12345).spam, 0u);
  token_store moved = std::move(*back);
  EXPECT_EQ(moved.get(keys[7]).spam, 1u);
}
