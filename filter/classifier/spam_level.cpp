#include "filter/classifier/spam_level.h"

#include <algorithm>

namespace filter {

namespace {
constexpr double ln10 = 2.30258509299404568402;
constexpr double saturation = 0.9;  // above it the level is logarithmic in 1 - p
}  // namespace

double spam_level(double probability, double log_complement) {
  if (std::isnan(probability)) return 5.0;
  if (probability <= saturation) return 10.0 * std::max(probability, 0.0);
  if (std::isnan(log_complement)) log_complement = std::log1p(-std::min(probability, 1.0));
  // 9 + log10(0.1 / (1 - p)); at least 9, should 1 - p and the rounded p
  // disagree in the last bits just above 0.9.
  double level = 8.0 - log_complement / ln10;
  return std::clamp(level, 9.0, spam_level_max);
}

double spam_level_of_logit(double logit) {
  if (std::isnan(logit)) return 5.0;
  if (logit <= 0) return 10.0 / (1.0 + std::exp(-logit));
  // p = 1 / (1 + e^-z), 1 - p = e^-z / (1 + e^-z): ln(1 - p) = -z - log1p(e^-z).
  double e = std::exp(-logit);
  return spam_level(1.0 / (1.0 + e), -logit - std::log1p(e));
}

}  // namespace filter
