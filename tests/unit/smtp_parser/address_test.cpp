#include "protocols/smtp/parser/address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using smtp::address_errc;
using smtp::path_kind;
using smtp::relay_hazard;

const smtp::address_options ascii{};
smtp::address_options make_utf8() {
  smtp::address_options options;
  options.smtputf8 = true;
  return options;
}
const smtp::address_options utf8 = make_utf8();

smtp::path forward_ok(std::string_view text, const smtp::address_options& options = ascii) {
  auto p = smtp::parse_path(text, path_kind::forward, options);
  EXPECT_TRUE(p.has_value()) << text;
  return p ? *p : smtp::path{};
}

address_errc forward_error(std::string_view text, const smtp::address_options& options = ascii) {
  auto p = smtp::parse_path(text, path_kind::forward, options);
  EXPECT_FALSE(p.has_value()) << text;
  return p ? address_errc{} : p.error();
}

TEST(smtp_address, plain_mailboxes) {
  const smtp::path p = forward_ok("<John.Smith@Example.COM>");
  EXPECT_EQ(p.address.local_part, "John.Smith");  // case preserved
  EXPECT_EQ(p.address.domain, "example.com");     // lower-cased
  EXPECT_FALSE(p.address.domain_literal);
  EXPECT_EQ(p.hazards, relay_hazard::none);
  EXPECT_FALSE(p.utf8);

  EXPECT_EQ(forward_ok("<a+tag@x.example>").address.local_part, "a+tag");
  EXPECT_EQ(forward_ok("<{weird}'/=?^_`|~#$&*@x.example>").address.local_part, "{weird}'/=?^_`|~#$&*");
  EXPECT_EQ(forward_ok("<u@localhost>").address.domain, "localhost");
  EXPECT_EQ(forward_ok("<u@xn--bcher-kva.example>").address.domain, "xn--bcher-kva.example");
  EXPECT_EQ(forward_ok("<u@a-b.c-d.example>").address.domain, "a-b.c-d.example");
}

TEST(smtp_address, quoted_local_parts) {
  EXPECT_EQ(forward_ok("<\"john smith\"@x.example>").address.local_part, "john smith");
  EXPECT_EQ(forward_ok("<\"a\\\"b\"@x.example>").address.local_part, "a\"b");
  EXPECT_EQ(forward_ok("<\"a\\\\b\"@x.example>").address.local_part, "a\\b");
  EXPECT_EQ(forward_ok("<\"a>b\"@x.example>").address.local_part, "a>b");
  EXPECT_EQ(forward_ok("<\"plain\"@x.example>").address.local_part, "plain");
  EXPECT_EQ(smtp::format_mailbox(forward_ok("<\"plain\"@x.example>").address), "plain@x.example");
  EXPECT_EQ(smtp::format_mailbox(forward_ok("<\"a\\\"b c\"@x.example>").address), "\"a\\\"b c\"@x.example");
}

TEST(smtp_address, address_literals) {
  const smtp::path v4 = forward_ok("<u@[192.0.2.1]>");
  EXPECT_TRUE(v4.address.domain_literal);
  EXPECT_EQ(v4.address.domain, "[192.0.2.1]");
  const char* good[] = {
      "[IPv6:2001:db8::1]", "[IPv6:::1]", "[IPv6:::]", "[ipv6:2001:DB8:0:0:0:0:0:1]",
      "[IPv6:1:2:3:4:5:6:7:8]", "[IPv6:::ffff:192.0.2.1]", "[IPv6:1:2:3:4:5:6:1.2.3.4]",
      "[IPv6:1:2:3::4:5:6]", "[0.0.0.0]", "[255.255.255.255]",
  };
  for (const char* literal : good) {
    auto d = smtp::parse_domain(literal, ascii);
    EXPECT_TRUE(d.has_value()) << literal;
  }
  EXPECT_EQ(*smtp::parse_domain("[ipv6:2001:DB8::1]", ascii), "[IPv6:2001:db8::1]");
  const char* bad[] = {
      "[256.0.0.1]", "[1.2.3]", "[1.2.3.4.5]", "[1..2.3]", "[1.2.3.4", "[]", "[a.b.c.d]", "[1234.1.1.1]",
      "[IPv6:1:2:3:4:5:6:7]", "[IPv6:1:2:3:4:5:6:7:8:9]", "[IPv6:1::2::3]", "[IPv6:12345::1]",
      "[IPv6:1:2:3:4:5:6:7::]",  // "::" must stand for at least two groups
      "[IPv6:g::1]", "[IPv6:1:2:3:4:5:6:7:1.2.3.4]", "[IPv4:1.2.3.4]", "[tag:content]", "[IPv6:]",
      "[IPv6:1.2.3.4]",
  };
  for (const char* literal : bad) {
    auto d = smtp::parse_domain(literal, ascii);
    ASSERT_FALSE(d.has_value()) << literal;
    EXPECT_EQ(d.error(), address_errc::bad_address_literal) << literal;
  }
}

