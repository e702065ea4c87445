#include "protocols/msgauth/dkim.h"

#include <gtest/gtest.h>

#include "fake_dns.h"
#include "protocols/common/base64.h"

using namespace msgauth;
using msgauth::test::fake_dns;
using msgauth::test::run;

namespace {

std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// RFC 8463 Appendix A.3: a message signed with both an Ed25519 and an RSA key.
const std::string rfc8463_message = crlf(
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\n"
    " d=football.example.com; i=@football.example.com;\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\n"
    " subject : date : message-id : from : subject : date;\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n"
    " d=football.example.com; i=@football.example.com;\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\n"
    " date : message-id : from : subject : date;\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\n"
    "From: Joe SixPack <joe@football.example.com>\n"
    "To: Suzie Q <suzie@shopping.example.net>\n"
    "Subject: Is dinner ready?\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\n"
    "\n"
    "Hi.\n"
    "\n"
    "We lost the game.  Are you hungry yet?\n"
    "\n"
    "Joe.\n");

void add_rfc8463_keys(fake_dns& dns) {
  dns.add_txt("brisbane._domainkey.football.example.com",
              {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="});
  dns.add_txt("test._domainkey.football.example.com",
              {"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQ"
               "iY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip"
               "3G+2kryOTIKT+l/K4w3QIDAQAB"});
}

std::vector<dkim_result> verify(fake_dns& dns, std::string_view message, size_t chunk = 0,
                                dkim_verify_limits limits = {}) {
  dkim_verifier verifier(limits);
  if (chunk == 0) verifier.feed(message);
  else
    for (size_t i = 0; i < message.size(); i += chunk) verifier.feed(message.substr(i, chunk));
  return run(verifier.verify(dns));
}

const std::string plain_message = crlf(
    "From: Alice <alice@example.org>\n"
    "To: bob@example.net\n"
    "Subject: Hello  there\n"
    "Date: Mon, 23 Nov 2026 12:00:00 +0000\n"
    "Message-ID: <1@example.org>\n"
    "\n"
    "Hello Bob,  \n"
    "\n"
    "this is the body.\n"
    "\n"
    "\n");

}  // namespace

TEST(Dkim, Rfc8463BothSignaturesPass) {
  fake_dns dns;
  add_rfc8463_keys(dns);
  for (size_t chunk : {0, 1, 7, 64}) {
    auto results = verify(dns, rfc8463_message, chunk);
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].verdict, dkim_verdict::pass) << results[0].reason;
    EXPECT_EQ(results[0].algorithm, key_algorithm::ed25519);
    EXPECT_EQ(results[0].selector, "brisbane");
    EXPECT_EQ(results[1].verdict, dkim_verdict::pass) << results[1].reason;
    EXPECT_EQ(results[1].algorithm, key_algorithm::rsa);
    EXPECT_EQ(results[0].domain, "football.example.com");
    EXPECT_EQ(results[0].b_prefix, "/gCrinpc");
  }
}

TEST(Dkim, Rfc8463TamperedFails) {
  fake_dns dns;
  add_rfc8463_keys(dns);
  std::string body_changed = rfc8463_message;
  body_changed.replace(body_changed.find("hungry"), 6, "HUNGRY");
  auto results = verify(dns, body_changed);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].verdict, dkim_verdict::fail);
  EXPECT_EQ(results[0].reason, "body hash did not verify");
  std::string subject_changed = rfc8463_message;
  subject_changed.replace(subject_changed.find("dinner"), 6, "lunch!");
  results = verify(dns, subject_changed);
  EXPECT_EQ(results[0].verdict, dkim_verdict::fail);
  EXPECT_EQ(results[0].reason, "signature did not verify");
  EXPECT_EQ(results[1].verdict, dkim_verdict::fail);
  // Relaxed canonicalization tolerates whitespace changes in the header.
  std::string refolded = rfc8463_message;
  refolded.replace(refolded.find("Subject: Is"), 11, "Subject:   Is");
  results = verify(dns, refolded);
  EXPECT_EQ(results[0].verdict, dkim_verdict::pass);
}

