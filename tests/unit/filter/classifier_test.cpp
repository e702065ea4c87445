// Classifier math on hand-made examples whose answers are worked out in the
// comments, the token store's training and its serialized form.
#include <gtest/gtest.h>

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "filter/classifier/classifier.h"
#include "filter/classifier/explain.h"
#include "filter/classifier/features.h"
#include "filter/classifier/spam_level.h"
#include "filter/classifier/token_store.h"
#include "filter/classifier/training_state.h"

using namespace filter;

namespace {
constexpr std::uint64_t A = 101, B = 102, C = 103, D = 104, E = 105, X = 999;

// Spam: {A,B}, {A,C}; ham: {D,E}, {D,B}.
token_store small_store() {
  token_store s;
  std::vector<std::uint64_t> m1 = {A, B}, m2 = {A, C}, m3 = {D, E}, m4 = {B, D};
  s.train(m1, true);
  s.train(m2, true);
  s.train(m3, false);
  s.train(m4, false);
  return s;
}
}  // namespace

TEST(classifier, robinson_token_probability) {
  classifier_options o = classifier_options::spambayes();
  // s=3 of S=3, h=0: p = 1, n = 3: f = (0.45*0.5 + 3) / 3.45.
  EXPECT_NEAR(token_probability({3, 0}, 3, 3, o), 3.225 / 3.45, 1e-12);
  // s=1 of 2, h=1 of 1: p = 0.5 / 1.5 = 1/3, n = 2: f = (0.225 + 2/3) / 2.45.
  EXPECT_NEAR(token_probability({1, 1}, 2, 1, o), (0.225 + 2.0 / 3.0) / 2.45, 1e-12);
  // Never seen: the prior x.
  EXPECT_NEAR(token_probability({0, 0}, 10, 10, o), 0.5, 1e-12);
}

TEST(classifier, chi2_survival_known_values) {
  EXPECT_NEAR(chi2_survival(2.0, 2), std::exp(-1.0), 1e-12);
  EXPECT_NEAR(chi2_survival(4.0, 4), std::exp(-2.0) * 3.0, 1e-12);
  EXPECT_NEAR(chi2_survival(0.0, 10), 1.0, 1e-12);
  EXPECT_LT(chi2_survival(2000.0, 4), 1e-300);
}

// Known answers from tests/unit/filter/chi2_known_answers.py: the Poisson
// sums of the tails in Python's Decimal at 80 digits (no code of ours).
TEST(classifier, chi2_tails_known_answers) {
  struct known {
    double chi2;
    std::size_t v;
    double upper, lower, log_upper, log_lower;
  };
  const known cases[] = {
      {2, 2, 3.67879441171442322e-1, 6.32120558828557678e-1, -1.0, -4.58675145387081891e-1},
      {1e-10, 2, 9.99999999950000000e-1, 4.99999999987500018e-11, -5.00000000000000018e-11, -2.37189981105254021e+1},
      {3, 300, 1.0, 1.02256092166049403e-237, 0.0, -5.45690356851342832e+2},
      {0.5, 2000, 1.0, 0.0, 0.0, -7.29867228982667371e+3},  // P = 1.686e-3170
      // Near the mean of 2000 clues: the old double series had 0 here
      // (exp(-999.5) underflows).
      {1999, 2000, 5.02103375887492975e-1, 4.97896624112507025e-1, -6.88949252427945919e-1, -6.97362805609030561e-1},
      {1400, 1400, 4.94973759944317536e-1, 5.05026240055682464e-1, -7.03250528032037701e-1, -6.83144890550375665e-1},
      {5000, 2000, 2.64598207454425555e-256, 1.0, -5.88488741515354535e+2, 0.0},
      {40000, 2000, 0.0, 1.0, -1.60115851203281071e+4, 0.0},  // Q = 1.807e-6954
  };
  for (const auto& c : cases) {
    chi2_tails t = chi2_both_tails(c.chi2, c.v);
    SCOPED_TRACE(testing::Message() << "chi2 " << c.chi2 << " v " << c.v);
    EXPECT_NEAR(t.upper.value, c.upper, 1e-15 + 1e-12 * c.upper);
    EXPECT_NEAR(t.lower.value, c.lower, 1e-15 + 1e-12 * c.lower);
    // Logs to 1e-12 relative (a tail to 1e-12 of itself, however small).
    EXPECT_NEAR(t.upper.log, c.log_upper, 1e-13 + 1e-12 * std::fabs(c.log_upper));
    EXPECT_NEAR(t.lower.log, c.log_lower, 1e-13 + 1e-12 * std::fabs(c.log_lower));
    EXPECT_TRUE(std::isfinite(t.upper.log) && std::isfinite(t.lower.log));
    // The upper tail is the survival function, where that is representable.
    if (c.upper > 1e-300) {
      EXPECT_NEAR(chi2_survival(c.chi2, c.v), c.upper, 1e-15 + 1e-12 * c.upper);
    }
  }
}

