#pragma once
// The Bayesian classifier of the SpamBayes/bogofilter family:
//
//   token probability  p(w) = (s/S) / (s/S + h/H)        s, h: spam and ham
//                                                         messages with w;
//                                                         S, H: all trained
//   Robinson smoothing f(w) = (strength * x + n * p(w)) / (strength + n),
//                      n = s + h (a rare token stays near x)
//   clues              tokens with |f(w) - 0.5| >= minimum_deviation, at most
//                      clues_max of them, the strongest first
//   Fisher combining   S' = 1 - C2(-2 sum ln(1 - f), 2k)   (spamminess)
//                      H' = 1 - C2(-2 sum ln f, 2k)        (hamminess)
//                      probability = (1 + S' - H') / 2
//   where C2(x, v) is the chi-square survival function with v degrees of
//   freedom. With no clues the probability is 0.5 (unsure).
//   Computed as  probability = (P_s + Q_h) / 2,  1 - probability = (Q_s + P_h) / 2
//   (Q = C2 the upper tail, P = 1 - C2 the lower tail, of the spam and ham
//   statistics), each tail summed directly where it is small: the same
//   probability as the formula above wherever a double can tell it from 1,
//   and ln(1 - probability) for the level where it cannot.
//
// Counts are those of the global store plus the account's store, if any
// (per-account training shifts the global picture for that account only).
// The spam level (spam_level.h) is 10 * probability up to 0.9, then
// 8 - log10(1 - probability) from the precise tails: 0.99 -> 10, 0.999 -> 11,
// and strong spam keeps its order past the probability's 1.000000.
// Pure arithmetic, no allocation beyond the clue buffer passed in.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "filter/classifier/spam_level.h"
#include "filter/classifier/token_store.h"

namespace filter {

// The defaults were chosen on bench/spam/evaluate.py (filter/README.md,
// "Evaluation"). Against SpamBayes' own values (spambayes(), kept as the
// measured alternative) a weaker prior, stronger clues only and no small
// clue cap gave fewer false positives on every split and more spam caught
// at <= 0.1% false positives: train *-1/test *-2 70.8% -> 82.2%, stratified
// 5-fold 90.8% -> 91.5%.
struct classifier_options {
  double robinson_strength = 0.05;  // s: weight of the prior x against n observations
  double robinson_x = 0.5;          // x: f(w) of a token never seen
  double minimum_deviation = 0.25;  // a clue is |f(w) - 0.5| >= this
  std::size_t clues_max = 1000;     // strongest clues kept

  // SpamBayes' defaults (unknown_word_strength, unknown_word_prob,
  // minimum_prob_strength, max_discriminators): the measured alternative.
  static classifier_options spambayes() {
    classifier_options o;
    o.robinson_strength = 0.45;
    o.robinson_x = 0.5;
    o.minimum_deviation = 0.1;
    o.clues_max = 150;
    return o;
  }
};

struct spam_score {
  double probability = 0.5;  // 0 = ham .. 1 = spam
  double level = 5.0;        // spam_level(): 10 * probability, 0..10+
  std::size_t clues = 0;     // tokens that took part
  // ln(p / (1 - p)), precise on both sides where p saturates (from the
  // chi-square tails): what the CLI's two-model average combines.
  double log_odds = 0.0;
};

// What a classification sees of the stores: the account's counts are added
// to the global ones (account may be null).
inline token_counts combined_counts(const token_store& global, const token_store* account, std::uint64_t hash) {
  token_counts c = global.get(hash);
  if (account != nullptr) {
    token_counts a = account->get(hash);
    c.spam += a.spam;
    c.ham += a.ham;
  }
  return c;
}
inline std::uint64_t combined_spam_messages(const token_store& global, const token_store* account) {
  return global.spam_messages() + (account ? account->spam_messages() : 0);
}
inline std::uint64_t combined_ham_messages(const token_store& global, const token_store* account) {
  return global.ham_messages() + (account ? account->ham_messages() : 0);
}

// Robinson's f(w) for one token.
double token_probability(token_counts counts, std::uint64_t spam_messages, std::uint64_t ham_messages,
                         const classifier_options& options);
// Chi-square survival function for an even number of degrees of freedom
// (chi2_both_tails().upper.value).
double chi2_survival(double chi2, std::size_t degrees_of_freedom);
// Both tails at once, each precise where it is small: `value` (0 once it
// underflows) and its natural log (finite for any finite chi2 > 0).
struct chi2_tail {
  double value;
  double log;
};
struct chi2_tails {
  chi2_tail upper;  // Q = chi2_survival(chi2, v)
  chi2_tail lower;  // P = 1 - Q, the cdf
};
chi2_tails chi2_both_tails(double chi2, std::size_t degrees_of_freedom);

// Fisher's combination of token probabilities.
struct fisher_score {
  double probability;
  double log_complement;   // ln(1 - probability), precise when 1 - probability is tiny
  double log_probability;  // ln(probability), precise when probability is tiny
};
fisher_score fisher_combine_precise(std::span<const double> probabilities);
double fisher_combine(std::span<const double> probabilities);

// `scratch` holds the clues between calls (no allocation once warm).
spam_score classify(std::span<const std::uint64_t> unique_hashes, const token_store& global,
                    const token_store* account, const classifier_options& options, std::vector<double>& scratch);

}  // namespace filter
