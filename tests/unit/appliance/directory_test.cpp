// The directory: mutations validate and leave nothing half-done; recipient
// resolution follows accounts, aliases, subaddresses, catch-alls and alias
// domains; the file round-trips.
#include <gtest/gtest.h>

#include <filesystem>

#include "appliance/accounts/directory.h"
#include "appliance/accounts/password.h"

namespace appliance {
namespace {

// A real Argon2id string, made cheaply (8 KiB, 1 pass): the directory only
// checks the format.
const std::string& test_hash() {
  static const std::string h = hash_password("irrelevant-for-these-tests", {8, 1, 1}).encoded;
  return h;
}

directory_data sample() {
  directory_data d;
  EXPECT_TRUE(d.add_domain("example.com"));
  EXPECT_TRUE(d.add_domain("other.net"));
  EXPECT_TRUE(d.add_account("alice@example.com", test_hash()));
  EXPECT_TRUE(d.add_account("bob@example.com", test_hash()));
  EXPECT_TRUE(d.add_account("carol@other.net", test_hash()));
  return d;
}

std::vector<std::string> addresses(const directory& dir, const resolution& r) {
  std::vector<std::string> out;
  for (auto id : r.accounts) out.push_back(dir.find_account(id)->address);
  return out;
}

TEST(directory, normalizes_addresses) {
  EXPECT_EQ(normalize_address("Alice@Example.COM"), "alice@example.com");
  EXPECT_FALSE(normalize_address("no-at-sign"));
  EXPECT_FALSE(normalize_address("a..b@example.com"));
  EXPECT_FALSE(normalize_address("a@-bad.com"));
  EXPECT_FALSE(normalize_address("a b@example.com"));
  EXPECT_FALSE(normalize_address(std::string(65, 'x') + "@example.com"));
}

TEST(directory, accounts_need_a_local_domain_and_are_unique) {
  directory_data d = sample();
  EXPECT_FALSE(d.add_account("x@nowhere.org", test_hash()));
  auto dup = d.add_account("ALICE@example.com", test_hash());
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().find("exists already"), std::string::npos);
  EXPECT_FALSE(d.add_account("y@example.com", "plaintext"));
}

TEST(directory, ids_are_never_reused) {
  directory_data d = sample();
  auto first = d.find("bob@example.com")->id;
  ASSERT_TRUE(d.remove_account("bob@example.com"));
  auto again = d.add_account("bob@example.com", test_hash());
  ASSERT_TRUE(again);
  EXPECT_NE(*again, first);
}

TEST(directory, resolves_accounts_aliases_subaddresses_and_catch_all) {
  directory_data d = sample();
  ASSERT_TRUE(d.add_alias("team@example.com", {"alice@example.com", "bob@example.com"}));
  ASSERT_TRUE(d.add_alias("all@example.com", {"team@example.com", "carol@other.net", "alice@example.com"}));
  directory dir(d);
  EXPECT_EQ(addresses(dir, dir.resolve_recipient("Alice@Example.com")), std::vector<std::string>{"alice@example.com"});
  EXPECT_EQ(addresses(dir, dir.resolve_recipient("team@example.com")),
            (std::vector<std::string>{"alice@example.com", "bob@example.com"}));
  // Nested, deduplicated, across domains.
  EXPECT_EQ(addresses(dir, dir.resolve_recipient("all@example.com")),
            (std::vector<std::string>{"alice@example.com", "bob@example.com", "carol@other.net"}));
  EXPECT_EQ(addresses(dir, dir.resolve_recipient("bob+lists@example.com")), std::vector<std::string>{"bob@example.com"});
  EXPECT_EQ(dir.resolve_recipient("nobody@example.com").status, resolve_status::unknown_user);
  EXPECT_EQ(dir.resolve_recipient("x@elsewhere.org").status, resolve_status::not_local_domain);
  EXPECT_EQ(dir.resolve_recipient("not an address").status, resolve_status::invalid_address);

  ASSERT_TRUE(d.add_alias("@example.com", {"bob@example.com"}));
  directory with_catch_all(d);
  auto r = with_catch_all.resolve_recipient("nobody@example.com");
  EXPECT_EQ(r.status, resolve_status::local);
  EXPECT_EQ(addresses(with_catch_all, r), std::vector<std::string>{"bob@example.com"});
  // The catch-all never shadows a real account.
  EXPECT_EQ(addresses(with_catch_all, with_catch_all.resolve_recipient("alice@example.com")),
            std::vector<std::string>{"alice@example.com"});
}

TEST(directory, alias_domains_reach_the_same_mailboxes) {
  directory_data d = sample();
  ASSERT_TRUE(d.add_alias("info@example.com", {"alice@example.com"}));
  ASSERT_TRUE(d.add_alias_domain("Example.ORG", "example.com"));
  EXPECT_FALSE(d.add_alias_domain("x.org", "not-local.org"));
  EXPECT_FALSE(d.add_alias_domain("other.net", "example.com"));
  directory dir(d);
  EXPECT_TRUE(dir.is_local_domain("example.org"));
  EXPECT_EQ(addresses(dir, dir.resolve_recipient("bob@example.org")), std::vector<std::string>{"bob@example.com"});
  EXPECT_EQ(addresses(dir, dir.resolve_recipient("info@EXAMPLE.org")), std::vector<std::string>{"alice@example.com"});
  // A login is the canonical address, not an alias-domain one.
  EXPECT_EQ(dir.find_account("bob@example.org"), nullptr);
  EXPECT_FALSE(d.add_account("new@example.org", test_hash()));
}

TEST(directory, alias_targets_must_be_local_and_not_shadow_accounts) {
  directory_data d = sample();
  EXPECT_FALSE(d.add_alias("alice@example.com", {"bob@example.com"}));
  auto remote = d.add_alias("fwd@example.com", {"someone@gmail.com"});
  ASSERT_FALSE(remote);
  EXPECT_NE(remote.error().find("forwarding"), std::string::npos);
  EXPECT_EQ(d.aliases.count("fwd@example.com"), 0u);
  // One bad target leaves the existing alias as it was.
  ASSERT_TRUE(d.add_alias("x@example.com", {"alice@example.com"}));
  EXPECT_FALSE(d.add_alias("x@example.com", {"bob@example.com", "ghost@example.com"}));
  EXPECT_EQ(d.aliases["x@example.com"], std::vector<std::string>{"alice@example.com"});
}

TEST(directory, removing_an_account_cleans_its_aliases_and_domains_refuse_while_used) {
  directory_data d = sample();
  ASSERT_TRUE(d.add_alias("solo@other.net", {"carol@other.net"}));
  EXPECT_FALSE(d.remove_domain("other.net"));
  ASSERT_TRUE(d.remove_account("carol@other.net"));
  EXPECT_EQ(d.aliases.count("solo@other.net"), 0u);
  EXPECT_TRUE(d.remove_domain("other.net"));
}

TEST(directory, alias_loops_are_bounded) {
  directory_data d = sample();
  ASSERT_TRUE(d.add_alias("a@example.com", {"alice@example.com"}));
  ASSERT_TRUE(d.add_alias("b@example.com", {"a@example.com"}));
  d.aliases["a@example.com"] = {"b@example.com"};  // a cycle, as a hand-edited file could hold
  directory dir(d);
  EXPECT_EQ(dir.resolve_recipient("a@example.com").status, resolve_status::alias_loop);
}

TEST(directory, file_round_trips_and_rejects_newer_versions) {
  directory_data d = sample();
  ASSERT_TRUE(d.add_alias("@example.com", {"alice@example.com"}));
  ASSERT_TRUE(d.add_alias_domain("example.org", "example.com"));
  account* bob = d.find("bob@example.com");
  bob->protocols = *protocol_set::parse("pop3,submission");
  bob->require_tls = false;
  bob->quota_bytes = 1 << 30;
  bob->send_messages_per_hour = 10;
  bob->disabled = true;
  auto dir = std::filesystem::temp_directory_path() / ("ringmail-dir-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "directory.toml").string();
  ASSERT_TRUE(save_directory(d, path));
  auto back = load_directory(path);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(serialize_directory(*back), serialize_directory(d));
  const account& b = back->accounts.at("bob@example.com");
  EXPECT_EQ(b.protocols.to_string(), "pop3,submission");
  EXPECT_EQ(b.require_tls, std::optional<bool>(false));
  EXPECT_EQ(b.quota_bytes, 1u << 30);
  EXPECT_TRUE(b.disabled);
  EXPECT_EQ(back->next_account_id, d.next_account_id);
  std::filesystem::remove_all(dir);

  auto newer = parse_directory("version = 2\n", "d.toml");
  ASSERT_FALSE(newer);
  EXPECT_NE(newer.error().find("newer ringmail"), std::string::npos);
  auto bad = parse_directory("version = 1\nnext_account_id = 5\n[domains.\"a.com\"]\n[accounts.\"x@a.com\"]\nid = 1\npassword = \"plain\"\n", "d.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("d.toml:"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("bad password hash"), std::string::npos) << bad.error();
}

}  // namespace
}  // namespace appliance
