#pragma once
// The spam level: the classifier's confidence on a 0-10+ scale that keeps
// ordering messages where the probability has saturated (a double holds
// 1 - 1e-17 as 1.0; the CLI prints six decimals).
//
//   level = 10 p                      for p <= 0.9
//         = 8 - log10(1 - p)          for p > 0.9
//
// Continuous at p = 0.9 (both 9) and strictly increasing: 0.99 -> 10,
// 0.999 -> 11, each further "nine" one level more. 1 - p must be known
// precisely, not as 1 - p of the rounded probability, so it is passed as
// its natural log (the classifier and FTRL compute it from their tails or
// logit). Capped at level_max (only degenerate inputs get there: the
// defaults' 1000 clues of f = 1 - 1e-12 give ~12,000).
// Thresholds stay probabilities (config: tag, junk, reject); the level is
// for people (X-Spam-Level, X-Spam-Status, the CLI) and for ranking.

#include <cmath>

namespace filter {

inline constexpr double spam_level_max = 100000.0;
// Decimals of the level wherever it is printed (CLI, headers, log): two
// keep 100 steps per "nine" above p = 0.9.
inline constexpr int spam_level_decimals = 2;

// `log_complement` = ln(1 - probability), computed without the rounding of
// probability (-inf: 1 - p is 0; NaN: unknown, then taken from p).
double spam_level(double probability, double log_complement);
// From a log-odds (FTRL's logit): p = sigmoid(logit), ln(1 - p) =
// -softplus(logit), exact for any finite logit.
double spam_level_of_logit(double logit);

}  // namespace filter
