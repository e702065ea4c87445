// FTRL-Proximal (filter/classifier/ftrl.h) on hand-made examples. The
// expected numbers were worked out by hand from the update rule in ftrl.h
// (and checked with a few lines of Python, independent of this code):
//
//   alpha 0.5, beta 1, l1 0, l2 0; all slots start at z = n = 0 (w = 0).
//   step 1, spam {A,B}: p = sigmoid(0) = 0.5, g = p - 1 = -0.5
//     for bias, A, B: n = 0.25, sigma = (0.5 - 0) / 0.5 = 1, z = -0.5 - 1*0 = -0.5
//     w = 0.5 / ((1 + 0.5) / 0.5) = 1/6
//     predict {A,B} = sigmoid(1/6 + 1/6 + 1/6) = sigmoid(0.5) = 0.6224593312
//   step 2, ham {A,C}: logit = w_bias + w_A + w_C = 1/3, p = 0.5825702065, g = p
//     A (and bias): n = 0.25 + g^2 = 0.5893880455,
//       sigma = (sqrt(n) - 0.5) / 0.5, z = -0.5 + g - sigma/6 = -0.0066685012
//     C: n = g^2 = 0.3393880455, z = g = 0.5825702065,
//       w = -g / ((1 + g) / 0.5) = -0.1840582503
//     predict {A,B} = sigmoid(2 w_A + 1/6) with w_A = 0.0018861912: 0.5425069118
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "filter/classifier/ftrl.h"
#include "filter/classifier/spam_level.h"

using namespace filter;

namespace {

// With bits = 10 a hash's slot is its top 10 bits.
constexpr std::uint64_t slot_hash(std::uint64_t slot) { return slot << 54; }
constexpr std::uint64_t A = slot_hash(1), B = slot_hash(2), C = slot_hash(3);

ftrl_options hand_options() {
  ftrl_options o;
  o.bits = 10;
  o.alpha = 0.5;
  o.beta = 1;
  o.l1 = 0;
  o.l2 = 0;
  return o;
}

}  // namespace

TEST(ftrl, slots_are_the_top_bits_of_the_hash) {
  ftrl_model m(hand_options());
  EXPECT_EQ(m.slot_of(A), 1u);
  EXPECT_EQ(m.slot_of(C | 0x3fffffffffffffull), 3u);
  EXPECT_EQ(m.slot_of(~0ull), 1023u);
}

TEST(ftrl, an_untrained_model_says_one_half) {
  ftrl_model m(hand_options());
  std::vector<std::uint64_t> msg = {A, B};
  EXPECT_DOUBLE_EQ(m.predict(msg), 0.5);
  EXPECT_DOUBLE_EQ(m.predict({}), 0.5);
}

TEST(ftrl, one_step_z_n_w_and_the_prediction) {
  ftrl_model m(hand_options());
  std::vector<std::uint64_t> spam = {A, B};
  EXPECT_DOUBLE_EQ(m.train(spam, true), 0.5);  // the probability before the step
  for (std::uint32_t s : {1u, 2u}) {
    EXPECT_NEAR(m.z(s), -0.5, 1e-7);
    EXPECT_NEAR(m.n(s), 0.25, 1e-7);
    EXPECT_NEAR(m.weight(s), 1.0 / 6, 1e-7);
  }
  EXPECT_NEAR(m.bias_z(), -0.5, 1e-7);
  EXPECT_NEAR(m.bias_weight(), 1.0 / 6, 1e-7);
  EXPECT_EQ(m.n(3), 0.0f);
  EXPECT_EQ(m.weight(3), 0.0);
  EXPECT_NEAR(m.predict(spam), 0.6224593312, 1e-7);
  // The log-odds behind it: 1/6 (bias) + 1/6 + 1/6; the level is 10 p below 0.9.
  EXPECT_NEAR(m.predict_logit(spam), 0.5, 1e-7);
  EXPECT_NEAR(spam_level_of_logit(m.predict_logit(spam)), 6.224593312, 1e-6);
  EXPECT_EQ(m.spam_messages(), 1u);
  EXPECT_EQ(m.ham_messages(), 0u);
}

