#pragma once
// Envelope addresses (RFC 5321 section 4.1.2, RFC 6531 for SMTPUTF8): the
// reverse-path of MAIL FROM and the forward-path of RCPT TO. Pure functions
// over one argument string; results own their strings, bounded by the
// length limits below.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kernel_io/base/result.h"

namespace smtp {

enum class address_errc {
  syntax,               // not a path / mailbox per RFC 5321
  local_part_too_long,  // over address_limits::local_part_size_max
  domain_too_long,      // over address_limits::domain_size_max, or a label over 63
  path_too_long,        // over address_limits::path_size_max
  bad_domain,           // not LDH labels (or UTF-8 labels under SMTPUTF8)
  bad_address_literal,  // not [IPv4] or [IPv6:...]; general literals are refused
  non_ascii,            // 8-bit bytes without SMTPUTF8 (reply 553 5.6.7)
  invalid_utf8,         // 8-bit bytes that are not UTF-8
};

// Address shapes that open relays and confused downstream MTAs have routed
// off-site. The parser accepts them (they are RFC-valid) and says so; the
// server refuses them for local delivery so `user%remote@local` can never be
// turned into mail to `user@remote`.
enum class relay_hazard : std::uint8_t {
  none = 0,
  percent = 1 << 0,           // "%" in the local part: user%remote@local
  bang = 1 << 1,              // "!" in the local part: remote!user@local (UUCP)
  at_in_local_part = 1 << 2,  // "@" inside a quoted local part: "user@remote"@local
  source_route = 1 << 3,      // <@local:user@remote>; the route itself is ignored
};
constexpr relay_hazard operator|(relay_hazard a, relay_hazard b) {
  return static_cast<relay_hazard>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr relay_hazard& operator|=(relay_hazard& a, relay_hazard b) { return a = a | b; }
constexpr bool has_hazard(relay_hazard set, relay_hazard which) {
  return (static_cast<std::uint8_t>(set) & static_cast<std::uint8_t>(which)) != 0;
}

struct address_limits {
  // RFC 5321 section 4.5.3.1: local part 64 octets, domain 255, path 256
  // (with the angle brackets). Measured on the wire form. Raise the local
  // part limit if long VERP/SRS senders matter more than the letter of the RFC.
  std::size_t local_part_size_max = 64;
  std::size_t domain_size_max = 255;
  std::size_t path_size_max = 256;
};

struct mailbox {
  // Decoded: quotes and quoted-pair backslashes removed, case preserved
  // (RFC 5321 section 2.4: only the receiving host may interpret it).
  std::string local_part;
  // ASCII letters lowercased; UTF-8 bytes (SMTPUTF8 only) kept as received
  // (no IDNA mapping here). An address literal keeps its brackets and is
  // written canonically: "[192.0.2.1]", "[IPv6:2001:db8::1]".
  std::string domain;
  bool domain_literal = false;

  friend bool operator==(const mailbox&, const mailbox&) = default;
};

struct path {
  mailbox address;               // empty for the null path
  bool null = false;             // "<>": MAIL FROM only (bounces)
  bool postmaster = false;       // "<postmaster>" without a domain: RCPT TO only;
                                 // address.local_part is "postmaster", domain empty
  relay_hazard hazards = relay_hazard::none;
  bool utf8 = false;             // the address has 8-bit bytes (needs SMTPUTF8 downstream)

  friend bool operator==(const path&, const path&) = default;
};

enum class path_kind { reverse, forward };

struct address_options {
  bool smtputf8 = false;  // UTF-8 allowed in the local part and domain (RFC 6531)
  address_limits limits;
};

// Parses a whole path including the angle brackets: "<>", "<postmaster>",
// "<user@example.org>", "<@relay.example:user@example.org>".
kio::result<path, address_errc> parse_path(std::string_view text, path_kind kind, const address_options& options);

// Parses "local@domain" without brackets.
kio::result<mailbox, address_errc> parse_mailbox(std::string_view text, const address_options& options);

// Parses a domain or an address literal, returning its canonical form.
kio::result<std::string, address_errc> parse_domain(std::string_view text, const address_options& options);

// A host name as sent in EHLO/HELO: like parse_domain but also accepts "_" in
// labels, which many Windows hosts send, since RFC 5321 section 4.1.4 forbids
// refusing mail over a poor EHLO name.
kio::result<std::string, address_errc> parse_helo_domain(std::string_view text, const address_options& options);

// Index just past the ">" that closes the path starting at text[0] == '<',
// skipping quoted strings, or npos if it does not close.
std::size_t find_path_end(std::string_view text);

// The relay hazards of a decoded local part.
relay_hazard local_part_hazards(std::string_view local_part);

// Writes `address` in wire form: the local part as a dot-atom when it is
// one, else as a quoted string with '"' and '\' escaped.
void format_mailbox(const mailbox& address, std::string& output);
std::string format_mailbox(const mailbox& address);
// Writes a path with its brackets ("<>", "<postmaster>", "<a@b>"). A source
// route is not written: it was ignored on input.
void format_path(const path& p, std::string& output);

}  // namespace smtp
