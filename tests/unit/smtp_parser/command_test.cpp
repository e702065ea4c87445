#include "protocols/smtp/parser/command.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using smtp::command;
using smtp::command_options;
using smtp::verb;

command parse_ok(std::string_view line, const command_options& options = {}) {
  auto c = smtp::parse_command(line, options);
  EXPECT_TRUE(c.has_value()) << "line: " << line << " -> " << (c ? "" : std::string(c.error().response.text));
  if (!c) return command{};
  // Every accepted command survives format and re-parse unchanged.
  const std::string again = smtp::format_command(*c);
  auto reparsed = smtp::parse_command(again, options);
  EXPECT_TRUE(reparsed.has_value()) << "formatted: " << again;
  if (reparsed) {
    command expected = *c;
    expected.address.hazards = static_cast<smtp::relay_hazard>(static_cast<unsigned>(expected.address.hazards) &
                                                               ~static_cast<unsigned>(smtp::relay_hazard::source_route));
    EXPECT_EQ(*reparsed, expected) << "formatted: " << again;
  }
  return *c;
}

// Table rows for refused lines: the reply code and enhanced code expected.
struct refusal {
  std::string line;
  std::uint16_t code;
  std::string_view enhanced;
  bool close = false;
};

void expect_refusals(const std::vector<refusal>& rows, const command_options& options = {}) {
  for (const auto& row : rows) {
    auto c = smtp::parse_command(row.line, options);
    ASSERT_FALSE(c.has_value()) << "accepted: " << testing::PrintToString(row.line);
    EXPECT_EQ(c.error().response.code, row.code) << testing::PrintToString(row.line);
    EXPECT_EQ(c.error().response.enhanced, row.enhanced) << testing::PrintToString(row.line);
    EXPECT_EQ(c.error().close_connection, row.close) << testing::PrintToString(row.line);
    EXPECT_FALSE(c.error().response.text.empty());
  }
}

TEST(smtp_command, simple_verbs_any_case) {
  const std::pair<std::string_view, verb> rows[] = {
      {"DATA", verb::data}, {"data", verb::data}, {"DaTa", verb::data}, {"RSET", verb::rset},
      {"rset ", verb::rset}, {"NOOP", verb::noop}, {"QUIT", verb::quit}, {"quit", verb::quit},
      {"HELP", verb::help}, {"STARTTLS", verb::starttls}, {"starttls", verb::starttls},
  };
  for (const auto& [line, kind] : rows) EXPECT_EQ(parse_ok(line).kind, kind) << line;
}

TEST(smtp_command, arguments_of_noop_help_vrfy_expn) {
  EXPECT_EQ(parse_ok("NOOP hello there").argument, "hello there");
  EXPECT_EQ(parse_ok("HELP mail").argument, "mail");
  EXPECT_EQ(parse_ok("HELP").argument, "");
  const command v = parse_ok("VRFY  alice  ");
  EXPECT_EQ(v.kind, verb::vrfy);
  EXPECT_EQ(v.argument, "alice");
  EXPECT_EQ(parse_ok("EXPN staff").kind, verb::expn);
  EXPECT_EQ(parse_ok("VRFY J\xc3\xb6rg").argument, "J\xc3\xb6rg");
}

