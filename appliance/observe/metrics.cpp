#include "appliance/observe/metrics.h"

#include <bit>

namespace appliance {

std::string_view to_string(counter c) {
  static constexpr std::string_view names[] = {
      "connections_accepted", "connections_refused", "logins_ok",        "logins_failed",
      "logins_blocked",       "logins_refused_policy", "messages_accepted", "message_bytes_accepted",
      "deliveries",           "rejections",          "send_rate_limited", "quota_warnings",
      "admin_commands",       "config_reloads",      "config_reload_failures"};
  static_assert(std::size(names) == size_t(counter::count_));
  return names[unsigned(c)];
}

std::string_view to_string(histogram h) {
  static constexpr std::string_view names[] = {"auth_duration_ms", "message_size_bytes", "admin_command_ms"};
  static_assert(std::size(names) == size_t(histogram::count_));
  return names[unsigned(h)];
}

uint64_t histogram_snapshot::quantile_upper_bound(double q) const {
  if (count == 0) return 0;
  uint64_t rank = uint64_t(q * double(count));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen > rank || (seen == count && seen > 0)) return i == 0 ? 0 : (uint64_t(1) << i) - 1;
  }
  return UINT64_MAX;
}

// One slot per core plus one for work that runs on no reactor.
metrics::metrics(unsigned cores) {
  for (unsigned i = 0; i <= cores; ++i) _cores.push_back(std::make_unique<per_core>());
}

void metrics::observe(unsigned core, histogram h, uint64_t value) {
  auto& hist = _cores[core]->histograms[unsigned(h)];
  size_t bucket = std::min<size_t>(size_t(std::bit_width(value)), histogram_buckets - 1);
  auto bump = [](std::atomic<uint64_t>& a, uint64_t n) {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  };
  bump(hist.buckets[bucket], 1);
  bump(hist.count, 1);
  bump(hist.sum, value);
}

uint64_t metrics::sum(counter c) const {
  uint64_t total = 0;
  for (const auto& core : _cores) total += core->counters[unsigned(c)].load(std::memory_order_relaxed);
  return total;
}

histogram_snapshot metrics::sum(histogram h) const {
  histogram_snapshot s;
  for (const auto& core : _cores) {
    const auto& hist = core->histograms[unsigned(h)];
    for (size_t i = 0; i < histogram_buckets; ++i) s.buckets[i] += hist.buckets[i].load(std::memory_order_relaxed);
    s.count += hist.count.load(std::memory_order_relaxed);
    s.sum += hist.sum.load(std::memory_order_relaxed);
  }
  return s;
}

std::string metrics::render_prometheus() const {
  std::string out;
  for (unsigned i = 0; i < unsigned(counter::count_); ++i) {
    std::string name = "ringmail_" + std::string(to_string(counter(i))) + "_total";
    out += "# TYPE " + name + " counter\n" + name + " " + std::to_string(sum(counter(i))) + "\n";
  }
  for (unsigned i = 0; i < unsigned(histogram::count_); ++i) {
    std::string name = "ringmail_" + std::string(to_string(histogram(i)));
    histogram_snapshot s = sum(histogram(i));
    out += "# TYPE " + name + " histogram\n";
    uint64_t cumulative = 0;
    for (size_t b = 0; b + 1 < histogram_buckets; ++b) {
      cumulative += s.buckets[b];
      uint64_t le = b == 0 ? 0 : (uint64_t(1) << b) - 1;
      out += name + "_bucket{le=\"" + std::to_string(le) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += name + "_bucket{le=\"+Inf\"} " + std::to_string(s.count) + "\n";
    out += name + "_sum " + std::to_string(s.sum) + "\n" + name + "_count " + std::to_string(s.count) + "\n";
  }
  return out;
}

}  // namespace appliance
