#include "filter/classifier/classifier.h"

#include <algorithm>
#include <cmath>

namespace filter {

namespace {

// Robinson's f(w) with what is fixed for a whole classification worked out
// once: 1/S and 1/H, and the prior's weight, so a token costs one division
// instead of four. token_probability() is the same arithmetic, so a clue
// listed by it (spam explain) is a clue here.
struct robinson {
  double inverse_spam;  // 1/S, 0 with no spam trained
  double inverse_ham;   // 1/H
  double strength;
  double prior;  // strength * x
  double x;

  robinson(std::uint64_t spam_messages, std::uint64_t ham_messages, const classifier_options& o)
      : inverse_spam(spam_messages == 0 ? 0.0 : 1.0 / static_cast<double>(spam_messages)),
        inverse_ham(ham_messages == 0 ? 0.0 : 1.0 / static_cast<double>(ham_messages)),
        strength(o.robinson_strength),
        prior(o.robinson_strength * o.robinson_x),
        x(o.robinson_x) {}

  // f = num / den:  p = sr / (sr + hr),  f = (prior + n p) / (strength + n)
  //               = (prior (sr + hr) + n sr) / ((strength + n) (sr + hr)).
  // With sr + hr = 0 (a class that was never trained): p is the prior x.
  struct fraction {
    double num, den;
  };
  fraction of(token_counts c) const {
    double s = c.spam, h = c.ham;
    double n = s + h;
    double spam_ratio = s * inverse_spam;
    double sum = spam_ratio + h * inverse_ham;
    if (sum > 0) return {prior * sum + n * spam_ratio, (strength + n) * sum};
    return {prior + n * x, strength + n};
  }
};

}  // namespace

double token_probability(token_counts counts, std::uint64_t spam_messages, std::uint64_t ham_messages,
                         const classifier_options& options) {
  auto f = robinson(spam_messages, ham_messages, options).of(counts);
  return f.num / f.den;
}

double chi2_survival(double chi2, std::size_t degrees_of_freedom) {
  // For even v: Q = exp(-m) * sum_{i < v/2} m^i / i!, m = chi2 / 2.
  double m = chi2 / 2.0;
  double term = std::exp(-m);
  // exp(-m) underflowed (m > ~745): every term is 0, and so is Q.
  if (term == 0) return 0.0;
  double sum = term;
  for (std::size_t i = 1; i < degrees_of_freedom / 2; ++i) {
    term *= m / static_cast<double>(i);
    sum += term;
    // Past i = 2m each term is less than half the one before, so the rest
    // of the series is below 2 * term: once that cannot move the sum's
    // last bit, stop (hundreds of clues, a message of small m).
    if (static_cast<double>(i) > 2 * m && term < sum * 0x1p-54) break;
  }
  return std::min(sum, 1.0);
}

double fisher_combine(std::span<const double> probabilities) {
  if (probabilities.empty()) return 0.5;
  // The products of f and of 1 - f, with their binary exponents kept apart
  // (a product of hundreds of probabilities underflows): a multiply per
  // clue instead of a log, and one log per product at the end (SpamBayes'
  // way). Each factor is >= 1e-12, so a product renormalized below 1e-200
  // cannot underflow before the next check.
  double ham = 1.0, spam = 1.0;
  int ham_exponent = 0, spam_exponent = 0;
  for (double f : probabilities) {
    f = std::clamp(f, 1e-12, 1.0 - 1e-12);
    ham *= f;
    spam *= 1.0 - f;
    if (ham < 1e-200) {
      int e;
      ham = std::frexp(ham, &e);
      ham_exponent += e;
    }
    if (spam < 1e-200) {
      int e;
      spam = std::frexp(spam, &e);
      spam_exponent += e;
    }
  }
  constexpr double ln2 = 0.693147180559945309417;
  double ln_ham = std::log(ham) + ham_exponent * ln2;
  double ln_spam = std::log(spam) + spam_exponent * ln2;
  std::size_t v = 2 * probabilities.size();
  double spamminess = 1.0 - chi2_survival(-2.0 * ln_spam, v);
  double hamminess = 1.0 - chi2_survival(-2.0 * ln_ham, v);
  return (1.0 + spamminess - hamminess) / 2.0;
}

spam_score classify(std::span<const std::uint64_t> unique_hashes, const token_store& global,
                    const token_store* account, const classifier_options& options, std::vector<double>& scratch) {
  std::uint64_t spam_messages = combined_spam_messages(global, account);
  std::uint64_t ham_messages = combined_ham_messages(global, account);
  const robinson f_of(spam_messages, ham_messages, options);
  const double deviation = options.minimum_deviation;
  scratch.clear();
  constexpr std::size_t prefetch_distance = 8;
  for (std::size_t i = 0; i < unique_hashes.size(); ++i) {
    if (i + prefetch_distance < unique_hashes.size()) {
      global.prefetch(unique_hashes[i + prefetch_distance]);
      if (account != nullptr) account->prefetch(unique_hashes[i + prefetch_distance]);
    }
    std::uint64_t h = unique_hashes[i];
    token_counts c = combined_counts(global, account, h);
    if (c.spam == 0 && c.ham == 0) continue;
    auto fraction = f_of.of(c);
    double f = fraction.num / fraction.den;
    if (std::fabs(f - 0.5) >= deviation) scratch.push_back(f);
  }
  if (scratch.size() > options.clues_max) {
    auto strength = [](double f) { return std::fabs(f - 0.5); };
    std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(options.clues_max), scratch.end(),
                     [&](double a, double b) { return strength(a) > strength(b); });
    scratch.resize(options.clues_max);
  }
  spam_score score;
  score.clues = scratch.size();
  score.probability = fisher_combine(scratch);
  score.level = 10.0 * score.probability;
  return score;
}

}  // namespace filter
