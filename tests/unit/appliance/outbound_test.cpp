// The outbound queue's pure parts: the envelope stored in the queue
// record, the keyword state, the backoff, and RFC 3464 reports.
#include <gtest/gtest.h>

#include "appliance/outbound/dsn.h"
#include "appliance/outbound/queue_envelope.h"

namespace appliance::outbound {
namespace {

envelope sample() {
  envelope e;
  e.id = "18f.0.1.m1";
  e.sender = "ann@alpha.test";
  e.account = 7;
  e.created_ms = 1'700'000'000'123;
  e.ret = "HDRS";
  e.envid = "env id%with\r\nodd bytes";
  e.eight_bit = true;
  e.recipients = {{"bob@beta.test", "FAILURE,DELAY", "rfc822;Bob <b>@beta.test"}, {"carol@x.test", "", ""}};
  e.trace_headers = "Received: from client.test\r\n\tby mx.alpha.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n";
  return e;
}

TEST(QueueEnvelope, RoundTrips) {
  envelope e = sample();
  auto d = decode_envelope(encode_envelope(e));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->id, e.id);
  EXPECT_EQ(d->sender, e.sender);
  EXPECT_EQ(d->account, 7u);
  EXPECT_EQ(d->created_ms, e.created_ms);
  EXPECT_EQ(d->ret, "HDRS");
  EXPECT_EQ(d->envid, e.envid);
  EXPECT_TRUE(d->eight_bit);
  EXPECT_FALSE(d->smtputf8);
  ASSERT_EQ(d->recipients.size(), 2u);
  EXPECT_EQ(d->recipients[0].address, "bob@beta.test");
  EXPECT_EQ(d->recipients[0].notify, "FAILURE,DELAY");
  EXPECT_EQ(d->recipients[0].orcpt, "rfc822;Bob <b>@beta.test");
  EXPECT_EQ(d->recipients[1].notify, "");
  EXPECT_EQ(d->trace_headers, e.trace_headers);
}

TEST(QueueEnvelope, NullSenderAndRefusals) {
  envelope e = sample();
  e.sender = "";
  auto d = decode_envelope(encode_envelope(e));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->sender, "");
  EXPECT_FALSE(decode_envelope("Received: x\r\n"));
  EXPECT_FALSE(decode_envelope("RMQ1\nid=a\nfrom=b\n"));              // no end of envelope
  EXPECT_FALSE(decode_envelope("RMQ1\nid=a\nfrom=b\n\n"));            // no recipient
  EXPECT_FALSE(decode_envelope("RMQ1\nid=a\nfrom=b\nrcpt=x\n\n"));    // malformed recipient
  EXPECT_FALSE(decode_envelope("RMQ1\nid=a%G0\nfrom=b\nrcpt=x  \n\n"));
  EXPECT_TRUE(decode_envelope("RMQ1\nid=a\nfrom=b\nfuture=1\nrcpt=x@y  \n\n"));  // unknown keys are skipped
}

TEST(QueueEnvelope, KeywordsGiveTheDurableState) {
  auto s = state_from_keywords({"$rmq-d0", "$rmq-f2", "$rmq-a3", "$rmq-w", "$rmq-d9", "$Junk", "$rmq-dx"}, 3);
  EXPECT_TRUE(s.recipients[0].delivered);
  EXPECT_FALSE(s.recipients[1].final());
  EXPECT_TRUE(s.recipients[2].failed);
  EXPECT_EQ(s.attempts, 3u);
  EXPECT_TRUE(s.warned);
  EXPECT_FALSE(s.held);
  EXPECT_EQ(delivered_keyword(4), "$rmq-d4");
  EXPECT_EQ(failed_keyword(1), "$rmq-f1");
}