TEST(smtp_command, ehlo_and_helo) {
  EXPECT_EQ(parse_ok("EHLO mx.Example.ORG").domain, "mx.example.org");
  EXPECT_EQ(parse_ok("helo client").domain, "client");
  EXPECT_EQ(parse_ok("EHLO [192.0.2.1]").domain, "[192.0.2.1]");
  EXPECT_EQ(parse_ok("EHLO [ipv6:2001:DB8::1]").domain, "[IPv6:2001:db8::1]");
  EXPECT_EQ(parse_ok("EHLO win_host.corp").domain, "win_host.corp");
  EXPECT_EQ(parse_ok("EHLO   spaced.example  ").domain, "spaced.example");
  EXPECT_EQ(parse_ok("EHLO b\xc3\xbc" "cher.example").domain, "b\xc3\xbc" "cher.example");
  command_options no_utf8;
  no_utf8.smtputf8 = false;
  expect_refusals({{"EHLO b\xc3\xbc" "cher.example", 501, "5.5.4"}}, no_utf8);
  expect_refusals({
      {"EHLO", 501, "5.5.4"},
      {"EHLO ", 501, "5.5.4"},
      {"HELO", 501, "5.5.4"},
      {"EHLO two words", 501, "5.5.4"},
      {"EHLO -bad.example", 501, "5.5.4"},
      {"EHLO bad..example", 501, "5.5.4"},
      {"EHLO bad.example.", 501, "5.5.4"},
      {"EHLO [300.1.1.1]", 501, "5.5.4"},
      {"EHLO [1.2.3]", 501, "5.5.4"},
      {"EHLO [IPv6:1::2::3]", 501, "5.5.4"},
      {"EHLO <script>", 501, "5.5.4"},
      {"EHLO " + std::string(64, 'a') + ".example", 501, "5.5.4"},
      {"EHLO " + std::string(300, 'a'), 501, "5.5.4"},
  });
}

TEST(smtp_command, mail_from) {
  const command m = parse_ok("MAIL FROM:<Alice@Example.ORG>");
  EXPECT_EQ(m.kind, verb::mail);
  EXPECT_EQ(m.address.address.local_part, "Alice");
  EXPECT_EQ(m.address.address.domain, "example.org");
  EXPECT_FALSE(m.address.null);
  EXPECT_EQ(m.mail, smtp::mail_parameters{});

  EXPECT_TRUE(parse_ok("MAIL FROM:<>").address.null);
  EXPECT_TRUE(parse_ok("mail from:<>").address.null);
  // The common (not RFC) space after the colon is accepted.
  EXPECT_EQ(parse_ok("MAIL FROM: <a@b.example>").address.address.domain, "b.example");
  EXPECT_EQ(parse_ok("MAIL FROM:  <a@b.example>  ").address.address.local_part, "a");
}

TEST(smtp_command, mail_parameters) {
  command_options options;
  options.binary_mime = true;
  options.auth = true;
  const command m = parse_ok(
      "MAIL FROM:<a@b.example> SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B+3D1 AUTH=e+2Bve@x.example",
      options);
  EXPECT_EQ(m.mail.size, 12345u);
  EXPECT_EQ(m.mail.body, smtp::body_type::eight_bit_mime);
  EXPECT_TRUE(m.mail.smtputf8);
  EXPECT_EQ(m.mail.ret, smtp::dsn_return::headers);
  EXPECT_EQ(m.mail.envid, "QQ+=1");
  EXPECT_EQ(m.mail.auth, "e+ve@x.example");

  EXPECT_EQ(parse_ok("MAIL FROM:<> body=7bit ret=full", options).mail.body, smtp::body_type::seven_bit);
  EXPECT_EQ(parse_ok("MAIL FROM:<> BODY=BINARYMIME", options).mail.body, smtp::body_type::binary_mime);
  EXPECT_EQ(parse_ok("MAIL FROM:<> AUTH=<>", options).mail.auth, "<>");
  EXPECT_EQ(parse_ok("MAIL FROM:<> SIZE=18446744073709551615").mail.size, UINT64_MAX);
  EXPECT_EQ(parse_ok("MAIL FROM:<> ENVID=abc+2c").mail.envid, "abc,");  // lower-case hex tolerated

  // UTF-8 sender only with SMTPUTF8.
  const command u = parse_ok("MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> SMTPUTF8");
  EXPECT_TRUE(u.address.utf8);
}

