#include "protocols/msgauth/spf.h"

#include <gtest/gtest.h>

#include "fake_dns.h"

using namespace msgauth;
using msgauth::test::fake_dns;
using msgauth::test::run;

namespace {

spf_outcome check(fake_dns& dns, std::string ip, std::string sender, spf_limits limits = {}) {
  spf_context context{*ip_address::parse(ip), std::move(sender), "mail.example.net", "mx.local"};
  return run(check_spf(dns, context, limits));
}

}  // namespace

// RFC 7208 §7.4, the macro examples.
TEST(Spf, MacroExamples) {
  spf_context c{*ip_address::parse("192.0.2.3"), "strong-bad@email.example.com", "helo.example", "r"};
  auto x = [&](std::string_view spec) { return spf_expand(spec, c, "email.example.com").value_or("<error>"); };
  EXPECT_EQ(x("%{s}"), "strong-bad@email.example.com");
  EXPECT_EQ(x("%{o}"), "email.example.com");
  EXPECT_EQ(x("%{d}"), "email.example.com");
  EXPECT_EQ(x("%{d4}"), "email.example.com");
  EXPECT_EQ(x("%{d3}"), "email.example.com");
  EXPECT_EQ(x("%{d2}"), "example.com");
  EXPECT_EQ(x("%{d1}"), "com");
  EXPECT_EQ(x("%{dr}"), "com.example.email");
  EXPECT_EQ(x("%{d2r}"), "example.email");
  EXPECT_EQ(x("%{l}"), "strong-bad");
  EXPECT_EQ(x("%{l-}"), "strong.bad");
  EXPECT_EQ(x("%{lr}"), "strong-bad");
  EXPECT_EQ(x("%{lr-}"), "bad.strong");
  EXPECT_EQ(x("%{l1r-}"), "strong");
  EXPECT_EQ(x("%{ir}.%{v}._spf.%{d2}"), "3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(x("%{lr-}.lp._spf.%{d2}"), "bad.strong.lp._spf.example.com");
  EXPECT_EQ(x("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}"), "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(x("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}"), "3.2.0.192.in-addr.strong.lp._spf.example.com");
  EXPECT_EQ(x("%{d2}.trusted-domains.example.net"), "example.com.trusted-domains.example.net");
  c.ip = *ip_address::parse("2001:db8::cb01");
  EXPECT_EQ(x("%{ir}.%{v}._spf.%{d2}"),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
  EXPECT_EQ(x("%%%_%-"), "% %20");
  EXPECT_EQ(x("%{L}"), "strong-bad");
  EXPECT_FALSE(spf_expand("%{x}", c, "d.example"));
  EXPECT_FALSE(spf_expand("%{c}", c, "d.example"));  // only in exp=
  EXPECT_FALSE(spf_expand("%", c, "d.example"));
  EXPECT_FALSE(spf_expand("%{d0}", c, "d.example"));
}

TEST(Spf, ParserRefusesSyntaxErrors) {
  EXPECT_TRUE(parse_spf_record("v=spf1 ip4:192.0.2.0/24 a mx/24 a:x.example/24//64 ptr ~all"));
  EXPECT_TRUE(parse_spf_record("v=spf1 foo=bar -all"));  // unknown modifier ignored
  EXPECT_FALSE(parse_spf_record("v=spf1 ip4:192.0.2.0/33"));
  EXPECT_FALSE(parse_spf_record("v=spf1 ip4:2001:db8::1"));
  EXPECT_FALSE(parse_spf_record("v=spf1 include"));
  EXPECT_FALSE(parse_spf_record("v=spf1 frob:x.example"));
  EXPECT_FALSE(parse_spf_record("v=spf1 redirect=a.example redirect=b.example"));
  EXPECT_FALSE(parse_spf_record("v=spf1 all:x"));
  EXPECT_FALSE(parse_spf_record("v=spf1 a:%{q}.example"));
  EXPECT_FALSE(parse_spf_record("v=spf10 -all"));
  EXPECT_TRUE(is_spf_record("V=SPF1"));
  EXPECT_FALSE(is_spf_record("v=spf1x"));
}

TEST(Spf, MechanismsAndQualifiers) {
  fake_dns dns;
  dns.add_txt("example.org", {"some other text", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 mx a:web.example.org include:_spf.partner.example ~all"});
  dns.add_mx("example.org", {{10, "mx1.example.org"}});
  dns.add_a("mx1.example.org", {"198.51.100.7"});
  dns.add_a("web.example.org", {"203.0.113.9"});
  dns.add_txt("_spf.partner.example", {"v=spf1 ip4:100.64.0.0/10 -all"});
  EXPECT_EQ(check(dns, "192.0.2.77", "a@example.org").result, spf_result::pass);
  EXPECT_EQ(check(dns, "2001:db8:1::5", "a@example.org").result, spf_result::pass);
  auto mx = check(dns, "198.51.100.7", "a@example.org");
  EXPECT_EQ(mx.result, spf_result::pass);
  EXPECT_EQ(mx.mechanism, "mx");
  EXPECT_EQ(check(dns, "203.0.113.9", "a@example.org").result, spf_result::pass);
  auto inc = check(dns, "100.64.1.1", "a@example.org");
  EXPECT_EQ(inc.result, spf_result::pass);
  EXPECT_EQ(inc.mechanism, "include:_spf.partner.example");
  // The include's -all is "no match" for the outer record, whose ~all decides.
  EXPECT_EQ(check(dns, "10.1.1.1", "a@example.org").result, spf_result::softfail);
  // IPv4-mapped IPv6 clients are IPv4.
  EXPECT_EQ(check(dns, "::ffff:192.0.2.1", "a@example.org").result, spf_result::pass);
  // Null sender: the HELO identity.
  dns.add_txt("mail.example.net", {"v=spf1 -all"});
  auto helo = check(dns, "192.0.2.1", "");
  EXPECT_EQ(helo.result, spf_result::fail);
  EXPECT_EQ(helo.domain, "mail.example.net");
}

TEST(Spf, NoneNeutralRedirectAndErrors) {
  fake_dns dns;
  EXPECT_EQ(check(dns, "192.0.2.1", "a@nothing.example").result, spf_result::none);
  dns.add_txt("neutral.example", {"v=spf1 ?all"});
  EXPECT_EQ(check(dns, "192.0.2.1", "a@neutral.example").result, spf_result::neutral);
  dns.add_txt("empty.example", {"v=spf1"});
  EXPECT_EQ(check(dns, "192.0.2.1", "a@empty.example").result, spf_result::neutral);
  dns.add_txt("two.example", {"v=spf1 -all", "v=spf1 +all"});
  EXPECT_EQ(check(dns, "192.0.2.1", "a@two.example").result, spf_result::permerror);
  dns.add_txt("redir.example", {"v=spf1 redirect=_spf.redir.example"});
  dns.add_txt("_spf.redir.example", {"v=spf1 ip4:192.0.2.1 -all"});
  EXPECT_EQ(check(dns, "192.0.2.1", "a@redir.example").result, spf_result::pass);
  EXPECT_EQ(check(dns, "192.0.2.2", "a@redir.example").result, spf_result::fail);
  // redirect to a domain without a record: permerror.
  dns.add_txt("dangling.example", {"v=spf1 redirect=nothing.example"});
  EXPECT_EQ(check(dns, "192.0.2.1", "a@dangling.example").result, spf_result::permerror);
  // include of a domain without a record: permerror.
  dns.add_txt("badinc.example", {"v=spf1 include:nothing.example -all"});
  EXPECT_EQ(check(dns, "192.0.2.1", "a@badinc.example").result, spf_result::permerror);
  // A DNS failure is a temperror.
  dns.txt_records["tmp.example"] = {dns_status::temporary, {}};
  EXPECT_EQ(check(dns, "192.0.2.1", "a@tmp.example").result, spf_result::temperror);
  // A syntax error anywhere is a permerror, even after a matching term.
  dns.add_txt("syntax.example", {"v=spf1 +all ip4:300.1.1.1"});
  EXPECT_EQ(check(dns, "192.0.2.1", "a@syntax.example").result, spf_result::permerror);
  // exists: any A record matches.
  dns.add_txt("exists.example", {"v=spf1 exists:%{ir}.list.exists.example -all"});
  dns.add_a("1.2.0.192.list.exists.example", {"127.0.0.2"});
  EXPECT_EQ(check(dns, "192.0.2.1", "a@exists.example").result, spf_result::pass);
}

// RFC 7208 §4.6.4: more than 10 lookup terms is a permerror; so are more
// than 2 void lookups.
TEST(Spf, LookupLimits) {
  fake_dns dns;
  std::string record = "v=spf1";
  for (int i = 0; i < 11; ++i) {
    std::string name = "i" + std::to_string(i) + ".limits.example";
    record += " include:" + name;
    dns.add_txt(name, {"v=spf1 ip4:10.0.0." + std::to_string(i) + " -all"});
  }
  dns.add_txt("limits.example", {record + " -all"});
  // The client matches the 10th include: within the limit.
  EXPECT_EQ(check(dns, "10.0.0.9", "a@limits.example").result, spf_result::pass);
  auto over = check(dns, "10.0.0.10", "a@limits.example");
  EXPECT_EQ(over.result, spf_result::permerror);
  EXPECT_NE(over.reason.find("DNS lookups"), std::string::npos);
  // A recursive include loop ends at the limit too.
  dns.add_txt("loop.example", {"v=spf1 include:loop.example -all"});
  EXPECT_EQ(check(dns, "10.0.0.1", "a@loop.example").result, spf_result::permerror);

  dns.add_txt("voids.example", {"v=spf1 a:v1.voids.example a:v2.voids.example a:v3.voids.example +all"});
  auto voids = check(dns, "10.0.0.1", "a@voids.example");
  EXPECT_EQ(voids.result, spf_result::permerror);
  EXPECT_NE(voids.reason.find("void"), std::string::npos);
  dns.add_txt("twovoids.example", {"v=spf1 a:v1.voids.example a:v2.voids.example +all"});
  EXPECT_EQ(check(dns, "10.0.0.1", "a@twovoids.example").result, spf_result::pass);
  spf_limits strict;
  strict.void_lookups_max = 1;
  EXPECT_EQ(check(dns, "10.0.0.1", "a@twovoids.example", strict).result, spf_result::permerror);

  // More than 10 MX names is a permerror.
  std::vector<mx_record> many;
  for (uint16_t i = 0; i < 11; ++i) many.push_back({i, "mx" + std::to_string(i) + ".many.example"});
  dns.add_mx("many.example", many);
  dns.add_txt("many.example", {"v=spf1 mx -all"});
  EXPECT_EQ(check(dns, "10.0.0.1", "a@many.example").result, spf_result::permerror);
}

TEST(Spf, PtrMechanism) {
  fake_dns dns;
  dns.add_txt("ptr.example", {"v=spf1 ptr -all"});
  auto ip = *ip_address::parse("192.0.2.10");
  dns.ptr_records[ip.reverse_name()] = {dns_status::ok, {"host.ptr.example", "other.example"}};
  dns.add_a("host.ptr.example", {"192.0.2.10"});
  EXPECT_EQ(check(dns, "192.0.2.10", "a@ptr.example").result, spf_result::pass);
  // The forward lookup must confirm the name.
  dns.a_records["host.ptr.example"].addresses = {*ip_address::parse("192.0.2.99")};
  EXPECT_EQ(check(dns, "192.0.2.10", "a@ptr.example").result, spf_result::fail);
}

TEST(Spf, AddressHelpers) {
  auto v4 = *ip_address::parse("192.0.2.1");
  EXPECT_EQ(v4.reverse_name(), "1.2.0.192.in-addr.arpa");
  EXPECT_TRUE(v4.matches(*ip_address::parse("192.0.2.200"), 24));
  EXPECT_FALSE(v4.matches(*ip_address::parse("192.0.3.1"), 24));
  EXPECT_TRUE(v4.matches(*ip_address::parse("10.0.0.1"), 0));
  EXPECT_FALSE(v4.matches(*ip_address::parse("2001:db8::1"), 0));
  EXPECT_FALSE(ip_address::parse("1.2.3"));
}