TEST(ftrl, second_step_uses_the_first_steps_weights) {
  ftrl_model m(hand_options());
  std::vector<std::uint64_t> spam = {A, B}, ham = {A, C};
  m.train(spam, true);
  EXPECT_NEAR(m.train(ham, false), 0.5825702065, 1e-7);
  EXPECT_NEAR(m.n(1), 0.5893880455, 1e-6);
  EXPECT_NEAR(m.z(1), -0.0066685012, 1e-6);
  EXPECT_NEAR(m.z(2), -0.5, 1e-7);  // B was not in the ham
  EXPECT_NEAR(m.z(3), 0.5825702065, 1e-6);
  EXPECT_NEAR(m.n(3), 0.3393880455, 1e-6);
  EXPECT_NEAR(m.weight(3), -0.1840582503, 1e-6);
  EXPECT_NEAR(m.weight(1), 0.0018861912, 1e-6);
  EXPECT_NEAR(m.predict(spam), 0.5425069118, 1e-6);
}

TEST(ftrl, l1_zeroes_small_weights_but_not_the_bias) {
  ftrl_options o = hand_options();
  o.l1 = 1;  // |z| = 0.5 after one step: below l1
  ftrl_model m(o);
  std::vector<std::uint64_t> spam = {A, B};
  m.train(spam, true);
  EXPECT_EQ(m.weight(1), 0.0);
  EXPECT_NEAR(m.bias_weight(), 1.0 / 6, 1e-7);
  EXPECT_NEAR(m.predict(spam), 0.5415704832, 1e-7);  // sigmoid(1/6)
}

TEST(ftrl, l2_adds_to_the_denominator) {
  ftrl_options o = hand_options();
  o.l2 = 1;
  ftrl_model m(o);
  std::vector<std::uint64_t> spam = {A, B};
  m.train(spam, true);
  EXPECT_NEAR(m.weight(1), 0.5 / (3 + 1), 1e-7);  // -z / ((beta + sqrt n) / alpha + l2)
  EXPECT_NEAR(m.bias_weight(), 1.0 / 6, 1e-7);
}

TEST(ftrl, training_separates_a_small_synthetic_set) {
  // Ham messages draw from tokens 0..49, spam from 40..99 (10 shared), plus
  // noise tokens 100..999 in both; every message has 20 tokens.
  std::mt19937_64 rng(7);
  auto make = [&](bool spam) {
    std::vector<std::uint64_t> msg;
    std::uniform_int_distribution<std::uint64_t> own(spam ? 40 : 0, spam ? 99 : 49), noise(100, 999);
    for (int i = 0; i < 15; ++i) msg.push_back((own(rng) << 48) | 17);
    for (int i = 0; i < 5; ++i) msg.push_back((noise(rng) << 48) | 17);
    std::sort(msg.begin(), msg.end());
    msg.erase(std::unique(msg.begin(), msg.end()), msg.end());
    return msg;
  };
  std::vector<std::vector<std::uint64_t>> train, test;
  for (int i = 0; i < 200; ++i) train.push_back(make(i % 2 == 1));
  for (int i = 0; i < 100; ++i) test.push_back(make(i % 2 == 1));
  ftrl_options o;
  o.bits = 16;  // tokens (t << 48) land in distinct slots
  ftrl_model m(o);
  for (int epoch = 0; epoch < 3; ++epoch)
    for (std::size_t i = 0; i < train.size(); ++i) m.train(train[i], i % 2 == 1);
  double lowest_spam = 1, highest_ham = 0;
  for (std::size_t i = 0; i < test.size(); ++i) {
    double p = m.predict(test[i]);
    if (i % 2 == 1)
      lowest_spam = std::min(lowest_spam, p);
    else
      highest_ham = std::max(highest_ham, p);
  }
  EXPECT_GT(lowest_spam, 0.75);  // every held-out message on its side, with a margin
  EXPECT_LT(highest_ham, 0.25);
  // predict() is the sigmoid of predict_logit(); a message of the spam
  // tokens only, each twice (two hashes of one slot: the logit counts the
  // slot's weight per hash), saturates the probability (logit past 35)
  // but not the level; four times each, a higher level.
  for (const auto& msg : test) EXPECT_DOUBLE_EQ(m.predict(msg), sigmoid(m.predict_logit(msg)));
  std::vector<std::uint64_t> strong, stronger;
  for (std::uint64_t t = 50; t < 100; ++t) {
    for (std::uint64_t copy = 0; copy < 2; ++copy) strong.push_back((t << 48) | copy);
    for (std::uint64_t copy = 0; copy < 4; ++copy) stronger.push_back((t << 48) | copy);
  }
  double logit = m.predict_logit(strong), logit_more = m.predict_logit(stronger);
  ASSERT_GT(logit, 35.0);
  EXPECT_EQ(m.predict(strong), m.predict(stronger));  // both clamped at sigmoid(35)
  EXPECT_GT(spam_level_of_logit(logit_more), spam_level_of_logit(logit));
  EXPECT_NEAR(spam_level_of_logit(logit), 8 + logit / std::log(10.0), 1e-9);
  // The tokens only one class has pull their way; noise stays near zero.
  EXPECT_GT(m.weight(m.slot_of(std::uint64_t{90} << 48)), 0.1);
  EXPECT_LT(m.weight(m.slot_of(std::uint64_t{5} << 48)), -0.1);
}

