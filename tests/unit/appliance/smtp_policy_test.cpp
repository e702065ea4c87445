// The SMTP policy decisions that need no runtime: who may use which envelope
// sender on submission, and where <postmaster> goes. (The session paths,
// store delivery and durability are covered end to end in tests/e2e/smtp.)
#include <gtest/gtest.h>

#include "appliance/accounts/password.h"
#include "appliance/smtp/smtp_services.h"

namespace appliance {
namespace {

const std::string& test_hash() {
  static const std::string h = hash_password("irrelevant-for-these-tests", {8, 1, 1}).encoded;
  return h;
}

directory sample() {
  directory_data d;
  EXPECT_TRUE(d.add_domain("example.com"));
  EXPECT_TRUE(d.add_domain("other.net"));
  EXPECT_TRUE(d.add_alias_domain("example.org", "example.com"));
  EXPECT_TRUE(d.add_account("alice@example.com", test_hash()));
  EXPECT_TRUE(d.add_account("bob@example.com", test_hash()));
  EXPECT_TRUE(d.add_alias("info@example.com", {"alice@example.com"}));
  EXPECT_TRUE(d.add_alias("team@example.com", {"alice@example.com", "bob@example.com"}));
  EXPECT_TRUE(d.add_alias("sales@example.com", {"bob@example.com"}));
  EXPECT_TRUE(d.add_alias("@example.com", {"alice@example.com"}));  // catch-all
  return directory(std::move(d));
}

TEST(smtp_policy, sender_must_belong_to_the_account) {
  directory dir = sample();
  const account& alice = *dir.find_account("alice@example.com");
  struct row {
    const char* sender;
    bool allowed;
  } rows[] = {
      {"alice@example.com", true},
      {"Alice@Example.COM", true},       // case
      {"alice+lists@example.com", true}, // subaddress
      {"alice@example.org", true},       // alias domain
      {"info@example.com", true},        // alias to alice
      {"team@example.com", true},        // alias with alice among the targets
      {"sales@example.com", false},      // alias of someone else
      {"bob@example.com", false},        // another account
      {"anything@example.com", false},   // the catch-all is not an identity
      {"alice@other.net", false},
      {"alice@remote.test", false},
      {"\"alice\"@example.com", false},  // not a plain address
  };
  for (const auto& r : rows) EXPECT_EQ(sender_belongs_to(dir, alice, r.sender), r.allowed) << r.sender;
}

TEST(smtp_policy, postmaster_goes_to_the_configured_address_or_the_first_account) {
  directory dir = sample();
  config cfg = default_config();
  const account* pm = postmaster_account(dir, cfg);
  ASSERT_NE(pm, nullptr);
  EXPECT_EQ(pm->address, "alice@example.com");  // lowest id: created first
  cfg.smtp.postmaster = "sales@example.com";
  pm = postmaster_account(dir, cfg);
  ASSERT_NE(pm, nullptr);
  EXPECT_EQ(pm->address, "bob@example.com");
  cfg.smtp.postmaster = "nobody@remote.test";
  EXPECT_EQ(postmaster_account(dir, cfg), nullptr);
  EXPECT_EQ(postmaster_account(directory(directory_data{}), default_config()), nullptr);
}

}  // namespace
}  // namespace appliance
