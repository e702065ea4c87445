// ring_dns: msgauth's lookups answered by a dns::resolver (here the
// table-driven static_resolver; the daemon uses ares_resolver on the ring).
#include "appliance/dns/ring_dns.h"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include "protocols/dns/static_resolver.h"
#include "protocols/msgauth/spf.h"
#include "tests/unit/msgauth/fake_dns.h"

using namespace appliance;

namespace {

using msgauth::test::run;  // the static resolver answers at once, as the fake does

dns::ip_address ip(const char* text) { return *dns::ip_address::parse(text); }

dns::static_resolver zone() {
  dns::static_resolver z;
  z.txt_records["example.org"] = {"v=spf1 mx a:relay.example.org -all", "unrelated text"};
  z.mx_records["example.org"] = {{10, "mx.example.org"}};
  z.a_records["mx.example.org"] = {ip("192.0.2.10")};
  z.a_records["relay.example.org"] = {ip("192.0.2.20")};
  z.aaaa_records["mx.example.org"] = {ip("2001:db8::10")};
  z.ptr_records[dns::reverse_name(ip("192.0.2.10"))] = {"mx.example.org"};
  z.temporary_failures.insert("flaky.example.org");
  return z;
}

}  // namespace

TEST(RingDns, StatusesMapToMsgauthStatuses) {
  EXPECT_EQ(to_msgauth_status(dns::errc::not_found), msgauth::dns_status::nxdomain);
  EXPECT_EQ(to_msgauth_status(dns::errc::no_data), msgauth::dns_status::no_data);
  EXPECT_EQ(to_msgauth_status(dns::errc::temporary), msgauth::dns_status::temporary);
  EXPECT_EQ(to_msgauth_status(dns::errc::malformed), msgauth::dns_status::temporary);
  EXPECT_EQ(to_msgauth_status(dns::errc::shutting_down), msgauth::dns_status::temporary);
  EXPECT_EQ(to_msgauth_status(dns::errc::bad_name), msgauth::dns_status::permanent);
}

TEST(RingDns, AddressesRoundTrip) {
  for (const char* text : {"192.0.2.1", "2001:db8::1", "::1", "127.0.0.3"}) {
    auto m = to_msgauth_address(ip(text));
    EXPECT_EQ(m, *msgauth::ip_address::parse(text)) << text;
    EXPECT_EQ(to_dns_address(m), ip(text)) << text;
  }
}

TEST(RingDns, EveryRecordTypeAndStatus) {
  auto z = zone();
  ring_dns d(&z);
  auto txt = run(d.txt("example.org"));
  EXPECT_EQ(txt.status, msgauth::dns_status::ok);
  EXPECT_EQ(txt.records.size(), 2u);
  EXPECT_EQ(run(d.txt("mx.example.org")).status, msgauth::dns_status::no_data);
  EXPECT_EQ(run(d.txt("nowhere.example.org")).status, msgauth::dns_status::nxdomain);
  EXPECT_EQ(run(d.txt("flaky.example.org")).status, msgauth::dns_status::temporary);
  auto mx = run(d.mx("example.org"));
  ASSERT_EQ(mx.records.size(), 1u);
  EXPECT_EQ(mx.records[0].preference, 10);
  EXPECT_EQ(mx.records[0].host, "mx.example.org");
  auto a = run(d.a("mx.example.org"));
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(a.addresses[0].to_string(), "192.0.2.10");
  auto aaaa = run(d.aaaa("mx.example.org"));
  ASSERT_EQ(aaaa.addresses.size(), 1u);
  EXPECT_TRUE(aaaa.addresses[0].v6);
  EXPECT_EQ(aaaa.addresses[0].to_string(), "2001:db8::10");
  auto ptr = run(d.ptr(*msgauth::ip_address::parse("192.0.2.10")));
  ASSERT_EQ(ptr.names.size(), 1u);
  EXPECT_EQ(ptr.names[0], "mx.example.org");
}

TEST(RingDns, SpfEvaluatesThroughTheAdapter) {
  auto z = zone();
  ring_dns d(&z);
  auto check = [&](const char* client) {
    msgauth::spf_context c{*msgauth::ip_address::parse(client), "ann@example.org", "helo.example", "mx.local"};
    return run(msgauth::check_spf(d, c)).result;
  };
  EXPECT_EQ(check("192.0.2.10"), msgauth::spf_result::pass);  // mx
  EXPECT_EQ(check("192.0.2.20"), msgauth::spf_result::pass);  // a:relay
  EXPECT_EQ(check("192.0.2.99"), msgauth::spf_result::fail);
}

TEST(RingDns, DetachedAnswersTemporary) {
  auto z = zone();
  ring_dns d(&z);
  d.detach();
  EXPECT_EQ(run(d.txt("example.org")).status, msgauth::dns_status::temporary);
  EXPECT_EQ(run(d.a("mx.example.org")).status, msgauth::dns_status::temporary);
  EXPECT_EQ(z.queries, 0u);
}