TEST(smtp_address, null_and_postmaster) {
  auto null_reverse = smtp::parse_path("<>", path_kind::reverse, ascii);
  ASSERT_TRUE(null_reverse);
  EXPECT_TRUE(null_reverse->null);
  EXPECT_EQ(forward_error("<>"), address_errc::syntax);

  const smtp::path pm = forward_ok("<PostMaster>");
  EXPECT_TRUE(pm.postmaster);
  EXPECT_EQ(pm.address.local_part, "postmaster");
  EXPECT_TRUE(pm.address.domain.empty());
  EXPECT_FALSE(smtp::parse_path("<postmaster>", path_kind::reverse, ascii));
  // postmaster@domain is an ordinary mailbox.
  EXPECT_FALSE(forward_ok("<postmaster@x.example>").postmaster);

  std::string out;
  smtp::format_path(pm, out);
  smtp::format_path(*null_reverse, out);
  EXPECT_EQ(out, "<postmaster><>");
}

// The relay tricks an appliance must recognise: each names a remote
// recipient through a local domain. All are RFC-valid, so the parser
// accepts them and flags them; the session refuses flagged recipients.
TEST(smtp_address, relay_hazards) {
  struct row {
    std::string_view text;
    relay_hazard expected;
  };
  const row rows[] = {
      {"<user%remote.example@local.example>", relay_hazard::percent},
      {"<remote.example!user@local.example>", relay_hazard::bang},
      {"<\"user@remote.example\"@local.example>", relay_hazard::at_in_local_part},
      {"<@local.example:user@remote.example>", relay_hazard::source_route},
      {"<@a.example,@b.example:user@remote.example>", relay_hazard::source_route},
      {"<\"user%remote\"@local.example>", relay_hazard::percent},
      {"<\"a!b@c\"@local.example>", relay_hazard::bang | relay_hazard::at_in_local_part},
      {"<@local.example:user%other@remote.example>", relay_hazard::source_route | relay_hazard::percent},
      {"<user@local.example>", relay_hazard::none},
      {"<user.name+tag@local.example>", relay_hazard::none},
  };
  for (const auto& r : rows) {
    const smtp::path p = forward_ok(r.text);
    EXPECT_EQ(static_cast<unsigned>(p.hazards), static_cast<unsigned>(r.expected)) << r.text;
  }
  // The route is ignored: the mailbox is the part after the colon.
  const smtp::path routed = forward_ok("<@local.example:user@remote.example>");
  EXPECT_EQ(routed.address.domain, "remote.example");
  EXPECT_EQ(smtp::format_mailbox(routed.address), "user@remote.example");
  // Reverse paths carry the same flags.
  auto reverse = smtp::parse_path("<a%b@c.example>", path_kind::reverse, ascii);
  ASSERT_TRUE(reverse);
  EXPECT_TRUE(smtp::has_hazard(reverse->hazards, relay_hazard::percent));
  // Broken routes are refused.
  EXPECT_EQ(forward_error("<@local.example user@remote.example>"), address_errc::syntax);
  EXPECT_EQ(forward_error("<@local.example,:user@remote.example>"), address_errc::syntax);
  EXPECT_EQ(forward_error("<@local.example,b.example:user@remote.example>"), address_errc::syntax);
  EXPECT_EQ(forward_error("<@:user@remote.example>"), address_errc::bad_domain);
  EXPECT_EQ(forward_error("<@-bad.example:user@remote.example>"), address_errc::bad_domain);
}

TEST(smtp_address, syntax_errors) {
  struct row {
    std::string_view text;
    address_errc expected;
  };
  const row rows[] = {
      {"user@x.example", address_errc::syntax},      // no brackets
      {"<user@x.example", address_errc::syntax},
      {"<user>", address_errc::syntax},
      {"<@x.example>", address_errc::syntax},
      {"<user@>", address_errc::bad_domain},
      {"<.user@x.example>", address_errc::syntax},
      {"<user.@x.example>", address_errc::syntax},
      {"<us..er@x.example>", address_errc::syntax},
      {"<us er@x.example>", address_errc::syntax},
      {"<us(er)@x.example>", address_errc::syntax},
      {"<user@@x.example>", address_errc::bad_domain},
      {"<a@b@x.example>", address_errc::bad_domain},
      {"<\"\"@x.example>", address_errc::syntax},
      {"<\"unterminated@x.example>", address_errc::syntax},
      {"<\"a\"b@x.example>", address_errc::syntax},
      {"<\"a\\\"@x.example>", address_errc::syntax},
      {"<\"tab\there\"@x.example>", address_errc::syntax},
      {"<user@x..example>", address_errc::bad_domain},
      {"<user@.x.example>", address_errc::bad_domain},
      {"<user@x.example.>", address_errc::bad_domain},
      {"<user@-x.example>", address_errc::bad_domain},
      {"<user@x-.example>", address_errc::bad_domain},
      {"<user@x_y.example>", address_errc::bad_domain},
      {"<user@x.example:25>", address_errc::bad_domain},
      {"<user@[1.2.3.4]x>", address_errc::bad_address_literal},
  };
  for (const auto& r : rows) EXPECT_EQ(forward_error(r.text), r.expected) << r.text;
}