TEST(ftrl, serialized_form_round_trips_and_is_sparse) {
  ftrl_options o = hand_options();
  o.l1 = 0.25;
  o.l2 = 0.5;
  ftrl_model m(o);
  m.set_feature_flags(1);
  std::vector<std::uint64_t> spam = {A, B}, ham = {A, C};
  m.train(spam, true);
  m.train(ham, false);
  std::string bytes;
  m.serialize(bytes);
  EXPECT_EQ(bytes.size(), 88u + 3 * 12 + 8);  // header, three used slots, checksum
  auto back = ftrl_model::parse(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->options().bits, 10u);
  EXPECT_EQ(back->options().alpha, 0.5);
  EXPECT_EQ(back->options().l1, 0.25);
  EXPECT_EQ(back->options().l2, 0.5);
  EXPECT_EQ(back->feature_flags(), 1u);
  EXPECT_EQ(back->spam_messages(), 1u);
  EXPECT_EQ(back->ham_messages(), 1u);
  for (std::uint32_t s = 0; s < 1024; ++s) {
    EXPECT_EQ(back->z(s), m.z(s));
    EXPECT_EQ(back->n(s), m.n(s));
  }
  EXPECT_EQ(back->predict(spam), m.predict(spam));
  std::string again;
  back->serialize(again);
  EXPECT_EQ(again, bytes);
}

TEST(ftrl, damaged_files_are_refused) {
  ftrl_model m(hand_options());
  std::vector<std::uint64_t> spam = {A, B};
  m.train(spam, true);
  std::string bytes;
  m.serialize(bytes);
  EXPECT_EQ(ftrl_model::parse(bytes.substr(0, 40)).error(), ftrl_errc::truncated);
  std::string bad = bytes;
  bad[0] = 'X';
  EXPECT_EQ(ftrl_model::parse(bad).error(), ftrl_errc::bad_magic);
  bad = bytes;
  bad[100] ^= 1;
  EXPECT_EQ(ftrl_model::parse(bad).error(), ftrl_errc::bad_checksum);
  bad = bytes;
  bad[8] = 9;
  EXPECT_EQ(ftrl_model::parse(bad).error(), ftrl_errc::bad_version);
  EXPECT_EQ(ftrl_model::parse("RMTOKENS").error(), ftrl_errc::truncated);
}

TEST(ftrl, options_are_checked) {
  ftrl_options o;
  EXPECT_TRUE(o.invalid().empty());
  o.bits = 25;
  EXPECT_FALSE(o.invalid().empty());
  o = {};
  o.alpha = 0;
  EXPECT_FALSE(o.invalid().empty());
  o = {};
  o.l1 = -1;
  EXPECT_FALSE(o.invalid().empty());
}
