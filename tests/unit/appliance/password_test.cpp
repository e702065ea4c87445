// Password policy and Argon2id. The policy cases are the ones users really
// try; each refusal must say why in words.
#include <gtest/gtest.h>

#include "appliance/accounts/password.h"
#include "appliance/accounts/quota.h"

namespace appliance {
namespace {

const password_policy_config policy{};

std::string refusal(std::string_view p, std::string_view account = {}) {
  return check_password_policy(p, policy, account).value_or("");
}

TEST(password_policy, refuses_short_common_repetitive_and_predictable) {
  EXPECT_NE(refusal("Tr0ub4dor&3").find("too short: 11 characters, at least 12"), std::string::npos);
  EXPECT_NE(refusal("aaaaaaaaaaaaaaaa").find("repetitive"), std::string::npos);
  EXPECT_NE(refusal("abcabcabcabcabc").find("repetitive"), std::string::npos);
  EXPECT_NE(refusal("Password2024!").find("common password"), std::string::npos);
  EXPECT_NE(refusal("P@ssw0rd12345").find("common password"), std::string::npos);
  EXPECT_NE(refusal("qwertyuiop123").find("common password"), std::string::npos);
  EXPECT_NE(refusal("123456789012").find("easy to guess"), std::string::npos);
  EXPECT_NE(refusal("abcdefghijklmn").find("easy to guess"), std::string::npos);
  EXPECT_NE(refusal("alice.smith.2024", "alice.smith@example.com").find("account name"), std::string::npos);
  EXPECT_NE(refusal("good enough\x01passphrase").find("control character"), std::string::npos);
}

TEST(password_policy, accepts_passphrases_and_random_strings) {
  EXPECT_EQ(refusal("correct horse battery staple"), "");
  EXPECT_EQ(refusal("x7Kq9mP2vL4nR8"), "");
  EXPECT_EQ(refusal("Meadow-Lantern-Quartz-Fjord"), "");
}

TEST(password_policy, entropy_estimate_orders_sensibly) {
  EXPECT_LT(estimate_password_entropy_bits("aaaaaaaaaaaa"), estimate_password_entropy_bits("x7Kq9mP2vL4n"));
  EXPECT_LT(estimate_password_entropy_bits("password1234"), 40.0);
  EXPECT_GT(estimate_password_entropy_bits("correct horse battery staple"), 60.0);
}

TEST(argon2id, hashes_verify_and_salts_differ) {
  argon2_config cheap{64, 1, 1};
  auto a = hash_password("correct horse battery staple", cheap);
  auto b = hash_password("correct horse battery staple", cheap);
  ASSERT_FALSE(a.encoded.empty()) << a.error;
  EXPECT_TRUE(a.encoded.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
  EXPECT_NE(a.encoded, b.encoded);
  EXPECT_TRUE(verify_password("correct horse battery staple", a.encoded));
  EXPECT_FALSE(verify_password("correct horse battery stapler", a.encoded));
  EXPECT_FALSE(verify_password("x", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA"));
  EXPECT_FALSE(verify_password("x", ""));
}

TEST(quota, warns_once_and_refuses_when_full) {
  account a;
  a.address = "u@example.com";
  a.quota_bytes = 1000;
  EXPECT_EQ(check_quota(a, 100, 100, 70), quota_verdict::ok);
  EXPECT_EQ(check_quota(a, 600, 150, 70), quota_verdict::warn);
  a.quota_warning_sent = true;
  EXPECT_EQ(check_quota(a, 750, 100, 70), quota_verdict::ok);
  EXPECT_EQ(check_quota(a, 950, 100, 70), quota_verdict::full);
  EXPECT_TRUE(clear_warning_flag(a, 500, 70));
  EXPECT_FALSE(clear_warning_flag(a, 800, 70));
  a.quota_bytes = 0;
  EXPECT_EQ(check_quota(a, uint64_t(1) << 50, 1 << 20, 70), quota_verdict::ok);
  a.quota_bytes = 100 << 20;
  EXPECT_EQ(quota_full_reply(a, 100 << 20), "Mailbox of u@example.com is full (100.0 MB of 100.0 MB used); the message was not delivered");
  EXPECT_NE(quota_warning_message(a, 75 << 20, "mail.example.com", 70).find("Subject: Your mailbox is 70% full\r\n"), std::string::npos);
  EXPECT_EQ(parse_size("2G"), uint64_t(2) << 30);
  EXPECT_EQ(parse_size("unlimited"), 0u);
  EXPECT_FALSE(parse_size("lots"));
}

}  // namespace
}  // namespace appliance