TEST(classifier, chi2_tails_at_the_edges) {
  chi2_tails zero = chi2_both_tails(0.0, 10);
  EXPECT_EQ(zero.upper.value, 1.0);
  EXPECT_EQ(zero.lower.value, 0.0);
  chi2_tails infinite = chi2_both_tails(HUGE_VAL, 10);
  EXPECT_EQ(infinite.upper.value, 0.0);
  EXPECT_EQ(infinite.lower.value, 1.0);
  EXPECT_EQ(infinite.lower.log, 0.0);
  chi2_tails nan = chi2_both_tails(std::nan(""), 10);
  EXPECT_EQ(nan.upper.value, 1.0);
  // Both tails add up to 1 and their logs are finite across the range.
  for (std::size_t v : {2u, 20u, 200u, 2000u, 20000u}) {
    for (double chi2 = 1e-3; chi2 < 1e6; chi2 *= 1.7) {
      chi2_tails t = chi2_both_tails(chi2, v);
      ASSERT_NEAR(t.upper.value + t.lower.value, 1.0, 1e-14) << chi2 << " " << v;
      ASSERT_TRUE(std::isfinite(t.upper.log) && std::isfinite(t.lower.log)) << chi2 << " " << v;
      ASSERT_LE(t.upper.log, 0.0);
      ASSERT_LE(t.lower.log, 0.0);
    }
  }
}

TEST(classifier, fisher_combining_keeps_both_sides_precise) {
  // chi2_known_answers.py again (Fisher's I and 1 - I from the Decimal tails).
  // 200 clues of 0.999: I rounds to 1, 1 - I = 1.27e-348 (below the
  // smallest double), kept as its log.
  std::vector<double> strong(200, 0.999);
  fisher_score f = fisher_combine_precise(strong);
  EXPECT_EQ(f.probability, 1.0);
  EXPECT_NEAR(f.log_complement, -8.01061024018005986e+2, 1e-9);
  // Two clues of 0.9999: 1 - I = 1.07103070378072337e-7 to 1e-12 of itself
  // (1 - I of the rounded I would be off in the 9th digit).
  std::vector<double> two(2, 0.9999);
  f = fisher_combine_precise(two);
  EXPECT_NEAR(f.log_complement, -1.60494741915742966e+1, 1e-11);
  EXPECT_NEAR(f.probability, 9.99999892896929622e-1, 1e-15);
  // 30 clues of 0.99 and 5 of 0.2.
  std::vector<double> mixed(30, 0.99);
  mixed.insert(mixed.end(), 5, 0.2);
  f = fisher_combine_precise(mixed);
  EXPECT_NEAR(f.log_complement, -2.66428496522308306e+1, 1e-11);
  // The ham side: I itself is summed where it is small.
  std::vector<double> hammy(2, 0.0001);
  EXPECT_NEAR(fisher_combine(hammy), 1.07103070378094837e-7, 1e-7 * 1e-12);
  std::vector<double> mixed_ham(30, 0.01);
  mixed_ham.insert(mixed_ham.end(), 5, 0.8);
  EXPECT_NEAR(fisher_combine(mixed_ham), 2.68631794880939925e-12, 2.7e-12 * 1e-11);
}

TEST(classifier, spam_level_scale) {
  // Known answers of the definition: 10 p up to 0.9, then 8 - log10(1 - p).
  EXPECT_DOUBLE_EQ(spam_level(0.0, std::log(1.0)), 0.0);
  EXPECT_DOUBLE_EQ(spam_level(0.5, std::log(0.5)), 5.0);
  EXPECT_DOUBLE_EQ(spam_level(0.9, std::log(0.1)), 9.0);
  EXPECT_NEAR(spam_level(0.99, std::log(0.01)), 10.0, 1e-12);
  EXPECT_NEAR(spam_level(0.999, std::log(0.001)), 11.0, 1e-12);
  EXPECT_NEAR(spam_level(1.0, std::log(1e-12)), 20.0, 1e-12);
  // Without a precise complement it is taken from p.
  EXPECT_NEAR(spam_level(0.999, std::nan("")), 11.0, 1e-9);
  // Continuous at 0.9 and strictly increasing on both sides.
  double below = spam_level(std::nextafter(0.9, 0.0), std::log1p(-std::nextafter(0.9, 0.0)));
  double above = spam_level(std::nextafter(0.9, 1.0), std::log1p(-std::nextafter(0.9, 1.0)));
  EXPECT_NEAR(below, 9.0, 1e-14);
  EXPECT_NEAR(above, 9.0, 1e-14);
  double previous = -1;
  for (int i = 0; i <= 1000; ++i) {
    double p = i / 1000.0;
    double level = spam_level(p, std::log1p(-p));
    EXPECT_GT(level, previous) << p;
    previous = level;
  }
  // Past p = 1 in doubles: ordered by 1 - p alone, finite to the smallest
  // double and beyond (logs of tails that underflow), capped.
  previous = spam_level(1.0, std::log(1e-16));
  for (double log_c = std::log(1e-17); log_c > -20000; log_c *= 1.5) {
    double level = spam_level(1.0, log_c);
    EXPECT_GT(level, previous) << log_c;
    EXPECT_TRUE(std::isfinite(level));
    previous = level;
  }
  double tiniest = std::numeric_limits<double>::denorm_min();
  EXPECT_NEAR(spam_level(1.0, std::log(tiniest)), 8 - std::log10(tiniest), 1e-9);  // 331.3
  EXPECT_EQ(spam_level(1.0, -HUGE_VAL), spam_level_max);
  EXPECT_EQ(spam_level(std::nan(""), 0), 5.0);
}