TEST(smtp_address, length_limits) {
  const std::string local64(64, 'l');
  EXPECT_EQ(forward_ok("<" + local64 + "@x.example>").address.local_part, local64);
  EXPECT_EQ(forward_error("<" + local64 + "l@x.example>"), address_errc::local_part_too_long);
  // The quotes count: the limit is on the wire form.
  EXPECT_EQ(forward_error("<\"" + std::string(63, 'q') + "\"@x.example>"), address_errc::local_part_too_long);

  const std::string label63(63, 'd');
  EXPECT_TRUE(smtp::parse_domain(label63 + ".example", ascii));
  EXPECT_EQ(smtp::parse_domain(label63 + "d.example", ascii).error(), address_errc::domain_too_long);

  // 255 octets of domain is the most: 4 labels of 63 and dots = 255.
  const std::string domain255 = label63 + "." + label63 + "." + label63 + "." + label63;
  ASSERT_EQ(domain255.size(), 255u);
  EXPECT_TRUE(smtp::parse_domain(domain255, ascii));
  EXPECT_EQ(smtp::parse_domain(domain255 + "x", ascii).error(), address_errc::domain_too_long);

  // The path limit (256 with brackets) binds before the domain one.
  const std::string path_over = "<a@" + domain255 + ">";  // 259 octets
  EXPECT_EQ(forward_error(path_over), address_errc::path_too_long);
  const std::string domain_251 = label63 + "." + label63 + "." + label63 + "." + std::string(59, 'd');
  ASSERT_EQ(domain_251.size(), 251u);
  EXPECT_TRUE(forward_ok("<ab@" + domain_251 + ">").address.domain == domain_251);  // 256 exactly

  smtp::address_options relaxed;
  relaxed.limits.local_part_size_max = 128;
  relaxed.limits.path_size_max = 512;
  EXPECT_TRUE(smtp::parse_path("<" + std::string(100, 'v') + "@x.example>", path_kind::forward, relaxed));
}

TEST(smtp_address, utf8_only_with_smtputf8) {
  EXPECT_EQ(forward_error("<j\xc3\xb6rg@x.example>"), address_errc::non_ascii);
  EXPECT_EQ(forward_error("<user@b\xc3\xbc" "cher.example>"), address_errc::non_ascii);
  EXPECT_EQ(forward_error("<\"j\xc3\xb6rg\"@x.example>"), address_errc::non_ascii);

  const smtp::path p = forward_ok("<J\xc3\xb6rg@B\xc3\xbc" "cher.Example>", utf8);
  EXPECT_TRUE(p.utf8);
  EXPECT_EQ(p.address.local_part, "J\xc3\xb6rg");
  EXPECT_EQ(p.address.domain, "b\xc3\xbc" "cher.example");  // ASCII lowered, UTF-8 kept
  EXPECT_TRUE(forward_ok("<\"j\xc3\xb6rg smith\"@x.example>", utf8).utf8);

  EXPECT_EQ(forward_error("<j\xff" "rg@x.example>", utf8), address_errc::invalid_utf8);
  EXPECT_EQ(forward_error("<user@b\xc3" ".example>", utf8), address_errc::invalid_utf8);
  EXPECT_EQ(forward_error("<user@\xc0\xaf.example>", utf8), address_errc::invalid_utf8);
}

TEST(smtp_address, helo_domain_tolerates_underscore) {
  EXPECT_EQ(*smtp::parse_helo_domain("WIN_PC.corp", ascii), "win_pc.corp");
  EXPECT_FALSE(smtp::parse_domain("WIN_PC.corp", ascii));
}

TEST(smtp_address, find_path_end_skips_quotes) {
  EXPECT_EQ(smtp::find_path_end("<a@b> SIZE=1"), 5u);
  EXPECT_EQ(smtp::find_path_end("<\"a>b\"@c> X"), 9u);
  EXPECT_EQ(smtp::find_path_end("<\"a\\\">b\"@c>"), 11u);
  EXPECT_EQ(smtp::find_path_end("<a@b"), std::string_view::npos);
  EXPECT_EQ(smtp::find_path_end("a@b>"), std::string_view::npos);
  EXPECT_EQ(smtp::find_path_end(""), std::string_view::npos);
}

}  // namespace
