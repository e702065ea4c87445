#include "bench/load/latency.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bench_load {

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

double latency_samples::percentile_us(double q) {
  if (_us.empty()) return 0;
  if (!_sorted) {
    std::sort(_us.begin(), _us.end());
    _sorted = true;
  }
  // Nearest rank: the smallest sample with at least q of all samples at or below it.
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(_us.size())));
  rank = std::clamp<size_t>(rank, 1, _us.size());
  return _us[rank - 1];
}

double latency_samples::mean_us() const {
  if (_us.empty()) return 0;
  double sum = 0;
  for (auto v : _us) sum += v;
  return sum / static_cast<double>(_us.size());
}

std::string latency_samples::json() {
  char text[256];
  std::snprintf(text, sizeof text,
                R"({"count":%zu,"p50_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,"mean_ms":%.3f,"max_ms":%.3f})", count(),
                percentile_us(0.5) / 1000, percentile_us(0.99) / 1000, percentile_us(0.999) / 1000,
                mean_us() / 1000, percentile_us(1.0) / 1000);
  return text;
}

}  // namespace bench_load
