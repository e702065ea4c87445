// Admin commands: the wire format round-trips, and execute() answers in text
// and JSON, refusing bad input with exit 1 and a reason.
#include <gtest/gtest.h>

#include "appliance/accounts/password.h"
#include "appliance/admin/commands.h"

namespace appliance {
namespace {

TEST(admin_wire, request_and_response_round_trip_with_awkward_bytes) {
  admin_request r{"account.add", {{"address", "a@b.c"}, {"password", "50% off\r\nnot a header"}}, true};
  auto back = decode_request(encode_request(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->verb, r.verb);
  EXPECT_EQ(back->args, r.args);
  EXPECT_TRUE(back->json);
  admin_response resp{1, "line one\nline two\n", "ringmail: 100% wrong\n"};
  auto rb = decode_response(encode_response(resp));
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->exit_code, 1);
  EXPECT_EQ(rb->out, resp.out);
  EXPECT_EQ(rb->err, resp.err);
  EXPECT_FALSE(decode_request("verb=x\n"));  // no terminating empty line
  EXPECT_FALSE(decode_request("verb=%4\n\n"));
}

TEST(admin_commands, directory_commands_in_text_and_json) {
  config cfg = default_config();
  directory_data d;
  bool changed = false;
  auto run = [&](admin_request r) { return execute(r, d, cfg, changed); };
  EXPECT_EQ(run({"domain.add", {{"name", "Example.com"}}}).exit_code, 0);
  EXPECT_TRUE(changed);
  auto hash = hash_password("correct horse battery staple", {64, 1, 1}).encoded;
  auto added = run({"account.add", {{"address", "u@example.com"}, {"password_hash", hash}}, true});
  EXPECT_EQ(added.out, "{\"ok\":true,\"id\":1}\n");
  auto set = run({"account.set", {{"address", "u@example.com"}, {"mailbox_access", "pop3"}, {"require_tls", "no"}}});
  EXPECT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(d.accounts["u@example.com"].protocols.to_string(), "pop3,submission");
  EXPECT_EQ(d.accounts["u@example.com"].require_tls, std::optional<bool>(false));
  auto list = run({"account.list", {}, true});
  EXPECT_NE(list.out.find("\"protocols\":\"pop3,submission\",\"require_tls\":false"), std::string::npos) << list.out;
  EXPECT_FALSE(changed);
  auto quota = run({"quota.set", {{"address", "u@example.com"}, {"size", "1G"}}});
  EXPECT_EQ(quota.out, "quota of u@example.com: 1.0 GB\n");
  auto bad = run({"quota.set", {{"address", "u@example.com"}, {"size", "huge"}}});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("bad size"), std::string::npos);
  auto missing = run({"account.remove", {{"address", "ghost@example.com"}}, true});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "{\"ok\":false,\"error\":\"no such account: ghost@example.com\"}\n");
  EXPECT_EQ(run({"no.such.verb", {}}).exit_code, 1);
}

TEST(admin_commands, new_passwords_meet_the_policy) {
  config cfg = default_config();
  admin_request weak{"account.add", {{"address", "u@example.com"}, {"password", "short"}}};
  ASSERT_TRUE(carries_new_password(weak));
  auto refused = check_new_password(weak, cfg);
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->err.find("too short"), std::string::npos);
  admin_request fine{"account.passwd", {{"address", "u@example.com"}, {"password", "correct horse battery staple"}}};
  EXPECT_FALSE(check_new_password(fine, cfg));
}

}  // namespace
}  // namespace appliance