TEST(classifier, spam_level_of_a_logit) {
  EXPECT_DOUBLE_EQ(spam_level_of_logit(0), 5.0);
  EXPECT_NEAR(spam_level_of_logit(std::log(9.0)), 9.0, 1e-12);        // p = 0.9
  EXPECT_NEAR(spam_level_of_logit(std::log(999.0)), 11.0, 1e-12);     // p = 0.999
  EXPECT_NEAR(spam_level_of_logit(100), 8 + (100 + std::log1p(std::exp(-100.0))) / std::log(10.0), 1e-12);
  EXPECT_NEAR(spam_level_of_logit(-10), 10 / (1 + std::exp(10.0)), 1e-15);
  EXPECT_LT(spam_level_of_logit(40), spam_level_of_logit(41));  // both p = 1.0 in doubles
  EXPECT_EQ(spam_level_of_logit(std::nan("")), 5.0);
  EXPECT_EQ(spam_level_of_logit(HUGE_VAL), spam_level_max);
}

TEST(classifier, fisher_combining_known_values) {
  // One clue: S' = 1 - (1 - f) = f, H' = 1 - f, so the result is f.
  std::vector<double> one = {0.9};
  EXPECT_NEAR(fisher_combine(one), 0.9, 1e-12);
  // Two clues of 0.9: S' = 1 - 0.01 * (1 + ln 100), H' = 1 - 0.81 * (1 - ln 0.81).
  std::vector<double> two = {0.9, 0.9};
  double s = 1 - 0.01 * (1 + std::log(100.0));
  double h = 1 - 0.81 * (1 - std::log(0.81));
  EXPECT_NEAR(fisher_combine(two), (1 + s - h) / 2, 1e-12);
  EXPECT_NEAR(fisher_combine(two), 0.962316, 1e-6);
  // Opposite evidence cancels; no evidence is unsure.
  std::vector<double> opposite = {0.2, 0.8};
  EXPECT_NEAR(fisher_combine(opposite), 0.5, 1e-12);
  EXPECT_EQ(fisher_combine({}), 0.5);
}

TEST(classifier, classify_small_store) {
  token_store s = small_store();
  classifier_options o = classifier_options::spambayes();
  std::vector<double> scratch;
  // A: 2 of 2 spam, no ham: f = (0.225 + 2) / 2.45; the one clue.
  std::vector<std::uint64_t> a = {A};
  auto r = classify(a, s, nullptr, o, scratch);
  EXPECT_NEAR(r.probability, 2.225 / 2.45, 1e-12);
  // Above 0.9 the level is 8 - log10(1 - p): 1 - p = 0.225 / 2.45.
  EXPECT_NEAR(r.level, 8 - std::log10(0.225 / 2.45), 1e-9);
  EXPECT_EQ(r.clues, 1u);
  // D (2 of 2 ham) and an unknown token: f = 0.225 / 2.45.
  std::vector<std::uint64_t> dx = {D, X};
  r = classify(dx, s, nullptr, o, scratch);
  EXPECT_NEAR(r.probability, 0.225 / 2.45, 1e-12);
  // B: once in each class of equal size: f = 0.5, no clue, unsure.
  std::vector<std::uint64_t> b = {B};
  r = classify(b, s, nullptr, o, scratch);
  EXPECT_EQ(r.clues, 0u);
  EXPECT_EQ(r.probability, 0.5);
  // A and C both spam-only: two clues push above either one alone.
  std::vector<std::uint64_t> ac = {A, C};
  r = classify(ac, s, nullptr, o, scratch);
  EXPECT_GT(r.probability, 2.225 / 2.45);
}

// classify() writes every token's f(w) and keeps the clues without a branch
// per token: the same clues, in the same order (the combination multiplies
// in order), as testing each token: unknown tokens are never clues, even
// with no minimum deviation (their f(w) is x, |x - 0.5| >= 0); a store with
// no spam trained takes the untrained side of f(w); the scratch may come in
// larger or smaller than the message.
TEST(classifier, clues_are_the_known_tokens_far_from_a_half_in_order) {
  auto check = [](const token_store& store, const std::vector<std::uint64_t>& hashes, const classifier_options& o,
                  std::vector<double>& scratch) {
    std::vector<double> expected;
    for (std::uint64_t h : hashes) {
      token_counts c = store.get(h);
      if (c.spam == 0 && c.ham == 0) continue;
      double f = token_probability(c, store.spam_messages(), store.ham_messages(), o);
      if (std::fabs(f - 0.5) >= o.minimum_deviation) expected.push_back(f);
    }
    ASSERT_LE(expected.size(), o.clues_max);
    spam_score got = classify(hashes, store, nullptr, o, scratch);
    fisher_score want = fisher_combine_precise(expected);
    EXPECT_EQ(got.clues, expected.size());
    EXPECT_EQ(got.probability, want.probability);
    EXPECT_EQ(scratch, expected);
  };
  token_store store;
  std::vector<std::uint64_t> spam_tokens, ham_tokens, both, unknown;
  for (std::uint64_t i = 1; i <= 40; ++i) {
    spam_tokens.push_back(XXH3_64bits(&i, sizeof i));
    ham_tokens.push_back(XXH3_64bits_withSeed(&i, sizeof i, 1));
    both.push_back(XXH3_64bits_withSeed(&i, sizeof i, 2));
    unknown.push_back(XXH3_64bits_withSeed(&i, sizeof i, 3));
  }
  for (int m = 0; m < 7; ++m) {
    std::vector<std::uint64_t> spam_message(spam_tokens.begin(), spam_tokens.begin() + 10 + 4 * m);
    spam_message.insert(spam_message.end(), both.begin(), both.begin() + 5 * m);
    store.train(spam_message, true);
    std::vector<std::uint64_t> ham_message(ham_tokens.begin(), ham_tokens.begin() + 10 + 3 * m);
    ham_message.insert(ham_message.end(), both.begin() + 3 * m, both.end());
    store.train(ham_message, false);
  }
  std::vector<std::uint64_t> message;
  for (std::size_t i = 0; i < 40; ++i) {
    message.push_back(unknown[i]);
    message.push_back(spam_tokens[i]);
    message.push_back(both[i]);
    message.push_back(ham_tokens[i]);
  }
  std::vector<double> scratch(1000, 7.0);  // larger than the message, stale values
  for (double deviation : {0.25, 0.1, 0.0}) {
    classifier_options o;
    o.minimum_deviation = deviation;
    check(store, message, o, scratch);
    std::vector<double> empty;  // smaller
    check(store, message, o, empty);
  }
  // Only ham trained: a spam side of zero (the untrained branch of f(w)).
  token_store ham_only;
  ham_only.train(ham_tokens, false);
  ham_only.train(both, false);
  std::vector<double> fresh;
  for (double deviation : {0.25, 0.0}) {
    classifier_options o;
    o.minimum_deviation = deviation;
    check(ham_only, message, o, fresh);
  }
}

