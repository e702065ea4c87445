#pragma once
// latency_samples: every sample of one kind of operation, in microseconds.
// A run is bounded in operations, so keeping every sample is bounded too, and
// exact percentiles beat a histogram's buckets when p999 is the question.
// One recorder per client thread (no sharing); merged after the run.

#include <cstdint>
#include <string>
#include <vector>

namespace bench_load {

class latency_samples {
 public:
  void add_ns(uint64_t ns) { _us.push_back(static_cast<uint32_t>(std::min<uint64_t>(ns / 1000, UINT32_MAX))); }
  void merge(const latency_samples& other) { _us.insert(_us.end(), other._us.begin(), other._us.end()); }
  size_t count() const { return _us.size(); }
  // Sorts in place; q in [0, 1]. Returns microseconds (0 when empty).
  double percentile_us(double q);
  double mean_us() const;
  // {"count":..,"p50_ms":..,"p99_ms":..,"p999_ms":..,"mean_ms":..,"max_ms":..}
  std::string json();

 private:
  std::vector<uint32_t> _us;
  bool _sorted = false;
};

uint64_t now_ns();

}  // namespace bench_load