TEST(Dkim, KeyLookupFailures) {
  fake_dns dns;
  auto results = verify(dns, rfc8463_message);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].verdict, dkim_verdict::permerror);
  dns.txt_records["brisbane._domainkey.football.example.com"] = {dns_status::temporary, {}};
  results = verify(dns, rfc8463_message);
  EXPECT_EQ(results[0].verdict, dkim_verdict::temperror);
  dns.add_txt("brisbane._domainkey.football.example.com", {"v=DKIM1; k=ed25519; p="});
  results = verify(dns, rfc8463_message);
  EXPECT_EQ(results[0].verdict, dkim_verdict::permerror);
  EXPECT_EQ(results[0].reason, "key revoked");
  // The RSA key published for the Ed25519 selector: a= and k= disagree.
  dns.add_txt("brisbane._domainkey.football.example.com", dns.txt_records["test._domainkey.football.example.com"].records);
  add_rfc8463_keys(dns);
  dns.txt_records["brisbane._domainkey.football.example.com"] = dns.txt_records["test._domainkey.football.example.com"];
  results = verify(dns, rfc8463_message);
  EXPECT_EQ(results[0].verdict, dkim_verdict::permerror);
}

class DkimRoundTrip : public ::testing::TestWithParam<key_algorithm> {};

TEST_P(DkimRoundTrip, SignThenVerify) {
  auto key = private_key::generate(GetParam());
  ASSERT_TRUE(key);
  // The key survives a PEM round trip.
  auto reread = private_key::from_pem(key->to_pem());
  ASSERT_TRUE(reread);
  EXPECT_EQ(reread->dkim_public_key(), key->dkim_public_key());
  dkim_sign_options options;
  options.domain = "example.org";
  options.selector = "sel1";
  options.key = &*reread;
  options.timestamp = 1790000000;
  auto field = dkim_sign(plain_message, options);
  ASSERT_TRUE(field);
  EXPECT_TRUE(field->starts_with("DKIM-Signature: v=1; a="));
  std::string signed_message = *field + plain_message;

  fake_dns dns;
  std::string record = "v=DKIM1; k=" + std::string(key_algorithm_name(GetParam())) + "; p=" + key->dkim_public_key();
  dns.add_txt("sel1._domainkey.example.org", {record});
  auto results = verify(dns, signed_message, 3);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].verdict, dkim_verdict::pass) << results[0].reason;
  EXPECT_EQ(results[0].domain, "example.org");

  // Over-signed From: a second From added later breaks the signature.
  std::string extra_from = *field + "From: Mallory <m@evil.example>\r\n" + plain_message;
  results = verify(dns, extra_from);
  EXPECT_EQ(results[0].verdict, dkim_verdict::fail);
  // Whitespace changes in the body pass relaxed canonicalization.
  std::string spaced = signed_message;
  spaced.replace(spaced.find("this is"), 7, "this    is");
  results = verify(dns, spaced);
  EXPECT_EQ(results[0].verdict, dkim_verdict::pass) << results[0].reason;
  // Added text does not.
  std::string appended = signed_message + "P.S. buy now\r\n";
  results = verify(dns, appended);
  EXPECT_EQ(results[0].verdict, dkim_verdict::fail);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, DkimRoundTrip, ::testing::Values(key_algorithm::ed25519, key_algorithm::rsa));

