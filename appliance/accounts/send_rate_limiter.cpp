#include "appliance/accounts/send_rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace appliance {

namespace {
constexpr double hour_ms = 3'600'000.0;

// Tokens used drain at limit per hour.
void drain(double& used, uint32_t per_hour, uint64_t elapsed_ms) {
  used = std::max(0.0, used - double(per_hour) * double(elapsed_ms) / hour_ms);
}

uint64_t wait_ms(double used, double want, uint32_t per_hour) {
  double over = used + want - double(per_hour);
  if (over <= 0) return 0;
  return uint64_t(std::ceil(over * hour_ms / double(per_hour)));
}
}  // namespace

send_rate_limiter::limits send_limits_for(const account& a, const limits_section& defaults) {
  return {a.send_messages_per_hour ? a.send_messages_per_hour : defaults.send_messages_per_hour,
          a.send_recipients_per_hour ? a.send_recipients_per_hour : defaults.send_recipients_per_hour};
}

send_rate_limiter::verdict send_rate_limiter::acquire(account_id account, const limits& l, uint32_t messages,
                                                      uint32_t recipients, uint64_t now_ms) {
  verdict v;
  if (recipients > l.recipients_per_hour) {
    v.allowed = false;
    v.exceeded = "recipients";
    return v;
  }
  stripe& s = _stripes[account.get() % stripe_count];
  std::lock_guard lock(s.mutex);
  auto it = s.buckets.find(account.get());
  if (it == s.buckets.end()) {
    if (s.buckets.size() >= tracked_accounts_max / stripe_count) {
      std::erase_if(s.buckets, [&](const auto& kv) {
        bucket_pair b = kv.second;
        drain(b.messages, l.messages_per_hour, now_ms - b.updated_ms);
        drain(b.recipients, l.recipients_per_hour, now_ms - b.updated_ms);
        return b.messages == 0 && b.recipients == 0;
      });
      if (s.buckets.size() >= tracked_accounts_max / stripe_count) {
        // Every tracked account is mid-burst: refuse rather than forget one.
        v.allowed = false;
        v.retry_after_ms = 1000;
        v.exceeded = "messages";
        return v;
      }
    }
    it = s.buckets.emplace(account.get(), bucket_pair{0, 0, now_ms}).first;
  }
  bucket_pair& b = it->second;
  uint64_t elapsed = now_ms > b.updated_ms ? now_ms - b.updated_ms : 0;
  drain(b.messages, l.messages_per_hour, elapsed);
  drain(b.recipients, l.recipients_per_hour, elapsed);
  b.updated_ms = now_ms;
  uint64_t m = wait_ms(b.messages, double(messages), l.messages_per_hour);
  uint64_t r = wait_ms(b.recipients, double(recipients), l.recipients_per_hour);
  if (m || r) {
    v.allowed = false;
    v.retry_after_ms = std::max(m, r);
    v.exceeded = m >= r ? "messages" : "recipients";
    return v;
  }
  b.messages += double(messages);
  b.recipients += double(recipients);
  return v;
}

bool send_rate_limiter::strike(account_id account, uint32_t strikes_max, uint64_t now_ms) {
  stripe& s = _stripes[account.get() % stripe_count];
  std::lock_guard lock(s.mutex);
  if (s.strikes_by_account.size() >= tracked_accounts_max / stripe_count)
    std::erase_if(s.strikes_by_account, [](const auto& kv) { return !kv.second.suspended; });
  strikes& st = s.strikes_by_account[account.get()];
  if (st.suspended) return false;
  if (now_ms - st.window_start_ms > uint64_t(hour_ms)) {
    st.count = 0;
    st.window_start_ms = now_ms;
  }
  if (++st.count < strikes_max) return false;
  st.suspended = true;
  return true;
}

bool send_rate_limiter::suspended(account_id account) const {
  const stripe& s = _stripes[account.get() % stripe_count];
  std::lock_guard lock(s.mutex);
  auto it = s.strikes_by_account.find(account.get());
  return it != s.strikes_by_account.end() && it->second.suspended;
}

bool send_rate_limiter::lift(account_id account) {
  stripe& s = _stripes[account.get() % stripe_count];
  std::lock_guard lock(s.mutex);
  return s.strikes_by_account.erase(account.get()) > 0;
}

size_t send_rate_limiter::tracked() const {
  size_t n = 0;
  for (const auto& s : _stripes) {
    std::lock_guard lock(s.mutex);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace appliance
