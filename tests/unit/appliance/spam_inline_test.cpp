// The inline spam filter's pure parts: the X-Spam-* header text, the
// decimals it and the log line print, the thresholds a message gets, and
// the one account its recipients share. (Scoring through SMTP into the
// store is end to end in tests/e2e/spam.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "appliance/spam/inline_filter.h"

namespace appliance {
namespace {

std::string printf_fixed(double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}

TEST(spam_inline, fixed_decimal_writes_what_printf_writes) {
  std::vector<double> values = {0.0,       1.0,      0.5,        0.9999995, 0.0000005, 0.0000015, 0.9999994999,
                                0.999812,  0.125,    0.995,      10.0,      9.95,      9.949999,  0.05,
                                0.25,      1e-300,   -0.0,       5.0,       4.45,      0.0000004999};
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < 20000; ++i) values.push_back(unit(rng));
  for (int i = 0; i < 2000; ++i) values.push_back(10.0 * unit(rng));
  for (double v : values) {
    for (int precision : {1, 2, 6}) {
      char buf[32];
      EXPECT_EQ(fixed_decimal(v, precision, buf), printf_fixed(v, precision)) << v << " precision " << precision;
    }
  }
}

TEST(spam_inline, headers_carry_status_probability_level_tag_clues_and_stars) {
  // 1 - p = 1.876e-4: level 8 - log10(1.876e-4) = 11.7268 (two decimals), 11 stars.
  filter::spam_score spam{0.9998124, filter::spam_level(0.9998124, std::log(1.876e-4)), 42};
  EXPECT_EQ(spam_headers(spam, spam_thresholds{0.995, 0.999, 1.1}),
            "X-Spam-Status: Yes, probability=0.999812, level=11.73, tag=0.99, clues=42\r\n"
            "X-Spam-Level: ***********\r\n");
  filter::spam_score ham{0.0000004, filter::spam_level(0.0000004, std::log1p(-0.0000004)), 0};
  EXPECT_EQ(spam_headers(ham, spam_thresholds{0.9, 0.99, 1.1}),
            "X-Spam-Status: No, probability=0.000000, level=0.00, tag=0.90, clues=0\r\n"
            "X-Spam-Level: \r\n");
  // Saturated: 1 - p = 1e-300 (as a log), level 308; the stars stop at 50.
  filter::spam_score all{1.0, filter::spam_level(1.0, std::log(1e-300)), 1000};
  EXPECT_EQ(spam_headers(all, spam_thresholds{1.0, 1.0, 1.1}),
            "X-Spam-Status: Yes, probability=1.000000, level=308.00, tag=1.00, clues=1000\r\n"
            "X-Spam-Level: " + std::string(50, '*') + "\r\n");
  // The tag threshold decides Yes/No exactly at the boundary (level 8 - log10(0.005) = 10.30).
  filter::spam_score edge{0.995, filter::spam_level(0.995, std::log(0.005)), 3};
  EXPECT_EQ(spam_headers(edge, spam_thresholds{0.995, 0.999, 1.1}).substr(0, 50),
            "X-Spam-Status: Yes, probability=0.995000, level=10");
}

TEST(spam_inline, x_spam_level_stars_are_the_floor_of_the_level_capped_at_50) {
  auto stars = [](double level) {
    std::string h = spam_headers(filter::spam_score{1.0, level, 1}, spam_thresholds{});
    std::size_t at = h.find("X-Spam-Level: ") + 14;
    return h.find("\r\n", at) - at;
  };
  EXPECT_EQ(stars(0.0), 0u);
  EXPECT_EQ(stars(9.99), 9u);
  EXPECT_EQ(stars(10.0), 10u);
  EXPECT_EQ(stars(49.99), 49u);
  EXPECT_EQ(stars(50.0), 50u);
  EXPECT_EQ(stars(50.5), 50u);
  EXPECT_EQ(stars(filter::spam_level_max), x_spam_level_stars_max);
  EXPECT_EQ(x_spam_level_stars_max, 50u);
}

smtp::recipient to(const char* local, const char* domain, const char* destination) {
  smtp::recipient r;
  r.address.address.local_part = local;
  r.address.address.domain = domain;
  r.destination = destination;
  return r;
}

TEST(spam_inline, thresholds_per_account_when_every_recipient_shares_one) {
  spam_section cfg;
  cfg.tag_threshold = 0.9;
  cfg.junk_threshold = 0.95;
  cfg.reject_threshold = 1.1;
  smtp::envelope env;
  env.recipients = {to("Alice", "example.com", "1"), to("bob", "example.com", "2")};
  // No per-account entries: the global ones.
  spam_thresholds t = thresholds_for(cfg, env);
  EXPECT_EQ(t.tag, 0.9);
  EXPECT_EQ(t.junk, 0.95);
  EXPECT_EQ(t.reject, 1.1);

  cfg.per_account.push_back({"alice@example.com", 0.5, 0.6, 0.7});
  // Only one of two recipients has an entry: global.
  EXPECT_EQ(thresholds_for(cfg, env).tag, 0.9);
  // Every recipient (any case) has the same entry: that one.
  env.recipients = {to("Alice", "example.com", "1"), to("alice", "EXAMPLE.com", "1")};
  env.recipients[1].address.address.domain = "example.com";  // domains arrive lowercased
  t = thresholds_for(cfg, env);
  EXPECT_EQ(t.tag, 0.5);
  EXPECT_EQ(t.junk, 0.6);
  EXPECT_EQ(t.reject, 0.7);
  // Two different entries: global.
  cfg.per_account.push_back({"bob@example.com", 0.1, 0.2, 0.3});
  env.recipients = {to("alice", "example.com", "1"), to("bob", "example.com", "2")};
  EXPECT_EQ(thresholds_for(cfg, env).tag, 0.9);
}

TEST(spam_inline, single_account_of_the_recipients) {
  smtp::envelope env;
  EXPECT_EQ(single_account(env), std::nullopt);
  env.recipients = {to("a", "example.com", "7"), to("info", "example.com", "7,7")};
  EXPECT_EQ(single_account(env), 7u);
  env.recipients.push_back(to("b", "example.com", "8"));
  EXPECT_EQ(single_account(env), std::nullopt);
  env.recipients = {to("x", "remote.test", "remote")};
  EXPECT_EQ(single_account(env), std::nullopt);
}

}  // namespace
}  // namespace appliance
