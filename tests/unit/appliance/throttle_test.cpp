// Brute-force throttle and send rate limiter, on an injected clock.
#include <gtest/gtest.h>

#include "appliance/accounts/login_throttle.h"
#include "appliance/accounts/send_rate_limiter.h"

namespace appliance {
namespace {

login_throttle_config throttle_config() {
  login_throttle_config c;
  c.account_failures_before_block = 3;
  c.ip_failures_before_block = 5;
  c.delay_base_ms = 100;
  c.delay_max_ms = 1000;
  c.block_ms = 60'000;
  c.failure_window_ms = 600'000;
  c.tracked_keys_max = 64;
  return c;
}

TEST(login_throttle, delays_double_then_the_account_is_blocked) {
  login_throttle t(throttle_config());
  uint64_t now = 1'000'000;
  EXPECT_TRUE(t.check("a@x.com", "192.0.2.1", now).allowed);
  EXPECT_EQ(t.record_failure("a@x.com", "192.0.2.1", now).delay_ms, 100u);
  EXPECT_EQ(t.record_failure("a@x.com", "192.0.2.1", now).delay_ms, 200u);
  auto third = t.record_failure("a@x.com", "192.0.2.1", now);
  EXPECT_EQ(third.delay_ms, 400u);
  EXPECT_TRUE(third.account_blocked_now);
  auto v = t.check("a@x.com", "198.51.100.9", now + 1000);  // any IP: the account is blocked
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.blocked_by, "account");
  EXPECT_EQ(v.retry_after_ms, 59'000u);
  EXPECT_TRUE(t.check("b@x.com", "198.51.100.9", now).allowed);
  // The block runs out; the count starts afresh.
  EXPECT_TRUE(t.check("a@x.com", "192.0.2.1", now + 60'000).allowed);
  EXPECT_EQ(t.record_failure("a@x.com", "192.0.2.2", now + 60'001).delay_ms, 100u);
}

TEST(login_throttle, an_ip_spraying_many_accounts_is_blocked) {
  login_throttle t(throttle_config());
  uint64_t now = 5'000;
  for (int i = 0; i < 5; ++i) t.record_failure("user" + std::to_string(i) + "@x.com", "203.0.113.5", now);
  auto v = t.check("fresh@x.com", "203.0.113.5", now);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.blocked_by, "ip");
  EXPECT_TRUE(t.check("fresh@x.com", "203.0.113.6", now).allowed);
}

TEST(login_throttle, success_clears_the_account_but_not_the_ip_and_old_failures_fade) {
  login_throttle t(throttle_config());
  t.record_failure("a@x.com", "192.0.2.1", 0);
  t.record_failure("a@x.com", "192.0.2.1", 0);
  t.record_success("a@x.com", 1);
  EXPECT_EQ(t.record_failure("a@x.com", "192.0.2.1", 2).account_failures, 1u);
  EXPECT_EQ(t.record_failure("b@x.com", "192.0.2.1", 3).ip_failures, 4u);
  // After the window, nothing is remembered.
  EXPECT_EQ(t.record_failure("a@x.com", "192.0.2.1", 700'000).account_failures, 1u);
}

TEST(login_throttle, memory_is_bounded) {
  login_throttle t(throttle_config());
  for (int i = 0; i < 10'000; ++i) t.record_failure("u" + std::to_string(i) + "@x.com", "10.0." + std::to_string(i % 250) + ".1", uint64_t(i));
  EXPECT_LE(t.tracked(), 64u + 16u);
}

// SMTP charges the message at MAIL (no recipients yet) and each recipient
// at RCPT: the two calls add up to what one try_acquire would take.
TEST(send_rate_limiter, recipients_charged_one_at_a_time) {
  send_rate_limiter l;
  account_id a(11);
  send_rate_limiter::limits lim{2, 3};
  EXPECT_TRUE(l.try_acquire(a, lim, 0, 0).allowed);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.try_acquire_recipients(a, lim, 1, 0).allowed) << i;
  auto fourth = l.try_acquire_recipients(a, lim, 1, 0);
  EXPECT_FALSE(fourth.allowed);
  EXPECT_EQ(fourth.exceeded, "recipients");
  EXPECT_EQ(fourth.retry_after_ms, 1'200'000u);  // one recipient per 20 minutes
  // Charging recipients took no message: the second message still passes.
  EXPECT_TRUE(l.try_acquire(a, lim, 0, 0).allowed);
  EXPECT_FALSE(l.try_acquire(a, lim, 0, 0).allowed);
}

TEST(send_rate_limiter, messages_and_recipients_per_hour) {
  send_rate_limiter l;
  account_id a(7);
  send_rate_limiter::limits lim{3, 10};
  uint64_t now = 0;
  EXPECT_TRUE(l.try_acquire(a, lim, 4, now).allowed);
  EXPECT_TRUE(l.try_acquire(a, lim, 4, now).allowed);
  auto too_many_rcpts = l.try_acquire(a, lim, 4, now);
  EXPECT_FALSE(too_many_rcpts.allowed);
  EXPECT_EQ(too_many_rcpts.exceeded, "recipients");
  EXPECT_GT(too_many_rcpts.retry_after_ms, 0u);
  EXPECT_TRUE(l.try_acquire(a, lim, 2, now).allowed);
  auto too_many_msgs = l.try_acquire(a, lim, 1, now);
  EXPECT_FALSE(too_many_msgs.allowed);
  EXPECT_EQ(too_many_msgs.exceeded, "messages");
  EXPECT_EQ(too_many_msgs.retry_after_ms, 1'200'000u);  // one message per 20 minutes
  EXPECT_TRUE(l.try_acquire(a, lim, 1, now + 1'200'000).allowed);
  // Another account is not affected; a message larger than the hourly
  // recipient limit never passes.
  EXPECT_TRUE(l.try_acquire(account_id(8), lim, 10, now).allowed);
  auto huge = l.try_acquire(account_id(9), lim, 11, now);
  EXPECT_FALSE(huge.allowed);
  EXPECT_EQ(huge.retry_after_ms, 0u);
}

}  // namespace
}  // namespace appliance
