#include "filter/classifier/classifier.h"

#include <algorithm>
#include <cmath>

namespace filter {

double token_probability(token_counts counts, std::uint64_t spam_messages, std::uint64_t ham_messages,
                         const classifier_options& options) {
  double s = counts.spam, h = counts.ham;
  double n = s + h;
  double spam_ratio = spam_messages == 0 ? 0.0 : s / static_cast<double>(spam_messages);
  double ham_ratio = ham_messages == 0 ? 0.0 : h / static_cast<double>(ham_messages);
  double p = spam_ratio + ham_ratio > 0 ? spam_ratio / (spam_ratio + ham_ratio) : options.robinson_x;
  return (options.robinson_strength * options.robinson_x + n * p) / (options.robinson_strength + n);
}

double chi2_survival(double chi2, std::size_t degrees_of_freedom) {
  // For even v: Q = exp(-m) * sum_{i < v/2} m^i / i!, m = chi2 / 2.
  double m = chi2 / 2.0;
  double term = std::exp(-m);
  double sum = term;
  for (std::size_t i = 1; i < degrees_of_freedom / 2; ++i) {
    term *= m / static_cast<double>(i);
    sum += term;
  }
  return std::min(sum, 1.0);
}

double fisher_combine(std::span<const double> probabilities) {
  if (probabilities.empty()) return 0.5;
  // Sums of logs (products of hundreds of probabilities underflow).
  double ln_ham = 0, ln_spam = 0;
  for (double f : probabilities) {
    f = std::clamp(f, 1e-12, 1.0 - 1e-12);
    ln_ham += std::log(f);
    ln_spam += std::log(1.0 - f);
  }
  std::size_t v = 2 * probabilities.size();
  double spamminess = 1.0 - chi2_survival(-2.0 * ln_spam, v);
  double hamminess = 1.0 - chi2_survival(-2.0 * ln_ham, v);
  return (1.0 + spamminess - hamminess) / 2.0;
}

spam_score classify(std::span<const std::uint64_t> unique_hashes, const token_store& global,
                    const token_store* account, const classifier_options& options, std::vector<double>& scratch) {
  std::uint64_t spam_messages = global.spam_messages() + (account ? account->spam_messages() : 0);
  std::uint64_t ham_messages = global.ham_messages() + (account ? account->ham_messages() : 0);
  scratch.clear();
  constexpr std::size_t prefetch_distance = 8;
  for (std::size_t i = 0; i < unique_hashes.size(); ++i) {
    if (i + prefetch_distance < unique_hashes.size()) {
      global.prefetch(unique_hashes[i + prefetch_distance]);
      if (account != nullptr) account->prefetch(unique_hashes[i + prefetch_distance]);
    }
    std::uint64_t h = unique_hashes[i];
    token_counts c = global.get(h);
    if (account != nullptr) {
      token_counts a = account->get(h);
      c.spam += a.spam;
      c.ham += a.ham;
    }
    if (c.spam == 0 && c.ham == 0) continue;
    double f = token_probability(c, spam_messages, ham_messages, options);
    if (std::fabs(f - 0.5) >= options.minimum_deviation) scratch.push_back(f);
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
