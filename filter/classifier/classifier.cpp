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
  // Both cases computed and one picked (no branch): whether a token's
  // class ratios sum to zero follows no pattern a predictor could learn.
  fraction of(token_counts c) const {
    double s = c.spam, h = c.ham;
    double n = s + h;
    double spam_ratio = s * inverse_spam;
    double sum = spam_ratio + h * inverse_ham;
    // Both, then one chosen (no branch: classify() runs this for every
    // token, known or not).
    fraction trained{prior * sum + n * spam_ratio, (strength + n) * sum};
    fraction untrained{prior + n * x, strength + n};
    return sum > 0 ? trained : untrained;
  }
};

}  // namespace

double token_probability(token_counts counts, std::uint64_t spam_messages, std::uint64_t ham_messages,
                         const classifier_options& options) {
  auto f = robinson(spam_messages, ham_messages, options).of(counts);
  return f.num / f.den;
}

namespace {

constexpr double ln2 = 0.693147180559945309417;

// ln(e^a + e^b) without overflow or underflow (either may be -inf).
double log_add(double a, double b) {
  double hi = std::max(a, b), lo = std::min(a, b);
  if (hi == -HUGE_VAL) return hi;
  return hi + std::log1p(std::exp(lo - hi));
}

// The Poisson term e^-m m^j / j! as mantissa * 2^exponent: no underflow
// (e^-745 is the last double) and no overflow on the way. One multiply per
// factor, each rounding once: relative error within a few j ulps, as the
// textbook's forward series.
struct scaled {
  double mantissa;
  long exponent;
};
scaled poisson_term(double m, std::size_t j) {
  // e^-m = e^-r 2^-n, n = floor(m / ln 2), r = m - n ln 2 in [0, ln 2), with
  // ln 2 split so that n * ln2_hi is exact (Cody and Waite; fdlibm's values).
  constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  double n = std::floor(m / ln2);
  double r = (m - n * ln2_hi) - n * ln2_lo;
  scaled t{std::exp(-r), -static_cast<long>(n)};
  for (std::size_t i = 1; i <= j; ++i) {
    t.mantissa *= m / static_cast<double>(i);
    if (t.mantissa > 0x1p500 || t.mantissa < 0x1p-500) {
      int e;
      t.mantissa = std::frexp(t.mantissa, &e);
      t.exponent += e;
    }
  }
  return t;
}

// ln(j!) = lgamma(j + 1), which the term nearest the mode needs for j =
// the number of clues (or one less), twice a message. glibc's lgamma is
// ~130 instructions and its own code and coefficient tables, cold at every
// message in the daemon (the core's other work evicts them): each thread
// keeps the values it has used for j < 1024 (clues_max is 1000), computed
// by std::lgamma itself, so each is the same double.
double log_factorial(std::size_t j) {
  constexpr std::size_t table_size = 1024;
  if (j >= table_size) return std::lgamma(static_cast<double>(j) + 1);
  // Zero-initialized: no constructor, so no guard on each use.
  thread_local double values[table_size];
  thread_local bool known[table_size];
  if (!known[j]) {
    values[j] = std::lgamma(static_cast<double>(j) + 1);
    known[j] = true;
  }
  return values[j];
}

}  // namespace

chi2_tails chi2_both_tails(double chi2, std::size_t degrees_of_freedom) {
  // With v = 2k and m = chi2 / 2 the chi-square tails are Poisson(m) sums:
  //   upper Q = e^-m sum_{i < k} m^i / i!,   lower P = e^-m sum_{i >= k} m^i / i!.
  // The smaller one is summed from its term nearest the Poisson mode (~m)
  // outward, where each term is a fraction of the one before; the other is
  // 1 minus it. So a tail of 1e-30000 keeps its digits (as a log), where
  // 1 - Q would round to 0.
  const std::size_t k = std::max<std::size_t>(degrees_of_freedom / 2, 1);
  const double m = chi2 / 2.0;
  if (!(m > 0)) return {{1.0, 0.0}, {0.0, -HUGE_VAL}};
  if (std::isinf(m)) return {{0.0, -HUGE_VAL}, {1.0, 0.0}};
  const bool upper_is_small = m >= static_cast<double>(k);  // the mode is in the lower tail
  // The first term: j = k - 1 (summing down) or k (summing up).
  const std::size_t j = upper_is_small ? k - 1 : k;
  double sum = 1.0, r = 1.0;  // sum of t_i / t_j
  if (upper_is_small) {
    const double inverse_m = 1.0 / m;
    for (std::size_t i = j; i > 0; --i) {
      r *= static_cast<double>(i) * inverse_m;  // t_{i-1} / t_j
      sum += r;
      // The terms still to come shrink by at least q = (i - 1) / m each:
      // together below r q / (1 - q); stop once that cannot move the sum.
      double q = static_cast<double>(i - 1) * inverse_m;
      if (r * q < sum * 0x1p-54 * (1 - q)) break;
    }
  } else {
    for (std::size_t i = j + 1;; ++i) {
      r *= m / static_cast<double>(i);  // t_i / t_j
      sum += r;
      double q = m / static_cast<double>(i + 1);
      if (r * q < sum * 0x1p-54 * (1 - q)) break;
    }
  }
  // ln t_j by lgamma (log_factorial): relative error ~1e-12 (a few ulps of
  // j ln m), harmless for a tail this small; a tail that can move a
  // probability's last digits is recomputed from the product, as precise as
  // the textbook's.
  double jd = static_cast<double>(j);
  double log_small = -m + jd * std::log(m) - log_factorial(j) + std::log(sum);
  chi2_tail small{std::exp(log_small), log_small};
  if (log_small > -7) {  // above ~1e-3
    scaled t = poisson_term(m, j);
    double mantissa = t.mantissa * sum;
    small = {std::min(std::ldexp(mantissa, static_cast<int>(t.exponent)), 1.0),
             std::log(mantissa) + static_cast<double>(t.exponent) * ln2};
    small.log = std::min(small.log, 0.0);
  }
  chi2_tail large{1.0 - small.value, std::log1p(-small.value)};
  if (upper_is_small) return {small, large};
  return {large, small};
}

