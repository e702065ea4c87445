#pragma once
// login_throttle: brute-force protection shared by every protocol and core.
//
// Failed logins are counted per account (the login as typed, lower-cased,
// whether or not it exists, so the answer says nothing about existence) and
// per remote IP. Each failure earns an exponential delay (delay_base_ms,
// doubled per recent failure, capped at delay_max_ms) that the authenticator
// waits before answering; after N recent failures the account (or the IP)
// is blocked for block_ms, during which even the right password is refused
// without being checked. A success clears the account's count (not the IP's:
// one valid login must not launder a password-spraying IP). Failures older
// than failure_window_ms are forgotten.
//
// Thread-safe: logins arrive on every core (SO_REUSEPORT spreads one IP over
// all of them), so the table is shared, split into stripes each with its own
// mutex. A login costs an Argon2id hash (tens of ms), so two short critical
// sections per login are noise; nothing on a per-command path takes them.
// Memory is bounded by tracked_keys_max: when a stripe is full, expired
// entries go first, then the least recently failed one.
//
// Time is passed in (monotonic milliseconds) so tests control the clock.

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "appliance/config/config.h"

namespace appliance {

class login_throttle {
 public:
  explicit login_throttle(const login_throttle_config& config);

  // SIGHUP: new limits apply to the next event; counts are kept.
  void reconfigure(const login_throttle_config& config);

  struct verdict {
    bool allowed = true;
    uint64_t retry_after_ms = 0;   // when blocked: how long the block still lasts
    std::string_view blocked_by;   // "account" or "ip" when blocked
  };
  verdict check(std::string_view account, std::string_view ip, uint64_t now_ms);

  struct failure_outcome {
    uint64_t delay_ms = 0;           // wait this long before answering
    bool account_blocked_now = false;  // this failure started a block (log it)
    bool ip_blocked_now = false;
    uint32_t account_failures = 0;
    uint32_t ip_failures = 0;
  };
  failure_outcome record_failure(std::string_view account, std::string_view ip, uint64_t now_ms);
  void record_success(std::string_view account, uint64_t now_ms);

  size_t tracked() const;

 private:
  struct entry {
    uint32_t failures = 0;
    uint64_t last_failure_ms = 0;
    uint64_t blocked_until_ms = 0;
  };
  static constexpr size_t stripe_count = 16;
  struct stripe {
    mutable std::mutex mutex;
    std::unordered_map<std::string, entry> entries;
  };
  stripe& stripe_for(const std::string& key);
  // Returns the entry after forgetting stale failures; creates it if asked.
  entry* lookup(stripe& s, const std::string& key, uint64_t now_ms, bool create);
  uint32_t fail(const std::string& key, uint32_t block_after, uint64_t now_ms, bool& blocked_now);

  mutable std::mutex _config_mutex;
  login_throttle_config _config;
  std::array<stripe, stripe_count> _stripes;
};

// Monotonic milliseconds, the clock the daemon passes in.
uint64_t monotonic_ms();

}  // namespace appliance
