#pragma once
// send_rate_limiter: how many messages and recipients an account may submit
// per hour, so a stolen password does not turn the server into a spam cannon.
//
// Two token buckets per account (messages, recipients), each holding up to
// one hour's allowance and refilled continuously, so a burst up to the hourly
// limit is allowed and then the account sends at the hourly rate. A message
// is admitted only if both buckets have room; nothing is taken otherwise.
// Exceeding the limit is a 4xx for the session (the client retries later)
// and a log line `event=rate_limited` an admin can alert on.
//
// Thread-safe (striped mutexes): an account may submit on any core. The
// table is bounded by tracked_accounts_max; a full stripe drops buckets that
// have refilled completely (they hold no information).

#include <array>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "appliance/accounts/directory.h"
#include "appliance/config/config.h"

namespace appliance {

class send_rate_limiter {
 public:
  static constexpr size_t tracked_accounts_max = 1 << 20;

  struct limits {
    uint32_t messages_per_hour = 0;
    uint32_t recipients_per_hour = 0;
  };
  struct verdict {
    bool allowed = true;
    uint64_t retry_after_ms = 0;   // when refused: until the bucket has room
    std::string_view exceeded;     // "messages" or "recipients"
  };

  // Admits one message to `recipients` recipients, or refuses and takes
  // nothing. A message with more recipients than the hourly limit can never
  // pass; it is refused with retry_after_ms = 0.
  verdict try_acquire(account_id account, const limits& l, uint32_t recipients, uint64_t now_ms) {
    return acquire(account, l, 1, recipients, now_ms);
  }
  // Recipients only, for a protocol that learns them one at a time (SMTP
  // charges the message at MAIL and each recipient at RCPT).
  verdict try_acquire_recipients(account_id account, const limits& l, uint32_t recipients, uint64_t now_ms) {
    return acquire(account, l, 0, recipients, now_ms);
  }

  size_t tracked() const;

  // Compromised accounts: every refusal is a strike; `strikes_max` strikes
  // within an hour suspend the account's sending (until lift() or a
  // restart: the suspension is a brake for the admin to look, not a ban).
  // Returns true when this strike suspended the account.
  bool strike(account_id account, uint32_t strikes_max, uint64_t now_ms);
  bool suspended(account_id account) const;
  bool lift(account_id account);

 private:
  verdict acquire(account_id account, const limits& l, uint32_t messages, uint32_t recipients, uint64_t now_ms);
  struct bucket_pair {
    double messages = 0, recipients = 0;  // tokens used, drained continuously
    uint64_t updated_ms = 0;
  };
  struct strikes {
    uint32_t count = 0;
    uint64_t window_start_ms = 0;
    bool suspended = false;
  };
  static constexpr size_t stripe_count = 16;
  struct stripe {
    mutable std::mutex mutex;
    std::unordered_map<uint64_t, bucket_pair> buckets;
    std::unordered_map<uint64_t, strikes> strikes_by_account;  // accounts that hit a limit
  };
  std::array<stripe, stripe_count> _stripes;
};

// An account's effective limits: its own, else the config's default.
send_rate_limiter::limits send_limits_for(const account& a, const limits_section& defaults);

}  // namespace appliance
