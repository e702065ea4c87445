#include "protocols/msgauth/dmarc.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fake_dns.h"
#include "protocols/msgauth/auth_results.h"

using namespace msgauth;
using msgauth::test::fake_dns;
using msgauth::test::run;

namespace {

const public_suffix_list& small_list() {
  static const public_suffix_list list =
      public_suffix_list::parse("// test list\ncom\norg\nuk\nco.uk\n*.ck\n!www.ck\nexample\n");
  return list;
}

dkim_result dkim_pass(std::string domain) {
  dkim_result r;
  r.verdict = dkim_verdict::pass;
  r.domain = std::move(domain);
  return r;
}

spf_outcome spf(spf_result r, std::string domain) {
  spf_outcome o;
  o.result = r;
  o.domain = std::move(domain);
  return o;
}

dmarc_outcome decide(fake_dns& dns, std::string from, spf_outcome s, std::vector<dkim_result> d, unsigned sample = 0) {
  dmarc_inputs inputs{std::move(from), std::move(s), std::move(d)};
  return run(check_dmarc(dns, small_list(), std::move(inputs), sample));
}

}  // namespace

TEST(PublicSuffix, OrganizationalDomain) {
  const auto& psl = small_list();
  EXPECT_EQ(psl.organizational_domain("mail.example.org"), "example.org");
  EXPECT_EQ(psl.organizational_domain("Example.ORG."), "example.org");
  EXPECT_EQ(psl.organizational_domain("a.b.example.co.uk"), "example.co.uk");
  EXPECT_EQ(psl.organizational_domain("co.uk"), "co.uk");
  EXPECT_EQ(psl.organizational_domain("a.b.foo.ck"), "b.foo.ck");  // *.ck: foo.ck is a suffix
  EXPECT_EQ(psl.organizational_domain("a.www.ck"), "www.ck");      // !www.ck
  EXPECT_EQ(psl.organizational_domain("x.y.unlisted"), "y.unlisted");  // default rule "*"
}

// Debian's list (package publicsuffix), when installed, as the daemon reads it.
TEST(PublicSuffix, DebianList) {
  std::ifstream in("/usr/share/publicsuffix/public_suffix_list.dat");
  if (!in) GTEST_SKIP() << "publicsuffix not installed";
  std::stringstream text;
  text << in.rdbuf();
  auto psl = public_suffix_list::parse(text.str());
  EXPECT_GT(psl.rule_count(), 5000u);
  EXPECT_EQ(psl.organizational_domain("www.bbc.co.uk"), "bbc.co.uk");
  EXPECT_EQ(psl.organizational_domain("a.b.example.com"), "example.com");
  EXPECT_EQ(psl.organizational_domain("foo.github.io"), "foo.github.io");
}

TEST(Dmarc, RecordParser) {
  auto r = parse_dmarc_record("v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=50; rua=mailto:a@x.example,mailto:b@y.example");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy, dmarc_policy::reject);
  EXPECT_EQ(*r->subdomain_policy, dmarc_policy::quarantine);
  EXPECT_TRUE(r->dkim_strict);
  EXPECT_FALSE(r->spf_strict);
  EXPECT_EQ(r->percent, 50u);
  EXPECT_EQ(r->aggregate_report_uris.size(), 2u);
  EXPECT_FALSE(parse_dmarc_record("p=reject; v=DMARC1"));
  EXPECT_FALSE(parse_dmarc_record("v=DMARC1; p=bogus"));
  // Invalid p= with a valid rua= is p=none (RFC 7489 §6.6.3).
  auto lenient = parse_dmarc_record("v=DMARC1; p=bogus; rua=mailto:a@x.example");
  ASSERT_TRUE(lenient);
  EXPECT_EQ(lenient->policy, dmarc_policy::none);
}

TEST(Dmarc, AuthorDomain) {
  auto fields = split_header_fields("From: \"Joe\" <joe@Sub.Example.org>\r\nTo: x@y\r\n\r\n");
  EXPECT_EQ(author_domain(*fields).value_or("-"), "sub.example.org");
  fields = split_header_fields("From: a@x.example, b@y.example\r\n\r\n");
  EXPECT_FALSE(author_domain(*fields));
  fields = split_header_fields("From: a@x.example\r\nFrom: a@x.example\r\n\r\n");
  EXPECT_FALSE(author_domain(*fields));
  fields = split_header_fields("Subject: none\r\n\r\n");
  EXPECT_FALSE(author_domain(*fields));
}

