#pragma once
// Counters and histograms kept per core and summed on read (for /metrics,
// `ringmail status`). The hot path is one relaxed load and one relaxed store
// on the calling core's own cache lines: no lock, no shared write, no RMW
// bus lock (only the owning core writes its slot; readers on other threads
// may see a value one increment old, which a metric tolerates).
//
// The sets are fixed enums so a slot is an array index; adding a metric is
// adding an enum value and its name.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace appliance {

enum class counter : unsigned {
  connections_accepted,
  connections_refused,      // over a connection limit
  logins_ok,
  logins_failed,
  logins_blocked,           // refused by the brute-force throttle
  logins_refused_policy,    // protocol not allowed, TLS required, disabled
  messages_accepted,
  message_bytes_accepted,
  deliveries,
  rejections,
  send_rate_limited,
  quota_warnings,
  admin_commands,
  config_reloads,
  config_reload_failures,
  count_
};
std::string_view to_string(counter c);

enum class histogram : unsigned {
  auth_duration_ms,
  message_size_bytes,
  admin_command_ms,
  count_
};
std::string_view to_string(histogram h);

// Log2 buckets: bucket i counts values in [2^(i-1), 2^i) (bucket 0: value 0).
inline constexpr size_t histogram_buckets = 48;

struct histogram_snapshot {
  std::array<uint64_t, histogram_buckets> buckets{};
  uint64_t count = 0;
  uint64_t sum = 0;
  // Upper bound of the bucket holding quantile q (0..1); 0 if empty.
  uint64_t quantile_upper_bound(double q) const;
};

class metrics {
 public:
  explicit metrics(unsigned cores);

  // Called on core `core` only (or, for core-less callers such as the admin
  // CLI path, on a slot reserved for them: `cores` itself).
  void add(unsigned core, counter c, uint64_t n = 1) {
    auto& slot = _cores[core]->counters[unsigned(c)];
    slot.store(slot.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void observe(unsigned core, histogram h, uint64_t value);

  uint64_t sum(counter c) const;
  histogram_snapshot sum(histogram h) const;
  unsigned slots() const { return unsigned(_cores.size()); }

  // Prometheus text exposition format (the HTTP /metrics body).
  std::string render_prometheus() const;

 private:
  struct alignas(64) per_core {
    std::array<std::atomic<uint64_t>, size_t(counter::count_)> counters{};
    struct hist {
      std::array<std::atomic<uint64_t>, histogram_buckets> buckets{};
      std::atomic<uint64_t> count{0}, sum{0};
    };
    std::array<hist, size_t(histogram::count_)> histograms{};
  };
  std::vector<std::unique_ptr<per_core>> _cores;
};

}  // namespace appliance
