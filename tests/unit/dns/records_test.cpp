#include <gtest/gtest.h>

#include "protocols/dns/records.h"
#include "protocols/dns/static_resolver.h"
#include "../kernel_io/test_support.h"

namespace {

TEST(DnsRecords, ALabelsAreLowerCasedAndIdnConverted) {
  EXPECT_EQ(*dns::to_a_label("Example.ORG."), "example.org");
  EXPECT_EQ(*dns::to_a_label("bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(*dns::to_a_label("BÜCHER.example"), "xn--bcher-kva.example");
  EXPECT_EQ(*dns::to_a_label("例え.テスト"), "xn--r8jz45g.xn--zckzah");
}

TEST(DnsRecords, BadNamesAreRefused) {
  EXPECT_EQ(dns::to_a_label("").error(), dns::errc::bad_name);
  EXPECT_EQ(dns::to_a_label(".").error(), dns::errc::bad_name);
  EXPECT_EQ(dns::to_a_label("a..b").error(), dns::errc::bad_name);
  EXPECT_EQ(dns::to_a_label(std::string(64, 'a') + ".example").error(), dns::errc::bad_name);
  std::string long_name;
  for (int i = 0; i < 51; ++i) long_name += "abcd.";  // 258 octets
  long_name += "org";
  EXPECT_EQ(dns::to_a_label(long_name).error(), dns::errc::bad_name);
  EXPECT_FALSE(dns::to_a_label("\xff\xfe.example"));
}

TEST(DnsRecords, ReverseNames) {
  EXPECT_EQ(dns::reverse_name(*dns::ip_address::parse("192.0.2.1")), "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(dns::reverse_name(*dns::ip_address::parse("2001:db8::1")),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_FALSE(dns::ip_address::parse("300.1.1.1"));
  EXPECT_EQ(dns::ip_address::parse("::1")->to_string(), "::1");
}

TEST(DnsRecords, StaticResolverDistinguishesNoDataFromNotFound) {
  auto r = kio::test_support::make_reactor();
  dns::static_resolver z;
  z.a_records["host.example"] = {*dns::ip_address::parse("192.0.2.7")};
  z.mx_records["example"] = {{10, "host.example"}};
  z.temporary_failures.insert("broken.example");
  kio::test_support::run(*r, [](dns::static_resolver& z) -> kio::task<void> {
    auto mx = co_await z.mx("EXAMPLE.");
    EXPECT_TRUE(mx && mx->at(0).host == "host.example");
    auto none = co_await z.mx("host.example");
    EXPECT_EQ(none.error(), dns::errc::no_data);
    auto missing = co_await z.a("nowhere.example");
    EXPECT_EQ(missing.error(), dns::errc::not_found);
    auto broken = co_await z.txt("broken.example");
    EXPECT_EQ(broken.error(), dns::errc::temporary);
  }(z));
  EXPECT_EQ(z.queries, 4u);
}

}  // namespace