TEST(Dmarc, AlignmentAndPolicy) {
  fake_dns dns;
  dns.add_txt("_dmarc.example.org", {"v=DMARC1; p=reject; sp=quarantine"});
  // Relaxed DKIM alignment: a subdomain signature aligns with the org domain.
  auto o = decide(dns, "example.org", spf(spf_result::fail, "other.example"), {dkim_pass("mail.example.org")});
  EXPECT_EQ(o.verdict, dmarc_verdict::pass);
  EXPECT_EQ(o.disposition, dmarc_policy::none);
  // SPF alignment alone.
  o = decide(dns, "example.org", spf(spf_result::pass, "bounces.example.org"), {});
  EXPECT_EQ(o.verdict, dmarc_verdict::pass);
  // A pass for another domain does not align.
  o = decide(dns, "example.org", spf(spf_result::pass, "evil.example"), {dkim_pass("evil.example")});
  EXPECT_EQ(o.verdict, dmarc_verdict::fail);
  EXPECT_EQ(o.published, dmarc_policy::reject);
  EXPECT_EQ(o.disposition, dmarc_policy::reject);
  // A subdomain without its own record uses the organizational record's sp=.
  o = decide(dns, "news.example.org", spf(spf_result::none, "x.example"), {});
  EXPECT_EQ(o.verdict, dmarc_verdict::fail);
  EXPECT_EQ(o.published, dmarc_policy::quarantine);
  EXPECT_EQ(dns.asked.back(), "TXT _dmarc.example.org");
  // No record: none.
  o = decide(dns, "nodmarc.example", spf(spf_result::pass, "nodmarc.example"), {});
  EXPECT_EQ(o.verdict, dmarc_verdict::none);
  // Strict alignment refuses the subdomain.
  dns.add_txt("_dmarc.strict.example", {"v=DMARC1; p=reject; adkim=s; aspf=s"});
  o = decide(dns, "strict.example", spf(spf_result::pass, "b.strict.example"), {dkim_pass("a.strict.example")});
  EXPECT_EQ(o.verdict, dmarc_verdict::fail);
  // pct: outside the sample a reject becomes quarantine.
  dns.add_txt("_dmarc.half.example", {"v=DMARC1; p=reject; pct=50"});
  o = decide(dns, "half.example", spf(spf_result::fail, "half.example"), {}, 10);
  EXPECT_EQ(o.disposition, dmarc_policy::reject);
  o = decide(dns, "half.example", spf(spf_result::fail, "half.example"), {}, 70);
  EXPECT_EQ(o.disposition, dmarc_policy::quarantine);
  // Temporary DNS failure.
  dns.txt_records["_dmarc.tmp.example"] = {dns_status::temporary, {}};
  o = decide(dns, "tmp.example", spf(spf_result::pass, "tmp.example"), {});
  EXPECT_EQ(o.verdict, dmarc_verdict::temperror);
  // Two records: no policy.
  dns.add_txt("_dmarc.twice.example", {"v=DMARC1; p=reject", "v=DMARC1; p=none"});
  o = decide(dns, "twice.example", spf(spf_result::fail, "twice.example"), {});
  EXPECT_EQ(o.verdict, dmarc_verdict::none);
}

TEST(AuthenticationResults, FormatsEveryMethod) {
  auth_summary s;
  s.spf = spf(spf_result::pass, "example.org");
  s.spf.mechanism = "mx";
  s.spf_sender = "alice@example.org";
  s.helo = "mail.example.org";
  dkim_result d = dkim_pass("example.org");
  d.selector = "sel";
  d.b_prefix = "abcdefgh";
  d.algorithm = key_algorithm::ed25519;
  s.dkim = {d};
  s.dmarc.verdict = dmarc_verdict::pass;
  s.dmarc.published = dmarc_policy::reject;
  s.dmarc.from_domain = "example.org";
  std::string h = format_authentication_results("mx.ringmail.test", s);
  EXPECT_EQ(h,
            "Authentication-Results: mx.ringmail.test;\r\n"
            "\tspf=pass (matched mx) smtp.mailfrom=alice@example.org;\r\n"
            "\tdkim=pass header.d=example.org header.s=sel header.a=ed25519-sha256 header.b=abcdefgh;\r\n"
            "\tdmarc=pass (p=reject dis=none) header.from=example.org\r\n");
  s.dkim.clear();
  s.spf_sender.clear();
  s.spf.reason = "bad (record)\r\n";
  h = format_authentication_results("id", s);
  EXPECT_NE(h.find("spf=pass (bad \\(record\\)) smtp.helo=mail.example.org"), std::string::npos) << h;
  EXPECT_NE(h.find("dkim=none"), std::string::npos);
}

// The whole inbound check over a signed message.
TEST(InboundCheck, SignedMessagePassesEverything) {
  auto key = private_key::generate(key_algorithm::ed25519);
  ASSERT_TRUE(key);
  std::string message = "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nHello.\r\n";
  dkim_sign_options options;
  options.domain = "example.org";
  options.selector = "s1";
  options.key = &*key;
  std::string signed_message = *dkim_sign(message, options) + message;
  fake_dns dns;
  dns.add_txt("s1._domainkey.example.org", {"v=DKIM1; k=ed25519; p=" + key->dkim_public_key()});
  dns.add_txt("example.org", {"v=spf1 ip4:192.0.2.0/24 -all"});
  dns.add_txt("_dmarc.example.org", {"v=DMARC1; p=reject"});
  spf_context context{*ip_address::parse("192.0.2.5"), "alice@example.org", "mail.example.org", "mx"};
  inbound_check check(dns, small_list(), context, {});
  check.feed(signed_message);
  auto summary = run(check.finish(0));
  EXPECT_EQ(summary.spf.result, spf_result::pass);
  ASSERT_EQ(summary.dkim.size(), 1u);
  EXPECT_EQ(summary.dkim[0].verdict, dkim_verdict::pass);
  EXPECT_EQ(summary.dmarc.verdict, dmarc_verdict::pass);

  // Forged: another client, body changed.
  spf_context forged_context{*ip_address::parse("203.0.113.1"), "alice@example.org", "evil", "mx"};
  inbound_check forged(dns, small_list(), forged_context, {});
  std::string tampered = signed_message;
  tampered.replace(tampered.find("Hello."), 6, "Pay me");
  forged.feed(tampered);
  summary = run(forged.finish(0));
  EXPECT_EQ(summary.spf.result, spf_result::fail);
  EXPECT_EQ(summary.dkim[0].verdict, dkim_verdict::fail);
  EXPECT_EQ(summary.dmarc.verdict, dmarc_verdict::fail);
  EXPECT_EQ(summary.dmarc.disposition, dmarc_policy::reject);
}