TEST(QueueEnvelope, BackoffDoublesUpToTheCap) {
  EXPECT_EQ(retry_delay_ms(1, 300'000, 4'000'000), 300'000u);
  EXPECT_EQ(retry_delay_ms(2, 300'000, 4'000'000), 600'000u);
  EXPECT_EQ(retry_delay_ms(4, 300'000, 4'000'000), 2'400'000u);
  EXPECT_EQ(retry_delay_ms(5, 300'000, 4'000'000), 4'000'000u);
  EXPECT_EQ(retry_delay_ms(1000, 300'000, 4'000'000), 4'000'000u);
  EXPECT_EQ(domain_of("A@Example.ORG"), "example.org");
  EXPECT_TRUE(needs_smtputf8("jörg@example.org"));
  EXPECT_FALSE(needs_smtputf8("joerg@bücher.example"));  // an IDN domain converts to an A-label
}

// A report from mx.alpha.test's MAILER-DAEMON to ann@alpha.test, as every
// DSN test below starts.
dsn_request report_to_ann() {
  dsn_request r;
  r.reporting_mta = "mx.alpha.test";
  r.from = "MAILER-DAEMON@mx.alpha.test";
  r.to = "ann@alpha.test";
  return r;
}

TEST(Dsn, FailureReportNamesOnlyItsRecipients) {
  dsn_request r = report_to_ann();
  r.envid = "E1";
  r.arrival_ms = 1'700'000'000'000;
  r.now_ms = 1'700'000'100'000;
  r.ret = "";
  r.boundary_seed = "seed1";
  r.recipients = {{"bad@sink.test", "rfc822;bad@sink.test", "failed", "5.1.1", "mx.sink.test",
                   "550 5.1.1 <bad@sink.test>: user unknown\r\nInjected: header"}};
  std::string original = "From: a\r\nSubject: s\r\n\r\nsecret body\r\n";
  r.original = original;
  std::string m = compose_dsn(r);
  EXPECT_NE(m.find("Content-Type: multipart/report; report-type=delivery-status;"), std::string::npos);
  EXPECT_NE(m.find("Reporting-MTA: dns; mx.alpha.test\r\n"), std::string::npos);
  EXPECT_NE(m.find("Original-Envelope-Id: E1\r\n"), std::string::npos);
  EXPECT_NE(m.find("Original-Recipient: rfc822;bad@sink.test\r\n"), std::string::npos);
  EXPECT_NE(m.find("Final-Recipient: rfc822; bad@sink.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"),
            std::string::npos);
  EXPECT_NE(m.find("Remote-MTA: dns; mx.sink.test\r\n"), std::string::npos);
  EXPECT_EQ(m.find("\r\nInjected: header"), std::string::npos) << "a remote reply cannot add a header line";
  EXPECT_NE(m.find("Content-Type: text/rfc822-headers"), std::string::npos);
  EXPECT_EQ(m.find("secret body"), std::string::npos) << "RET unspecified: headers only";
  r.ret = "FULL";
  m = compose_dsn(r);
  EXPECT_NE(m.find("Content-Type: message/rfc822"), std::string::npos);
  EXPECT_NE(m.find("secret body"), std::string::npos);
}

TEST(Dsn, InternationalizedRecipientMakesAGlobalReport) {
  dsn_request r = report_to_ann();
  r.arrival_ms = 1'700'000'000'000;
  r.now_ms = 1'700'000'100'000;
  r.ret = "FULL";
  r.boundary_seed = "seed2";
  r.recipients = {{"j\xC3\xBCrgen@b\xC3\xBC" "cher.test", "", "failed", "5.1.1", "", "550 no such user"},
                  {"plain@sink.test", "", "failed", "5.1.1", "", "550 no such user"}};
  r.original = "From: ann@alpha.test\r\nSubject: caf\xC3\xA9\r\n\r\nbody\r\n";
  std::string m = compose_dsn(r);
  EXPECT_NE(m.find("Content-Type: message/global-delivery-status\r\n"), std::string::npos);
  EXPECT_NE(m.find("Final-Recipient: utf-8; j\xC3\xBCrgen@b\xC3\xBC" "cher.test\r\n"), std::string::npos);
  EXPECT_NE(m.find("Final-Recipient: rfc822; plain@sink.test\r\n"), std::string::npos)
      << "an ASCII address keeps its rfc822 type";
  EXPECT_NE(m.find("Content-Type: message/global\r\n"), std::string::npos);
  r.ret = "";
  m = compose_dsn(r);
  EXPECT_NE(m.find("Content-Type: message/global-headers\r\n"), std::string::npos);
}

TEST(Dsn, ALongDiagnosticIsNotCutInsideAUtf8Sequence) {
  dsn_request r = report_to_ann();
  r.boundary_seed = "seed3";
  std::string diag = "550 x";  // odd length, so the 900-byte cut falls inside a pair
  while (diag.size() < 2000) diag += "\xC3\xA9";  // 'é' over and over: any cut lands on a pair
  r.recipients = {{"x@sink.test", "", "failed", "5.0.0", "", diag}};
  r.original = "From: a\r\n\r\nb\r\n";
  std::string m = compose_dsn(r);
  size_t at = m.find("Diagnostic-Code: smtp; ");
  ASSERT_NE(at, std::string::npos);
  size_t end = m.find("\r\n", at);
  std::string value = m.substr(at + 23, end - at - 23);
  ASSERT_GE(value.size(), 5u);
  EXPECT_EQ((value.size() - 5) % 2, 0u) << "the value ends on a whole character";
  EXPECT_EQ(value.substr(value.size() - 2), "\xC3\xA9");
}

}  // namespace
}  // namespace appliance::outbound