// l= covers a prefix of the body: text appended after it still verifies
// (which is why ringmail's signer never sets l=), and l= longer than the
// body is an error.
TEST(Dkim, BodyLengthTag) {
  auto key = private_key::generate(key_algorithm::ed25519);
  ASSERT_TRUE(key);
  std::string header = crlf("From: a@example.org\nSubject: l test\n");
  std::string body = crlf("line one\nline two\n");
  // Build a signature with l= by hand: the canonical body is 20 bytes.
  body_canonicalizer canon(canonicalization::relaxed);
  std::string canonical;
  canon.feed(body, canonical);
  canon.finish(canonical);
  ASSERT_EQ(canonical.size(), 20u);
  sha256 bh;
  bh.update(canonical);
  auto digest = bh.finish();
  std::string bh64 = proto::base64_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), 32));
  auto sign_with = [&](const std::string& l_tag) {
    std::string field = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=s;" + l_tag +
                        " h=from:subject; bh=" + bh64 + "; b=\r\n";
    std::string section = header + field;  // the fields are views into it
    auto fields = split_header_fields(section);
    dkim_signature sig;
    sig.canon = {canonicalization::relaxed, canonicalization::relaxed};
    sig.signed_headers = {"from", "subject"};
    sha256 hh;
    hh.update(dkim_header_hash_input(*fields, fields->size() - 1, sig));
    auto signature = key->sign_digest(hh.finish());
    field.resize(field.size() - 2);
    return field + proto::base64_encode(*signature) + "\r\n";
  };
  fake_dns dns;
  dns.add_txt("s._domainkey.example.org", {"v=DKIM1; k=ed25519; p=" + key->dkim_public_key()});
  std::string with_l = sign_with(" l=20;") + header + "\r\n" + body;
  auto results = verify(dns, with_l + "appended after the signed part\r\n");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].verdict, dkim_verdict::pass) << results[0].reason;
  std::string too_long = sign_with(" l=2000;") + header + "\r\n" + body;
  results = verify(dns, too_long);
  EXPECT_EQ(results[0].verdict, dkim_verdict::permerror);
}

TEST(Dkim, SignatureParserRefusals) {
  const std::string good = "v=1; a=rsa-sha256; d=example.org; s=s; h=from; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA";
  EXPECT_TRUE(parse_dkim_signature(good));
  auto refused = [](std::string v) { return !parse_dkim_signature(v).has_value(); };
  EXPECT_TRUE(refused("v=2; a=rsa-sha256; d=example.org; s=s; h=from; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA"));
  EXPECT_TRUE(refused("v=1; a=rsa-sha1; d=example.org; s=s; h=from; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA"));
  EXPECT_TRUE(refused("v=1; a=rsa-sha256; d=example.org; s=s; h=to; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA"));
  EXPECT_TRUE(refused("v=1; a=rsa-sha256; s=s; h=from; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA"));
  EXPECT_TRUE(refused(good + "; i=joe@other.example"));
  EXPECT_FALSE(refused(good + "; i=joe@sub.example.org"));
  EXPECT_TRUE(refused(good + "; t=200; x=100"));
  EXPECT_TRUE(refused(good + "; l=abc"));
  EXPECT_TRUE(refused(good + "; c=fancy/relaxed"));
}

TEST(Dkim, KeyRecordParser) {
  auto key = parse_dkim_key("v=DKIM1; k=ed25519; t=y:s; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->algorithm, key_algorithm::ed25519);
  EXPECT_TRUE(key->testing);
  EXPECT_TRUE(key->strict_subdomains);
  EXPECT_EQ(key->public_key.size(), 32u);
  EXPECT_FALSE(parse_dkim_key("v=DKIM2; p=AAAA"));
  EXPECT_FALSE(parse_dkim_key("k=dsa; p=AAAA"));
  EXPECT_FALSE(parse_dkim_key("h=sha1; p=AAAA"));
  EXPECT_FALSE(parse_dkim_key("s=web; p=AAAA"));
  EXPECT_FALSE(parse_dkim_key("k=rsa"));
  EXPECT_TRUE(parse_dkim_key("s=email:*; h=sha1:sha256; p="));
}

TEST(Dkim, TooManySignaturesAreNotChecked) {
  fake_dns dns;
  add_rfc8463_keys(dns);
  dkim_verify_limits limits;
  limits.signatures_max = 1;
  auto results = verify(dns, rfc8463_message, 0, limits);
  ASSERT_EQ(results.size(), 2u);
  // The second signature is reported first (it failed before DNS).
  EXPECT_EQ(results[0].verdict, dkim_verdict::neutral);
  EXPECT_EQ(results[1].verdict, dkim_verdict::pass);
}
