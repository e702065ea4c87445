#include "appliance/accounts/login_throttle.h"

#include <time.h>

#include <algorithm>
#include <functional>

namespace appliance {

uint64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
}

login_throttle::login_throttle(const login_throttle_config& config) : _config(config) {}

void login_throttle::reconfigure(const login_throttle_config& config) {
  std::lock_guard lock(_config_mutex);
  _config = config;
}

login_throttle::stripe& login_throttle::stripe_for(const std::string& key) {
  return _stripes[std::hash<std::string>{}(key) % stripe_count];
}

login_throttle::entry* login_throttle::lookup(stripe& s, const std::string& key, uint64_t now_ms, bool create) {
  login_throttle_config c;
  {
    std::lock_guard lock(_config_mutex);
    c = _config;
  }
  auto it = s.entries.find(key);
  if (it == s.entries.end()) {
    if (!create) return nullptr;
    size_t stripe_max = std::max<size_t>(1, c.tracked_keys_max / stripe_count);
    if (s.entries.size() >= stripe_max) {
      // Full: drop what has expired; if nothing has, the oldest failure.
      std::erase_if(s.entries, [&](const auto& kv) {
        return kv.second.blocked_until_ms <= now_ms && now_ms - kv.second.last_failure_ms > c.failure_window_ms;
      });
      if (s.entries.size() >= stripe_max) {
        auto oldest = std::min_element(s.entries.begin(), s.entries.end(), [](const auto& a, const auto& b) {
          return a.second.last_failure_ms < b.second.last_failure_ms;
        });
        s.entries.erase(oldest);
      }
    }
    it = s.entries.emplace(key, entry{}).first;
  }
  entry& e = it->second;
  if (e.blocked_until_ms <= now_ms && e.failures && now_ms - e.last_failure_ms > c.failure_window_ms) {
    e.failures = 0;
  }
  // A block that has run out starts the count afresh: the next wrong
  // password gets the short delay again, and N more block again.
  if (e.blocked_until_ms && e.blocked_until_ms <= now_ms) {
    e.blocked_until_ms = 0;
    e.failures = 0;
  }
  return &e;
}

login_throttle::verdict login_throttle::check(std::string_view account, std::string_view ip, uint64_t now_ms) {
  verdict v;
  auto probe = [&](const std::string& key, std::string_view which) {
    stripe& s = stripe_for(key);
    std::lock_guard lock(s.mutex);
    if (entry* e = lookup(s, key, now_ms, false); e && e->blocked_until_ms > now_ms) {
      uint64_t left = e->blocked_until_ms - now_ms;
      if (!v.allowed && left <= v.retry_after_ms) return;
      v.allowed = false;
      v.retry_after_ms = left;
      v.blocked_by = which;
    }
  };
  probe("a:" + std::string(account), "account");
  probe("i:" + std::string(ip), "ip");
  return v;
}

uint32_t login_throttle::fail(const std::string& key, uint32_t block_after, uint64_t now_ms, bool& blocked_now) {
  uint64_t block_ms;
  {
    std::lock_guard lock(_config_mutex);
    block_ms = _config.block_ms;
  }
  stripe& s = stripe_for(key);
  std::lock_guard lock(s.mutex);
  entry* e = lookup(s, key, now_ms, true);
  ++e->failures;
  e->last_failure_ms = now_ms;
  if (e->failures >= block_after && e->blocked_until_ms <= now_ms) {
    e->blocked_until_ms = now_ms + block_ms;
    blocked_now = true;
  }
  return e->failures;
}

login_throttle::failure_outcome login_throttle::record_failure(std::string_view account, std::string_view ip,
                                                               uint64_t now_ms) {
  login_throttle_config c;
  {
    std::lock_guard lock(_config_mutex);
    c = _config;
  }
  failure_outcome out;
  out.account_failures = fail("a:" + std::string(account), c.account_failures_before_block, now_ms,
                              out.account_blocked_now);
  out.ip_failures = fail("i:" + std::string(ip), c.ip_failures_before_block, now_ms, out.ip_blocked_now);
  uint32_t n = std::max(out.account_failures, out.ip_failures);
  uint64_t delay = c.delay_base_ms;
  for (uint32_t i = 1; i < n && delay < c.delay_max_ms; ++i) delay *= 2;
  out.delay_ms = std::min(delay, c.delay_max_ms);
  return out;
}

void login_throttle::record_success(std::string_view account, uint64_t now_ms) {
  (void)now_ms;
  std::string key = "a:" + std::string(account);
  stripe& s = stripe_for(key);
  std::lock_guard lock(s.mutex);
  s.entries.erase(key);
}

size_t login_throttle::tracked() const {
  size_t n = 0;
  for (const auto& s : _stripes) {
    std::lock_guard lock(s.mutex);
    n += s.entries.size();
  }
  return n;
}

}  // namespace appliance