TEST(classifier, account_store_adds_to_global) {
  token_store global = small_store();
  token_store account;
  // The account calls B ham four more times: B is then s=1, h=5 of S=2,
  // H=6: p = 0.5 / (0.5 + 5/6) = 0.375, n = 6: f = (0.225 + 2.25) / 6.45,
  // 0.116 from 0.5: a clue.
  std::vector<std::uint64_t> b = {B};
  for (int i = 0; i < 4; ++i) account.train(b, false);
  std::vector<double> scratch;
  auto r = classify(b, global, &account, classifier_options::spambayes(), scratch);
  EXPECT_NEAR(r.probability, 2.475 / 6.45, 1e-12);
  EXPECT_EQ(r.clues, 1u);
  // Twice only: f = (0.225 + 4 * 0.4) / 4.45 = 0.410, too close to 0.5.
  token_store twice;
  twice.train(b, false);
  twice.train(b, false);
  r = classify(b, global, &twice, classifier_options::spambayes(), scratch);
  EXPECT_EQ(r.clues, 0u);
  EXPECT_EQ(r.probability, 0.5);
  // Without the account store B is unsure for everyone else.
  EXPECT_EQ(classify(b, global, nullptr, classifier_options::spambayes(), scratch).clues, 0u);
}

TEST(classifier, clues_are_capped_strongest_first) {
  token_store s;
  std::vector<std::uint64_t> spam_tokens, ham_tokens;
  for (std::uint64_t i = 1; i <= 200; ++i) spam_tokens.push_back(i);
  for (std::uint64_t i = 1001; i <= 1010; ++i) ham_tokens.push_back(i);
  for (int k = 0; k < 5; ++k) s.train(spam_tokens, true);
  s.train(ham_tokens, false);
  classifier_options o = classifier_options::spambayes();
  o.clues_max = 20;
  std::vector<double> scratch;
  std::vector<std::uint64_t> all = spam_tokens;
  all.insert(all.end(), ham_tokens.begin(), ham_tokens.end());
  auto r = classify(all, s, nullptr, o, scratch);
  EXPECT_EQ(r.clues, 20u);
  // The 200 spam tokens (n = 5) are stronger than the ham ones (n = 1).
  EXPECT_GT(r.probability, 0.99);
}

// 300 tokens seen only in spam and 300 only in ham, each in 20 messages:
// strong enough that a message of them saturates the probability.
struct two_vocabularies {
  token_store store;
  std::vector<std::uint64_t> spam_tokens, ham_tokens;
  two_vocabularies() {
    for (std::uint64_t i = 1; i <= 300; ++i) spam_tokens.push_back(i);
    for (std::uint64_t i = 1001; i <= 1300; ++i) ham_tokens.push_back(i);
    for (int k = 0; k < 20; ++k) {
      store.train(spam_tokens, true);
      store.train(ham_tokens, false);
    }
  }
};