TEST(smtp_command, mail_refusals) {
  command_options options;  // binary_mime and auth off by default
  expect_refusals(
      {
          {"MAIL", 501, "5.5.4"},
          {"MAIL FROM", 501, "5.5.4"},
          {"MAIL FROM:", 501, "5.5.4"},
          {"MAIL FROM:a@b.example", 501, "5.5.4"},       // angle brackets are required
          {"MAIL FROM <a@b.example>", 501, "5.5.4"},     // colon is required
          {"MAIL FROM:<a@b.example", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example>SIZE=1", 501, "5.5.4"},
          {"MAIL TO:<a@b.example>", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> SIZE=1 SIZE=1", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> SMTPUTF8 SMTPUTF8", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> BODY=7BIT BODY=8BITMIME", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> RET=FULL RET=HDRS", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> ENVID=a ENVID=b", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> SIZE=", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> SIZE", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> SIZE=12a", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> SIZE=-1", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> SIZE=18446744073709551616", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> SIZE=123456789012345678901", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> BODY=9BIT", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> BODY=BINARYMIME", 501, "5.5.4"},  // CHUNKING not offered
          {"MAIL FROM:<a@b.example> RET=ALL", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> SMTPUTF8=yes", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> ENVID=a+2", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> ENVID=a+ZZ", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> ENVID=" + std::string(101, 'e'), 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> =x", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> -X=1", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> X_Y=1", 501, "5.5.4"},
          {"MAIL FROM:<a@b.example> FOO=bar", 555, "5.5.4"},
          {"MAIL FROM:<a@b.example> XFOO", 555, "5.5.4"},
          {"MAIL FROM:<a@b.example> AUTH=<>", 555, "5.5.4"},  // AUTH= only on submission
          {"MAIL FROM:<a@b.example> NOTIFY=NEVER", 555, "5.5.4"},  // a RCPT parameter
          {"MAIL FROM:<a b@c.example>", 501, "5.1.7"},
          {"MAIL FROM:<a@>", 501, "5.1.7"},
          {"MAIL FROM:<@b.example>", 501, "5.1.7"},
          {"MAIL FROM:<a@b..example>", 501, "5.1.7"},
          {"MAIL FROM:<postmaster>", 501, "5.1.7"},  // only RCPT has a bare postmaster
          {"MAIL FROM:<j\xc3\xb6rg@b.example>", 553, "5.6.7"},  // no SMTPUTF8 parameter
          {"MAIL FROM:<j\xc3\xb6rg@b.example> SIZE=1", 553, "5.6.7"},
          {"MAIL FROM:<a@b.example> ENVID=\xc3\xb6", 501, "5.5.4"},
          {"MAIL FROM:<" + std::string(65, 'l') + "@b.example>", 501, "5.1.7"},
      },
      options);

  // Extensions switched off turn their parameters into unknown ones.
  command_options bare;
  bare.size = false;
  bare.dsn = false;
  bare.eight_bit_mime = false;
  bare.smtputf8 = false;
  expect_refusals(
      {
          {"MAIL FROM:<> SIZE=1", 555, "5.5.4"},
          {"MAIL FROM:<> RET=FULL", 555, "5.5.4"},
          {"MAIL FROM:<> ENVID=x", 555, "5.5.4"},
          {"MAIL FROM:<> BODY=8BITMIME", 555, "5.5.4"},
          {"MAIL FROM:<> SMTPUTF8", 555, "5.5.4"},
      },
      bare);
}

TEST(smtp_command, rcpt_to) {
  const command r = parse_ok("RCPT TO:<bob@Example.org>");
  EXPECT_EQ(r.kind, verb::rcpt);
  EXPECT_EQ(r.address.address.local_part, "bob");
  EXPECT_EQ(r.address.address.domain, "example.org");
  EXPECT_EQ(r.rcpt, smtp::rcpt_parameters{});

  const command p = parse_ok("rcpt to:<Postmaster>");
  EXPECT_TRUE(p.address.postmaster);
  EXPECT_EQ(p.address.address.local_part, "postmaster");
  EXPECT_EQ(parse_ok("RCPT TO: <bob@example.org>").address.address.local_part, "bob");

  const command d = parse_ok("RCPT TO:<bob@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;Bob+40example.org");
  EXPECT_EQ(d.rcpt.notify, smtp::dsn_notify::success | smtp::dsn_notify::delay);
  EXPECT_EQ(d.rcpt.orcpt_type, "rfc822");
  EXPECT_EQ(d.rcpt.orcpt_address, "Bob@example.org");
  EXPECT_EQ(parse_ok("RCPT TO:<bob@example.org> notify=never").rcpt.notify, smtp::dsn_notify::never);
  EXPECT_EQ(parse_ok("RCPT TO:<bob@example.org> NOTIFY=FAILURE ORCPT=RFC822;x").rcpt.orcpt_type, "rfc822");

  // The relay hazards travel with the parsed path.
  EXPECT_TRUE(smtp::has_hazard(parse_ok("RCPT TO:<user%remote@local.example>").address.hazards,
                               smtp::relay_hazard::percent));
  EXPECT_TRUE(smtp::has_hazard(parse_ok("RCPT TO:<@local.example:user@remote.example>").address.hazards,
                               smtp::relay_hazard::source_route));

  // UTF-8 recipients only inside an SMTPUTF8 transaction.
  command_options utf8;
  utf8.transaction_smtputf8 = true;
  EXPECT_TRUE(parse_ok("RCPT TO:<j\xc3\xb6rg@example.org>", utf8).address.utf8);
}

TEST(smtp_command, rcpt_refusals) {
  expect_refusals({
      {"RCPT", 501, "5.5.4"},
      {"RCPT TO:", 501, "5.5.4"},
      {"RCPT TO:bob@example.org", 501, "5.5.4"},
      {"RCPT TO <bob@example.org>", 501, "5.5.4"},
      {"RCPT FROM:<bob@example.org>", 501, "5.5.4"},
      {"RCPT TO:<>", 501, "5.1.3"},
      {"RCPT TO:<bob>", 501, "5.1.3"},
      {"RCPT TO:<postmaster@>", 501, "5.1.3"},
      {"RCPT TO:<bob@example.org> NOTIFY=NEVER,SUCCESS", 501, "5.5.4"},
      {"RCPT TO:<bob@example.org> NOTIFY=SOMETIMES", 501, "5.5.4"},
      {"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,", 501, "5.5.4"},
      {"RCPT TO:<bob@example.org> NOTIFY", 501, "5.5.4"},
      {"RCPT TO:<bob@example.org> NOTIFY=DELAY NOTIFY=DELAY", 501, "5.5.4"},
      {"RCPT TO:<bob@example.org> ORCPT=bob@example.org", 501, "5.5.4"},
      {"RCPT TO:<bob@example.org> ORCPT=x400;bob", 501, "5.5.4"},
      {"RCPT TO:<bob@example.org> ORCPT=rfc822;", 501, "5.5.4"},
      {"RCPT TO:<bob@example.org> ORCPT=rfc822;a+4", 501, "5.5.4"},
      {"RCPT TO:<bob@example.org> ORCPT=rfc822;a ORCPT=rfc822;b", 501, "5.5.4"},
      {"RCPT TO:<bob@example.org> SIZE=10", 555, "5.5.4"},
      {"RCPT TO:<bob@example.org> XFORWARD=1", 555, "5.5.4"},
      {"RCPT TO:<j\xc3\xb6rg@example.org>", 553, "5.6.7"},
  });
}

TEST(smtp_command, bdat) {
  const command b = parse_ok("BDAT 1000");
  EXPECT_EQ(b.kind, verb::bdat);
  EXPECT_EQ(b.chunk_size, 1000u);
  EXPECT_FALSE(b.last_chunk);
  const command l = parse_ok("bdat 0 last");
  EXPECT_EQ(l.chunk_size, 0u);
  EXPECT_TRUE(l.last_chunk);

  command_options options;
  options.chunk_size_max = 1 << 20;
  EXPECT_EQ(parse_ok("BDAT 1048576 LAST", options).chunk_size, 1u << 20);
  // A BDAT we cannot size (or will not accept) leaves its bytes in the
  // stream: every refusal closes the connection.
  expect_refusals(
      {
          {"BDAT", 501, "5.5.4", true},
          {"BDAT x", 501, "5.5.4", true},
          {"BDAT -1", 501, "5.5.4", true},
          {"BDAT 10 FIRST", 501, "5.5.4", true},
          {"BDAT 10 LAST LAST", 501, "5.5.4", true},
          {"BDAT 99999999999999999999999", 501, "5.5.4", true},
          {"BDAT 1048577", 552, "5.3.4", true},
      },
      options);
}

TEST(smtp_command, auth) {
  const command a = parse_ok("AUTH plain");
  EXPECT_EQ(a.kind, verb::auth);
  EXPECT_EQ(a.mechanism, "PLAIN");
  EXPECT_FALSE(a.initial_response);
  const command i = parse_ok("AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
  EXPECT_EQ(i.initial_response, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
  EXPECT_EQ(parse_ok("AUTH PLAIN =").initial_response, "=");
  EXPECT_EQ(parse_ok("AUTH SCRAM-SHA-256").mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(parse_ok("AUTH x_oauth2").mechanism, "X_OAUTH2");
  // AUTH lines may be longer than other commands (RFC 4954: 12288).
  const std::string big = "AUTH PLAIN " + std::string(8000, 'A');
  EXPECT_EQ(parse_ok(big).initial_response->size(), 8000u);

  expect_refusals({
      {"AUTH", 501, "5.5.4"},
      {"AUTH PL@IN", 501, "5.5.4"},
      {"AUTH " + std::string(21, 'A'), 501, "5.5.4"},
      {"AUTH PLAIN abc def", 501, "5.5.4"},
      {"AUTH PLAIN abc!", 501, "5.5.4"},
      {"AUTH PLAIN " + std::string(12300, 'A'), 500, "5.5.2"},
  });
}

TEST(smtp_command, general_refusals) {
  expect_refusals({
      {"", 500, "5.5.2"},
      {" ", 500, "5.5.2"},
      {"   DATA", 500, "5.5.2"},
      {"XYZZY", 500, "5.5.1"},
      {"MAILFROM:<a@b.example>", 500, "5.5.1"},
      {"DATA\r", 500, "5.5.2"},
      {std::string("DA\0TA", 5), 500, "5.5.2"},
      {"NOOP a\nb", 500, "5.5.2"},
      {"NOOP \t", 500, "5.5.2"},
      {"DATA now", 501, "5.5.4"},
      {"RSET x", 501, "5.5.4"},
      {"QUIT please", 501, "5.5.4"},
      {"STARTTLS x", 501, "5.5.4"},
      {"VRFY", 501, "5.5.4"},
      {"EXPN", 501, "5.5.4"},
      {"VRFY J\xc3\xb6rg\xff", 501, "5.5.4"},
      {"NOOP " + std::string(3000, 'x'), 500, "5.5.2"},
      {"GET / HTTP/1.1", 500, "5.5.1", true},
      {"POST /submit HTTP/1.1", 500, "5.5.1", true},
      {"CONNECT mx.example.org:25 HTTP/1.1", 500, "5.5.1", true},
  });
  command_options no_utf8;
  no_utf8.smtputf8 = false;
  expect_refusals({{"VRFY J\xc3\xb6rg", 501, "5.5.4"}}, no_utf8);
}

TEST(smtp_command, line_length_limit) {
  command_options options;
  options.line_size_max = 100;
  const std::string at_limit = "NOOP " + std::string(95, 'x');
  ASSERT_EQ(at_limit.size(), 100u);
  EXPECT_TRUE(smtp::parse_command(at_limit, options));
  expect_refusals({{at_limit + "x", 500, "5.5.2"}}, options);
}

TEST(smtp_command, verb_names) {
  EXPECT_EQ(smtp::verb_name(verb::ehlo), "EHLO");
  EXPECT_EQ(smtp::verb_name(verb::starttls), "STARTTLS");
  EXPECT_EQ(smtp::verb_name(verb::bdat), "BDAT");
}

TEST(smtp_command, format_is_canonical) {
  command_options options;
  options.auth = true;
  auto c = smtp::parse_command(
      "mail from: <\"Jo\\hn\"@EXAMPLE.org>  size=0010 body=8bitmime ret=hdrs envid=a+2b smtputf8 auth=<>", options);
  ASSERT_TRUE(c);
  EXPECT_EQ(smtp::format_command(*c),
            "MAIL FROM:<John@example.org> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=a+2B AUTH=<>");
  auto r = smtp::parse_command("rcpt to:<\"a b\"@x.example> notify=delay,success orcpt=RFC822;a+20b@x.example");
  ASSERT_TRUE(r);
  EXPECT_EQ(smtp::format_command(*r),
            "RCPT TO:<\"a b\"@x.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+20b@x.example");
}

}  // namespace
