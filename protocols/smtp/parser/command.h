#pragma once
// SMTP command lines (RFC 5321 section 4.1 and the extensions ringmail
// speaks: SIZE 1870, 8BITMIME 6152, CHUNKING/BINARYMIME 3030, DSN 3461,
// AUTH 4954, SMTPUTF8 6531). parse_command takes ONE line without its CRLF
// and returns either the parsed command or the reply to send; it never
// buffers, never does I/O, and allocates only the strings of the result
// (each bounded by the line length).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kernel_io/base/result.h"
#include "protocols/smtp/parser/address.h"
#include "protocols/smtp/parser/reply.h"

namespace smtp {

enum class verb : std::uint8_t { ehlo, helo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, expn, help, starttls, auth };

// The canonical upper-case spelling ("EHLO").
std::string_view verb_name(verb v);

enum class body_type : std::uint8_t { unspecified, seven_bit, eight_bit_mime, binary_mime };
enum class dsn_return : std::uint8_t { unspecified, full, headers };  // RET=FULL / RET=HDRS

// NOTIFY= of RFC 3461: NEVER alone, or any of SUCCESS, FAILURE, DELAY.
enum class dsn_notify : std::uint8_t { unspecified = 0, never = 1, success = 2, failure = 4, delay = 8 };
constexpr dsn_notify operator|(dsn_notify a, dsn_notify b) {
  return static_cast<dsn_notify>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr bool has_notify(dsn_notify set, dsn_notify which) {
  return (static_cast<std::uint8_t>(set) & static_cast<std::uint8_t>(which)) != 0;
}

// RFC 3461 section 4.4: ENVID is at most 100 characters; ORCPT and AUTH=
// (RFC 4954 section 5) at most 500.
inline constexpr std::size_t envid_size_max = 100;
inline constexpr std::size_t orcpt_size_max = 500;
inline constexpr std::size_t auth_parameter_size_max = 500;
// SASL mechanism names are 1 to 20 characters (RFC 4422 section 3.1).
inline constexpr std::size_t sasl_mechanism_size_max = 20;

struct mail_parameters {
  std::optional<std::uint64_t> size;   // SIZE= as declared; the session compares with its limit
  body_type body = body_type::unspecified;
  bool smtputf8 = false;
  dsn_return ret = dsn_return::unspecified;
  std::optional<std::string> envid;    // xtext-decoded
  std::optional<std::string> auth;     // xtext-decoded; "<>" means "unknown submitter"

  friend bool operator==(const mail_parameters&, const mail_parameters&) = default;
};

struct rcpt_parameters {
  dsn_notify notify = dsn_notify::unspecified;
  std::optional<std::string> orcpt_type;     // lower case; only "rfc822" is accepted
  std::optional<std::string> orcpt_address;  // xtext-decoded

  friend bool operator==(const rcpt_parameters&, const rcpt_parameters&) = default;
};

// One parsed command. Which fields are meaningful depends on `kind`; the
// others keep their defaults (a flat struct keeps the session's switch
// simple and the type cheap to move).
struct command {
  verb kind = verb::noop;
  std::string domain;              // EHLO/HELO: lower-cased host name or canonical address literal
  path address;                    // MAIL: reverse-path; RCPT: forward-path
  mail_parameters mail;            // MAIL
  rcpt_parameters rcpt;            // RCPT
  std::uint64_t chunk_size = 0;    // BDAT
  bool last_chunk = false;         // BDAT ... LAST
  std::string argument;            // VRFY/EXPN (never empty), HELP/NOOP (may be empty): as sent, trimmed
  std::string mechanism;           // AUTH: upper case
  std::optional<std::string> initial_response;  // AUTH: base64 text, or "=" for an empty one (RFC 4954)

  friend bool operator==(const command&, const command&) = default;
};

struct command_error {
  reply response;
  // The connection cannot continue after this reply: a BDAT whose size is
  // unreadable or absurd (its bytes follow and cannot be skipped safely), or
  // an HTTP request (cross-protocol attack). The session replies and closes.
  bool close_connection = false;

  friend bool operator==(const command_error&, const command_error&) = default;
};

struct command_options {
  // Longest command line without CRLF. RFC 5321 says 512 with CRLF, but lets
  // every extension add to it (DSN's ORCPT alone adds 500), so the default
  // is a round bound comfortably above the sum. The line reader must not
  // buffer more than max(line_size_max, auth_line_size_max) + 2.
  std::size_t line_size_max = 2048;
  // AUTH lines carry an initial response: RFC 4954 section 4 allows 12288.
  std::size_t auth_line_size_max = 12288;
  // BDAT sizes above this are refused and the connection is closed.
  std::uint64_t chunk_size_max = std::uint64_t{1} << 30;

  // Extensions advertised in the EHLO reply. A parameter of an extension
  // that is off is "555 5.5.4" like an unknown one.
  bool size = true;
  bool eight_bit_mime = true;
  bool binary_mime = false;   // needs CHUNKING
  bool smtputf8 = true;
  bool dsn = true;
  bool auth = false;          // AUTH= on MAIL (submission)

  // RCPT only: this transaction's MAIL FROM carried SMTPUTF8, so UTF-8
  // forward-paths are allowed.
  bool transaction_smtputf8 = false;

  address_limits limits;
};

kio::result<command, command_error> parse_command(std::string_view line, const command_options& options = {});

// Writes `c` as a command line without CRLF (the SMTP client uses it, and the
// fuzz target checks parse(format(parse(x))) == parse(x)). A source route is
// not written back: it was ignored on input.
void format_command(const command& c, std::string& output);
std::string format_command(const command& c);

}  // namespace smtp