TEST(classifier, saturated_probabilities_keep_their_order_in_the_level) {
  const auto& [s, spam_tokens, ham_tokens] = two_vocabularies();
  std::vector<double> scratch;
  classifier_options o;
  double previous_level = 0;
  for (std::size_t n : {40u, 80u, 160u, 300u}) {
    std::vector<std::uint64_t> message(spam_tokens.begin(), spam_tokens.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = classify(message, s, nullptr, o, scratch);
    EXPECT_EQ(r.probability, 1.0) << n;  // saturated: 1 - p below half an ulp of 1
    EXPECT_GT(r.level, 16.0) << n;
    EXPECT_GT(r.level, previous_level) << n;  // more spam evidence, a higher level
    EXPECT_TRUE(std::isfinite(r.level));
    previous_level = r.level;
  }
  // The ham side mirrors it in the probability: tiny, ordered, not 0.
  double previous_p = 1;
  for (std::size_t n : {2u, 3u, 4u}) {
    std::vector<std::uint64_t> message(ham_tokens.begin(), ham_tokens.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = classify(message, s, nullptr, o, scratch);
    EXPECT_GT(r.probability, 0.0) << n;
    EXPECT_LT(r.probability, previous_p) << n;
    EXPECT_DOUBLE_EQ(r.level, 10 * r.probability);
    previous_p = r.probability;
  }
}

// The log-odds the CLI's two-model average uses: the same number as the
// probability and the level, on both sides, including where p saturates.
TEST(classifier, log_odds_agree_with_probability_and_level) {
  const auto& [s, spam_tokens, ham_tokens] = two_vocabularies();
  std::vector<double> scratch;
  classifier_options o;
  double previous = -std::numeric_limits<double>::infinity();
  // From all ham to all spam evidence: the log-odds never fall (with strong
  // evidence both ways Fisher's I sits at 0.5, log-odds 0, for a while).
  for (std::size_t spammy = 0; spammy <= 300; spammy += 20) {
    std::vector<std::uint64_t> message(spam_tokens.begin(), spam_tokens.begin() + static_cast<std::ptrdiff_t>(spammy));
    message.insert(message.end(), ham_tokens.begin(), ham_tokens.begin() + static_cast<std::ptrdiff_t>(300 - spammy));
    auto r = classify(message, s, nullptr, o, scratch);
    ASSERT_TRUE(std::isfinite(r.log_odds)) << spammy;
    EXPECT_GE(r.log_odds, previous) << spammy;
    if (spammy == 0) {
      EXPECT_LT(r.log_odds, -100.0);  // all ham: far past what p can show
    }
    previous = r.log_odds;
    EXPECT_NEAR(r.level, spam_level_of_logit(r.log_odds), 1e-9 * std::max(1.0, r.level)) << spammy;
    if (std::fabs(r.log_odds) < 30) {
      EXPECT_NEAR(r.probability, 1.0 / (1.0 + std::exp(-r.log_odds)), 1e-12) << spammy;
    }
  }
  EXPECT_GT(previous, 100.0);  // all spam: far past what p can show
  // A hand-made case with a known answer: one clue of f = 0.8 gives
  // I = (1 + S - H) / 2 with v = 2, so p = 0.8 exactly: log-odds ln 4.
  std::vector<double> one = {0.8};
  fisher_score f = fisher_combine_precise(one);
  EXPECT_NEAR(f.log_probability - f.log_complement, std::log(4.0), 1e-12);
}

TEST(token_store, untraining_clamps_at_zero) {
  token_store s = small_store();
  std::vector<std::uint64_t> ae = {A, E};
  s.train(ae, true, -1);
  EXPECT_EQ(s.get(A).spam, 1u);
  EXPECT_EQ(s.get(E).spam, 0u);  // was never spam: stays 0
  EXPECT_EQ(s.get(E).ham, 1u);
  EXPECT_EQ(s.spam_messages(), 1u);
  s.train(ae, true, -5);
  EXPECT_EQ(s.spam_messages(), 0u);
  EXPECT_EQ(s.get(A).spam, 0u);
}

TEST(token_store, serialization_round_trip_and_corruption) {
  token_store s = small_store();
  for (std::uint64_t i = 0; i < 5000; ++i) {
    std::vector<std::uint64_t> one = {i * 0x9e3779b97f4a7c15ull};
    s.train(one, i % 3 == 0);
  }
  std::string bytes;
  s.serialize(bytes);
  auto back = token_store::parse(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->spam_messages(), s.spam_messages());
  EXPECT_EQ(back->ham_messages(), s.ham_messages());
  EXPECT_EQ(back->token_count(), s.token_count());
  EXPECT_EQ(back->get(A).spam, 2u);
  EXPECT_EQ(back->get(D).ham, 2u);
  EXPECT_EQ(back->get(0).spam + back->get(0).ham, 1u);  // hash 0 is a real key
  std::string again;
  back->serialize(again);
  EXPECT_EQ(again, bytes);

  std::string flipped = bytes;
  flipped[100] ^= 1;
  ASSERT_FALSE(token_store::parse(flipped).has_value());
  EXPECT_EQ(token_store::parse(flipped).error(), store_errc::bad_checksum);
  EXPECT_EQ(token_store::parse(bytes.substr(0, bytes.size() - 3)).error(), store_errc::truncated);
  EXPECT_EQ(token_store::parse("RMTOKENX" + bytes.substr(8)).error(), store_errc::bad_magic);
  token_store empty;
  std::string e;
  empty.serialize(e);
  ASSERT_TRUE(token_store::parse(e).has_value());
  EXPECT_EQ(token_store::parse(e)->token_count(), 0u);
}

namespace {
// A token store file written by hand (token_store.h's format), records in
// the order given: parse() must take any order, not only serialize()'s.
std::string store_file(const std::vector<std::pair<std::uint64_t, token_counts>>& records) {
  std::string out = "RMTOKENS";
  auto put = [&out](auto v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(std::uint32_t{1});
  put(std::uint32_t{48});
  put(std::uint64_t{7});
  put(std::uint64_t{9});
  put(std::uint64_t{records.size()});
  put(std::uint32_t{0});
  put(std::uint32_t{0});
  for (const auto& [key, counts] : records) {
    put(key);
    put(counts.spam);
    put(counts.ham);
  }
  put(std::uint64_t{XXH3_64bits(out.data(), out.size())});
  return out;
}
}  // namespace

// parse() places serialize()'s sorted records without probing and hands the
// rest of a file to the general insertion when that stops holding: a run of
// keys reaching the table's end (it wraps to the front), keys out of order,
// the same key twice (the last record's counts win). Every key must be
// found with its counts either way.
TEST(token_store, parse_finds_every_record_in_any_order) {
  std::vector<std::pair<std::uint64_t, token_counts>> records;
  for (std::uint64_t i = 0; i < 3000; ++i) records.push_back({(i + 1) * 0x9e3779b97f4a7c15ull, {std::uint32_t(i), 1}});
  // 40 keys in the last of the 8192 slots' home ranges: their run wraps.
  for (std::uint64_t i = 0; i < 40; ++i) records.push_back({~std::uint64_t{0} - i, {1, std::uint32_t(i)}});
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  auto check = [](const std::string& file, const std::vector<std::pair<std::uint64_t, token_counts>>& expected,
                  std::size_t distinct) {
    auto store = token_store::parse(file);
    ASSERT_TRUE(store.has_value());
    EXPECT_EQ(store->token_count(), distinct);
    EXPECT_EQ(store->spam_messages(), 7u);
    EXPECT_EQ(store->ham_messages(), 9u);
    for (const auto& [key, counts] : expected) {
      EXPECT_EQ(store->get(key).spam, counts.spam) << key;
      EXPECT_EQ(store->get(key).ham, counts.ham) << key;
    }
    EXPECT_EQ(store->get(12345).spam + store->get(12345).ham, 0u);
  };
  check(store_file(records), records, records.size());  // sorted, with the wrapping run at the end

  auto shuffled = records;
  std::reverse(shuffled.begin() + 1000, shuffled.end());  // sorted up to 1000, then descending
  check(store_file(shuffled), records, records.size());

  auto twice = records;
  twice.insert(twice.begin() + 500, {records[700].first, {0, 0}});  // an early duplicate, overwritten by the sorted one
  twice.push_back({records[10].first, {42, 43}});                 // a late duplicate: wins
  auto expected = records;
  expected[10].second = {42, 43};
  check(store_file(twice), expected, records.size());
}

// The table keeps at most half its slots used (a lookup of an absent
// token stops at the next empty slot, on average soon), and no more than
// that bound needs: the next power of two. Trained and loaded alike.
TEST(token_store, at_most_half_of_the_slots_are_used) {
  token_store s;
  std::vector<std::uint64_t> hashes;
  for (std::uint64_t i = 1; i <= 70000; ++i) {
    hashes.push_back(i * 0x9e3779b97f4a7c15ull);
    s.train(std::span<const std::uint64_t>(hashes).last(1), true);
    if (i % 7919 != 0 && i != 511 && i != 512 && i != 32767 && i != 32768 && i != 70000) continue;
    std::size_t slots = s.memory_bytes() / 16;
    EXPECT_GE(slots, 2 * s.token_count()) << i;
    EXPECT_LE(slots, std::max<std::size_t>(1024, 4 * s.token_count())) << i;
  }
  s.train(hashes, false);
  ASSERT_EQ(s.token_count(), 70000u);
  EXPECT_EQ(s.memory_bytes(), 262144u * 16);
  std::string file;
  s.serialize(file);
  auto loaded = token_store::parse(file);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->memory_bytes(), s.memory_bytes());
  for (std::uint64_t h : hashes) {
    ASSERT_EQ(loaded->get(h).ham, 1u) << h;
    ASSERT_EQ(loaded->get(h + 1).ham, 0u) << h;
  }
}

TEST(features, a_message_trains_and_scores) {
  std::string spam = "Subject: cheap pills\n\nbuy cheap pills now at http://pills.example.ru/ today\n";
  std::string ham = "Subject: meeting notes\n\nthe meeting notes from tuesday are attached, see you soon\n";
  token_store s;
  auto fs = message_features(spam);
  auto fh = message_features(ham);
  for (int i = 0; i < 3; ++i) {
    s.train(fs, true);
    s.train(fh, false);
  }
  std::vector<double> scratch;
  auto probe_spam = message_features("Subject: pills\n\ncheap pills at http://www.example.ru/x\n");
  auto probe_ham = message_features("Subject: notes\n\nmeeting on tuesday\n");
  EXPECT_GT(classify(probe_spam, s, nullptr, {}, scratch).probability, 0.9);
  EXPECT_LT(classify(probe_ham, s, nullptr, {}, scratch).probability, 0.1);
}

// explain() names the tokens behind a score: the same score as classify(),
// the strongest first, with the text of each token and its prefix.
TEST(explain, lists_the_clues_with_their_text) {
  std::string spam = "Subject: cheap pills\n\nbuy cheap pills now at http://pills.example.ru/ today\n";
  std::string ham = "Subject: meeting notes\n\nthe meeting notes from tuesday are attached\n";
  token_store s;
  for (int i = 0; i < 3; ++i) {
    s.train(message_features(spam), true);
    s.train(message_features(ham), false);
  }
  std::string probe = "Subject: pills\n\ncheap pills, meeting at http://www.example.ru/x zzunseen\n";
  classifier_options o;
  auto e = explain(probe, {}, s, nullptr, o);
  std::vector<double> scratch;
  auto direct = classify(message_features(probe), s, nullptr, o, scratch);
  EXPECT_EQ(e.score.probability, direct.probability);
  EXPECT_EQ(e.score.clues, direct.clues);
  // Every token of the probe the store knows is listed, and only those.
  std::size_t known = 0;
  auto probe_features = message_features(probe);
  for (auto h : probe_features) {
    auto c = s.get(h);
    if (c.spam + c.ham > 0) ++known;
  }
  EXPECT_EQ(e.tokens, probe_features.size());
  EXPECT_EQ(e.known, known);
  EXPECT_EQ(e.known_tokens.size(), known);
  EXPECT_GE(known, 5u);  // subject:pills, cheap, pills, meeting, url:example.ru
  EXPECT_GT(e.tokens, e.known);  // zzunseen, url:www.example.ru
  auto find = [&](std::string_view t) -> const explained_token* {
    for (const auto& k : e.known_tokens)
      if (k.token == t) return &k;
    return nullptr;
  };
  const auto* pills = find("subject:pills");
  ASSERT_NE(pills, nullptr);
  EXPECT_EQ(pills->counts.spam, 3u);
  EXPECT_EQ(pills->counts.ham, 0u);
  EXPECT_TRUE(pills->clue);
  ASSERT_NE(find("url:example.ru"), nullptr);
  const auto* meeting = find("meeting");
  ASSERT_NE(meeting, nullptr);
  EXPECT_EQ(meeting->counts.ham, 3u);
  EXPECT_LT(meeting->probability, 0.1);
  EXPECT_EQ(find("zzunseen"), nullptr);
  for (std::size_t i = 1; i < e.known_tokens.size(); ++i)
    EXPECT_GE(std::fabs(e.known_tokens[i - 1].probability - 0.5), std::fabs(e.known_tokens[i].probability - 0.5));

  // With a cap of one clue, only the strongest counts.
  o.clues_max = 1;
  auto capped = explain(probe, {}, s, nullptr, o);
  EXPECT_EQ(capped.score.clues, 1u);
  EXPECT_TRUE(capped.known_tokens[0].clue);
  for (std::size_t i = 1; i < capped.known_tokens.size(); ++i) EXPECT_FALSE(capped.known_tokens[i].clue);
}

// Train-on-error bookkeeping: a message is trained once per class; moving it
// back out of Junk untrains it as spam and trains it as ham.
TEST(training_state, plan_trains_once_and_corrects_errors) {
  training_state st;
  auto first = st.plan(7, true);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->untrain, trained_as::none);
  EXPECT_EQ(first->train, trained_as::spam);
  first->tokens = {A, B};
  st.apply(*first);
  EXPECT_EQ(st.tokens.spam_messages(), 1u);
  EXPECT_EQ(st.tokens.get(A).spam, 1u);
  EXPECT_FALSE(st.plan(7, true).has_value());  // no double training
  auto fix = st.plan(7, false);
  ASSERT_TRUE(fix.has_value());
  EXPECT_EQ(fix->untrain, trained_as::spam);
  EXPECT_EQ(fix->train, trained_as::ham);
  fix->tokens = {A, B};
  st.apply(*fix);
  EXPECT_EQ(st.tokens.spam_messages(), 0u);
  EXPECT_EQ(st.tokens.ham_messages(), 1u);
  EXPECT_EQ(st.tokens.get(A).spam, 0u);
  EXPECT_EQ(st.tokens.get(A).ham, 1u);
  EXPECT_EQ(st.ledger_of(7), trained_as::ham);
  EXPECT_EQ(st.ledger_of(8), trained_as::none);
}

// Replaying Junk training intents (appliance/spam/spam_training.h): the
// daemon removes an intent only after the delta that applied it is durable,
// so a kill in between replays it at the next start. The ledger must make
// that harmless: the same verdicts again, in the same order, leave the
// counts, the tokens and the ledger as they were, including a message
// moved into Junk and back out (its last verdict decides).
TEST(training_state, replaying_applied_verdicts_changes_nothing) {
  struct verdict {
    std::uint64_t id;
    bool spam;
    std::vector<std::uint64_t> tokens;
  };
  const std::vector<verdict> moves = {
      {1, true, {A, B}}, {2, true, {B, C}}, {3, true, {C, D}},  // into Junk
      {4, false, {A, D}},                                       // out of Junk, never spam
      {2, false, {B, C}},                                       // back out again
  };
  auto run = [](training_state& st, const std::vector<verdict>& vs) {
    std::size_t changed = 0;
    for (const auto& v : vs) {
      auto op = st.plan(v.id, v.spam);
      if (!op) continue;
      op->tokens = v.tokens;
      st.apply(*op);
      ++changed;
    }
    return changed;
  };
  auto same = [](const training_state& a, const training_state& b) {
    EXPECT_EQ(a.tokens.spam_messages(), b.tokens.spam_messages());
    EXPECT_EQ(a.tokens.ham_messages(), b.tokens.ham_messages());
    EXPECT_EQ(a.ledger_size(), b.ledger_size());
    for (std::uint64_t t : {A, B, C, D}) {
      EXPECT_EQ(a.tokens.get(t).spam, b.tokens.get(t).spam) << t;
      EXPECT_EQ(a.tokens.get(t).ham, b.tokens.get(t).ham) << t;
    }
    for (std::uint64_t id = 1; id <= 4; ++id) EXPECT_EQ(a.ledger_of(id), b.ledger_of(id)) << id;
  };
  training_state once;
  EXPECT_EQ(run(once, moves), 5u);
  EXPECT_EQ(once.tokens.spam_messages(), 2u);
  EXPECT_EQ(once.tokens.ham_messages(), 2u);
  // A message's verdict twice in a row: the second is a no-op.
  for (const auto& v : moves) {
    if (v.id == 2) continue;
    EXPECT_FALSE(once.plan(v.id, v.spam).has_value()) << v.id;
  }
  // The whole sequence replayed (every intent kept): the same state. Only
  // message 2's two verdicts do anything, and they cancel.
  training_state twice = once;
  EXPECT_EQ(run(twice, moves), 2u);
  same(twice, once);
  // Only the last intent replayed (the earlier ones were removed): nothing.
  training_state tail = once;
  EXPECT_EQ(run(tail, {moves.back()}), 0u);
  same(tail, once);
}

TEST(training_state, delta_round_trip_and_corruption) {
  std::vector<training_op> ops(2);
  ops[0] = {11, trained_as::none, trained_as::spam, {A, B, C}};
  ops[1] = {12, trained_as::spam, trained_as::ham, {}};
  std::string bytes;
  encode_delta(ops, bytes);
  EXPECT_EQ(training_blob_kind(bytes), training_blob::delta);
  auto back = decode_delta(bytes);
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].message_id, 11u);
  EXPECT_EQ((*back)[0].tokens, (std::vector<std::uint64_t>{A, B, C}));
  EXPECT_EQ((*back)[1].untrain, trained_as::spam);
  EXPECT_EQ((*back)[1].train, trained_as::ham);
  std::string flipped = bytes;
  flipped[30] ^= 1;
  EXPECT_EQ(decode_delta(flipped).error(), store_errc::bad_checksum);
  EXPECT_EQ(decode_delta(bytes.substr(0, 20)).error(), store_errc::truncated);
  EXPECT_FALSE(training_blob_kind("hello world").has_value());
}