fisher_score fisher_combine_precise(std::span<const double> probabilities) {
  if (probabilities.empty()) return {0.5, -ln2, -ln2};
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
  double ln_ham = std::log(ham) + ham_exponent * ln2;
  double ln_spam = std::log(spam) + spam_exponent * ln2;
  std::size_t v = 2 * probabilities.size();
  // S' = 1 - Q_s (spam statistic), H' = 1 - Q_h (ham statistic), and
  //   I = (1 + S' - H') / 2 = (P_s + Q_h) / 2,   1 - I = (Q_s + P_h) / 2,
  // P the lower tails: both sides are sums of two small numbers where they
  // are small, so neither saturates.
  chi2_tails s = chi2_both_tails(-2.0 * ln_spam, v);
  chi2_tails h = chi2_both_tails(-2.0 * ln_ham, v);
  double spam_side = s.upper.value + h.lower.value;  // 2 (1 - I)
  double ham_side = s.lower.value + h.upper.value;   // 2 I
  fisher_score out;
  if (spam_side <= ham_side) {
    out.probability = 1.0 - spam_side / 2.0;
    out.log_complement = log_add(s.upper.log, h.lower.log) - ln2;
    out.log_probability = std::log1p(-spam_side / 2.0);
  } else {
    out.probability = ham_side / 2.0;
    out.log_complement = std::log1p(-out.probability);
    out.log_probability = log_add(s.lower.log, h.upper.log) - ln2;
  }
  return out;
}

double chi2_survival(double chi2, std::size_t degrees_of_freedom) {
  return chi2_both_tails(chi2, degrees_of_freedom).upper.value;
}

double fisher_combine(std::span<const double> probabilities) {
  return fisher_combine_precise(probabilities).probability;
}

spam_score classify(std::span<const std::uint64_t> unique_hashes, const token_store& global,
                    const token_store* account, const classifier_options& options, std::vector<double>& scratch) {
  std::uint64_t spam_messages = combined_spam_messages(global, account);
  std::uint64_t ham_messages = combined_ham_messages(global, account);
  const robinson f_of(spam_messages, ham_messages, options);
  const double deviation = options.minimum_deviation;
  // Every token's f(w) is written at the end of the clues and kept (the
  // end moved on) when the token is known and far enough from 0.5: no
  // branch on either test. Which tokens are clues is data, so the branches
  // were mispredicted often, each time after the division they waited
  // for. The same values, in the same order, as testing and pushing each.
  const std::size_t n = unique_hashes.size();
  if (scratch.size() < n) scratch.resize(n);
  double* clues = scratch.data();
  std::size_t kept = 0;
  constexpr std::size_t prefetch_distance = 8;
  for (std::size_t i = 0; i < n; ++i) {
    if (i + prefetch_distance < n) {
      global.prefetch(unique_hashes[i + prefetch_distance]);
      if (account != nullptr) account->prefetch(unique_hashes[i + prefetch_distance]);
    }
    std::uint64_t h = unique_hashes[i];
    token_counts c = combined_counts(global, account, h);
    auto fraction = f_of.of(c);
    double f = fraction.num / fraction.den;
    clues[kept] = f;
    bool known = (c.spam | c.ham) != 0;
    kept += static_cast<std::size_t>(known & (std::fabs(f - 0.5) >= deviation));
  }
  scratch.resize(kept);
  if (scratch.size() > options.clues_max) {
    auto strength = [](double f) { return std::fabs(f - 0.5); };
    std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(options.clues_max), scratch.end(),
                     [&](double a, double b) { return strength(a) > strength(b); });
    scratch.resize(options.clues_max);
  }
  spam_score score;
  score.clues = scratch.size();
  fisher_score combined = fisher_combine_precise(scratch);
  score.probability = combined.probability;
  score.level = spam_level(combined.probability, combined.log_complement);
  score.log_odds = combined.log_probability - combined.log_complement;
  return score;
}

}  // namespace filter