TEST(training_state, snapshot_round_trip_keeps_counts_and_ledger) {
  training_state st;
  training_op op{5, trained_as::none, trained_as::spam, {A, C}};
  st.apply(op);
  training_op ham{6, trained_as::none, trained_as::ham, {D}};
  st.apply(ham);
  std::string bytes;
  st.encode_snapshot(42, bytes);
  EXPECT_EQ(training_blob_kind(bytes), training_blob::snapshot);
  auto back = training_state::decode_snapshot(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->applied_through, 42u);
  EXPECT_EQ(back->state.tokens.spam_messages(), 1u);
  EXPECT_EQ(back->state.tokens.ham_messages(), 1u);
  EXPECT_EQ(back->state.tokens.get(C).spam, 1u);
  EXPECT_EQ(back->state.tokens.get(D).ham, 1u);
  EXPECT_EQ(back->state.ledger_of(5), trained_as::spam);
  EXPECT_EQ(back->state.ledger_of(6), trained_as::ham);
  EXPECT_FALSE(back->state.plan(5, true).has_value());
  std::string cut = bytes.substr(0, bytes.size() - 1);
  EXPECT_FALSE(training_state::decode_snapshot(cut).has_value());
}

// clear() empties the table by moving to the next mark (and shrinks one a
// big message grew): a collector reused after a big message must still see
// every token of the next one exactly once (a slot left behind would hide
// a token).
TEST(feature_collector, reuse_after_a_big_message_matches_a_fresh_collector) {
  feature_collector reused;
  for (std::uint64_t i = 1; i <= 5000; ++i) reused.on_token(i * 0x9e3779b97f4a7c15ull, "", "");
  ASSERT_EQ(reused.unique().size(), 5000u);
  for (int round = 0; round < 3; ++round) {
    reused.clear();
    feature_collector fresh;
    for (std::uint64_t i = 0; i < 300; ++i) {
      // Colliding low bits and repeats, including the hash 0.
      std::uint64_t h = (i % 250) * 4096 + static_cast<std::uint64_t>(round);
      reused.on_token(h, "", "");
      fresh.on_token(h, "", "");
    }
    ASSERT_EQ(std::vector<std::uint64_t>(reused.unique().begin(), reused.unique().end()),
              std::vector<std::uint64_t>(fresh.unique().begin(), fresh.unique().end()));
    EXPECT_EQ(reused.unique().size(), 250u);
  }
}

// The 16-bit mark wraps after 65,535 messages: the table must be emptied
// then, not read as holding the hashes of the message that had the same
// mark. The first message and those around the wrap also have the hash
// 1000, whose slot no other message touches: read as still there, it
// would be missing from their unique().
TEST(feature_collector, a_hundred_thousand_messages_each_see_their_tokens_once) {
  feature_collector reused;
  const std::vector<std::uint64_t> hashes = {0, 1, 2048, 4096, 0x9e3779b97f4a7c15ull, 0, 2048, 7};
  for (int message = 0; message < 100000; ++message) {
    reused.clear();
    reused.on_hashes(hashes);
    bool with_1000 = message == 0 || (message >= 65535 && message < 65545);
    if (with_1000) reused.on_token(1000, "", "");
    ASSERT_EQ(reused.unique().size(), with_1000 ? 7u : 6u) << message;
    ASSERT_EQ(reused.unique()[0], 0u);
    ASSERT_EQ(reused.unique()[5], 7u);
  }
}
