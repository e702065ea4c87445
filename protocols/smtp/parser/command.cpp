#include "protocols/smtp/parser/command.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "protocols/common/utf8.h"
#include "protocols/smtp/parser/xtext.h"

namespace smtp {
namespace {

// Replies specific to command syntax; their text tells a human at a telnet
// prompt what was expected.
constexpr reply control_character{500, "5.5.2", "Syntax error: control character in command"};
constexpr reply http_request{500, "5.5.1", "This is an SMTP server, not an HTTP server"};
constexpr reply syntax_ehlo{501, "5.5.4", "Syntax: EHLO hostname"};
constexpr reply syntax_helo{501, "5.5.4", "Syntax: HELO hostname"};
constexpr reply syntax_mail{501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]"};
constexpr reply syntax_rcpt{501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]"};
constexpr reply syntax_bdat{501, "5.5.4", "Syntax: BDAT size [LAST]"};
constexpr reply syntax_auth{501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"};
constexpr reply syntax_no_arguments{501, "5.5.4", "Syntax error: this command takes no arguments"};
constexpr reply syntax_vrfy{501, "5.5.4", "Syntax: VRFY address"};
constexpr reply syntax_expn{501, "5.5.4", "Syntax: EXPN list"};
constexpr reply syntax_argument{501, "5.5.4", "Syntax error in argument"};
constexpr reply duplicate_parameter{501, "5.5.4", "Duplicate parameter"};
constexpr reply bad_parameter_syntax{501, "5.5.4", "Syntax error in parameter"};
constexpr reply bad_size{501, "5.5.4", "Bad SIZE parameter"};
constexpr reply bad_body{501, "5.5.4", "Bad or unsupported BODY parameter"};
constexpr reply bad_ret{501, "5.5.4", "Bad RET parameter"};
constexpr reply bad_envid{501, "5.5.4", "Bad ENVID parameter"};
constexpr reply bad_auth_parameter{501, "5.5.4", "Bad AUTH parameter"};
constexpr reply bad_notify{501, "5.5.4", "Bad NOTIFY parameter"};
constexpr reply bad_orcpt{501, "5.5.4", "Bad ORCPT parameter"};
constexpr reply smtputf8_value{501, "5.5.4", "SMTPUTF8 takes no value"};
constexpr reply bad_sender{501, "5.1.7", "Bad sender address syntax"};
constexpr reply bad_recipient{501, "5.1.3", "Bad recipient address syntax"};
constexpr reply non_ascii_address{553, "5.6.7", "Non-ASCII address needs SMTPUTF8"};
constexpr reply chunk_too_large{552, "5.3.4", "BDAT chunk too large"};

command_error error(const reply& r, bool close = false) { return command_error{r, close}; }

char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - ('a' - 'A')) : c; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_upper(a[i]) != to_upper(b[i])) return false;
  }
  return true;
}

bool starts_with_ignore_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equals_ignore_case(text.substr(0, prefix.size()), prefix);
}

std::string_view skip_spaces(std::string_view text) {
  const std::size_t first = text.find_first_not_of(' ');
  return first == std::string_view::npos ? std::string_view() : text.substr(first);
}

std::string_view trim_trailing_spaces(std::string_view text) {
  const std::size_t last = text.find_last_not_of(' ');
  return last == std::string_view::npos ? std::string_view() : text.substr(0, last + 1);
}

bool has_eight_bit(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

struct verb_entry {
  std::string_view name;
  verb kind;
};
constexpr std::array<verb_entry, 14> verbs{{
    {"EHLO", verb::ehlo}, {"HELO", verb::helo}, {"MAIL", verb::mail}, {"RCPT", verb::rcpt},
    {"DATA", verb::data}, {"BDAT", verb::bdat}, {"RSET", verb::rset}, {"NOOP", verb::noop},
    {"QUIT", verb::quit}, {"VRFY", verb::vrfy}, {"EXPN", verb::expn}, {"HELP", verb::help},
    {"STARTTLS", verb::starttls}, {"AUTH", verb::auth},
}};

// Requests a web client or proxy might send when pointed at port 25;
// answering them at all helps cross-protocol attacks, so the session hangs up.
constexpr std::array<std::string_view, 6> http_verbs{"GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS"};

// Splits "KEY=VALUE KEY2" into parameters, in order. A parameter's shape is
// RFC 5321 esmtp-param; the value may hold UTF-8 under SMTPUTF8 (RFC 6531).
struct parameter {
  std::string_view keyword;
  std::string_view value;
  bool has_value = false;
};

kio::result<parameter, command_error> next_parameter(std::string_view& rest, bool allow_utf8) {
  const std::size_t end = rest.find(' ');
  const std::string_view token = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : skip_spaces(rest.substr(end));
  parameter p;
  const std::size_t equals = token.find('=');
  p.keyword = token.substr(0, equals);
  if (p.keyword.empty() || !(is_alpha(p.keyword[0]) || is_digit(p.keyword[0]))) {
    return kio::fail(error(bad_parameter_syntax));
  }
  for (const char c : p.keyword) {
    if (!is_alpha(c) && !is_digit(c) && c != '-') return kio::fail(error(bad_parameter_syntax));
  }
  if (equals != std::string_view::npos) {
    p.has_value = true;
    p.value = token.substr(equals + 1);
    if (p.value.empty()) return kio::fail(error(bad_parameter_syntax));
    for (const char c : p.value) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u == '=' || (u < 0x80 && (u < 33 || u > 126))) return kio::fail(error(bad_parameter_syntax));
      if (u >= 0x80 && !allow_utf8) return kio::fail(error(bad_parameter_syntax));
    }
    if (allow_utf8 && !proto::utf8_valid(p.value)) return kio::fail(error(bad_parameter_syntax));
  }
  return p;
}

kio::result<std::uint64_t, command_error> parse_number(std::string_view digits, const reply& on_error,
                                                       bool close = false) {
  // 20 digits hold any uint64; more is refused before it can overflow.
  if (digits.empty() || digits.size() > 20) return kio::fail(error(on_error, close));
  std::uint64_t value = 0;
  for (const char c : digits) {
    if (!is_digit(c)) return kio::fail(error(on_error, close));
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return kio::fail(error(on_error, close));
    value = value * 10 + digit;
  }
  return value;
}

command_error address_error(address_errc e, path_kind kind) {
  if (e == address_errc::non_ascii) return error(non_ascii_address);
  return error(kind == path_kind::reverse ? bad_sender : bad_recipient);
}

// "FROM:" or "TO:", optional spaces (a common client habit), then the path;
// returns the parameter text after it.
kio::result<std::string_view, command_error> split_path(std::string_view arguments, std::string_view keyword,
                                                        const reply& syntax, std::string_view& path_text) {
  if (!starts_with_ignore_case(arguments, keyword)) return kio::fail(error(syntax));
  const std::string_view after = skip_spaces(arguments.substr(keyword.size()));
  const std::size_t end = find_path_end(after);
  if (end == std::string_view::npos) return kio::fail(error(syntax));
  path_text = after.substr(0, end);
  const std::string_view rest = after.substr(end);
  if (!rest.empty() && rest.front() != ' ') return kio::fail(error(syntax));
  return skip_spaces(rest);
}

kio::result<command, command_error> parse_mail(std::string_view arguments, const command_options& options) {
  std::string_view path_text;
  auto rest = split_path(arguments, "FROM:", syntax_mail, path_text);
  if (!rest) return kio::fail(rest.error());

  command c;
  c.kind = verb::mail;
  mail_parameters& m = c.mail;
  bool seen_body = false;
  std::string_view params = *rest;
  while (!params.empty()) {
    auto p = next_parameter(params, options.smtputf8);
    if (!p) return kio::fail(p.error());
    const std::string_view key = p->keyword;
    if (options.size && equals_ignore_case(key, "SIZE")) {
      if (m.size) return kio::fail(error(duplicate_parameter));
      if (!p->has_value) return kio::fail(error(bad_size));
      auto size = parse_number(p->value, bad_size);
      if (!size) return kio::fail(size.error());
      m.size = *size;
    } else if (equals_ignore_case(key, "BODY") && (options.eight_bit_mime || options.binary_mime)) {
      if (seen_body) return kio::fail(error(duplicate_parameter));
      seen_body = true;
      if (equals_ignore_case(p->value, "7BIT")) {
        m.body = body_type::seven_bit;
      } else if (options.eight_bit_mime && equals_ignore_case(p->value, "8BITMIME")) {
        m.body = body_type::eight_bit_mime;
      } else if (options.binary_mime && equals_ignore_case(p->value, "BINARYMIME")) {
        m.body = body_type::binary_mime;
      } else {
        return kio::fail(error(bad_body));
      }
    } else if (options.smtputf8 && equals_ignore_case(key, "SMTPUTF8")) {
      if (m.smtputf8) return kio::fail(error(duplicate_parameter));
      if (p->has_value) return kio::fail(error(smtputf8_value));
      m.smtputf8 = true;
    } else if (options.dsn && equals_ignore_case(key, "RET")) {
      if (m.ret != dsn_return::unspecified) return kio::fail(error(duplicate_parameter));
      if (equals_ignore_case(p->value, "FULL")) {
        m.ret = dsn_return::full;
      } else if (equals_ignore_case(p->value, "HDRS")) {
        m.ret = dsn_return::headers;
      } else {
        return kio::fail(error(bad_ret));
      }
    } else if (options.dsn && equals_ignore_case(key, "ENVID")) {
      if (m.envid) return kio::fail(error(duplicate_parameter));
      if (!p->has_value) return kio::fail(error(bad_envid));
      auto decoded = xtext_decode(p->value, envid_size_max);
      if (!decoded) return kio::fail(error(bad_envid));
      m.envid = std::move(*decoded);
    } else if (options.auth && equals_ignore_case(key, "AUTH")) {
      if (m.auth) return kio::fail(error(duplicate_parameter));
      if (!p->has_value) return kio::fail(error(bad_auth_parameter));
      auto decoded = xtext_decode(p->value, auth_parameter_size_max);
      if (!decoded) return kio::fail(error(bad_auth_parameter));
      m.auth = std::move(*decoded);
    } else {
      return kio::fail(error(replies::unknown_parameter));
    }
  }

  address_options address{options.smtputf8 && m.smtputf8, options.limits};
  auto parsed = parse_path(path_text, path_kind::reverse, address);
  if (!parsed) return kio::fail(address_error(parsed.error(), path_kind::reverse));
  c.address = std::move(*parsed);
  return c;
}

kio::result<dsn_notify, command_error> parse_notify(std::string_view value) {
  if (equals_ignore_case(value, "NEVER")) return dsn_notify::never;
  dsn_notify notify = dsn_notify::unspecified;
  while (true) {
    const std::size_t comma = value.find(',');
    const std::string_view item = value.substr(0, comma);
    if (equals_ignore_case(item, "SUCCESS")) {
      notify = notify | dsn_notify::success;
    } else if (equals_ignore_case(item, "FAILURE")) {
      notify = notify | dsn_notify::failure;
    } else if (equals_ignore_case(item, "DELAY")) {
      notify = notify | dsn_notify::delay;
    } else {
      return kio::fail(error(bad_notify));  // includes NEVER mixed with others
    }
    if (comma == std::string_view::npos) return notify;
    value = value.substr(comma + 1);
  }
}

kio::result<command, command_error> parse_rcpt(std::string_view arguments, const command_options& options) {
  std::string_view path_text;
  auto rest = split_path(arguments, "TO:", syntax_rcpt, path_text);
  if (!rest) return kio::fail(rest.error());

  command c;
  c.kind = verb::rcpt;
  rcpt_parameters& r = c.rcpt;
  const bool utf8 = options.smtputf8 && options.transaction_smtputf8;
  std::string_view params = *rest;
  while (!params.empty()) {
    auto p = next_parameter(params, utf8);
    if (!p) return kio::fail(p.error());
    if (options.dsn && equals_ignore_case(p->keyword, "NOTIFY")) {
      if (r.notify != dsn_notify::unspecified) return kio::fail(error(duplicate_parameter));
      auto notify = parse_notify(p->value);
      if (!notify) return kio::fail(notify.error());
      r.notify = *notify;
    } else if (options.dsn && equals_ignore_case(p->keyword, "ORCPT")) {
      if (r.orcpt_type) return kio::fail(error(duplicate_parameter));
      const std::size_t semicolon = p->value.find(';');
      if (semicolon == std::string_view::npos) return kio::fail(error(bad_orcpt));
      const std::string_view type = p->value.substr(0, semicolon);
      // RFC 3461 section 4.2: addr-type "rfc822" with an xtext address. The
      // RFC 6533 "utf-8" type is not offered.
      if (!equals_ignore_case(type, "rfc822")) return kio::fail(error(bad_orcpt));
      auto decoded = xtext_decode(p->value.substr(semicolon + 1), orcpt_size_max);
      if (!decoded || decoded->empty()) return kio::fail(error(bad_orcpt));
      r.orcpt_type = "rfc822";
      r.orcpt_address = std::move(*decoded);
    } else {
      return kio::fail(error(replies::unknown_parameter));
    }
  }

  address_options address{utf8, options.limits};
  auto parsed = parse_path(path_text, path_kind::forward, address);
  if (!parsed) return kio::fail(address_error(parsed.error(), path_kind::forward));
  c.address = std::move(*parsed);
  return c;
}

kio::result<command, command_error> parse_bdat(std::string_view arguments, const command_options& options) {
  // The chunk's bytes follow this line whatever we answer, so a BDAT we
  // cannot size leaves the stream unparseable: close.
  const std::size_t space = arguments.find(' ');
  auto size = parse_number(arguments.substr(0, space), syntax_bdat, true);
  if (!size) return kio::fail(size.error());
  command c;
  c.kind = verb::bdat;
  c.chunk_size = *size;
  if (space != std::string_view::npos) {
    if (!equals_ignore_case(skip_spaces(arguments.substr(space)), "LAST")) return kio::fail(error(syntax_bdat, true));
    c.last_chunk = true;
  }
  if (c.chunk_size > options.chunk_size_max) return kio::fail(error(chunk_too_large, true));
  return c;
}

kio::result<command, command_error> parse_auth(std::string_view arguments) {
  const std::size_t space = arguments.find(' ');
  const std::string_view mechanism = arguments.substr(0, space);
  if (mechanism.empty() || mechanism.size() > sasl_mechanism_size_max) return kio::fail(error(syntax_auth));
  command c;
  c.kind = verb::auth;
  for (const char ch : mechanism) {
    if (!is_alpha(ch) && !is_digit(ch) && ch != '-' && ch != '_') return kio::fail(error(syntax_auth));
    c.mechanism += to_upper(ch);
  }
  if (space != std::string_view::npos) {
    const std::string_view response = skip_spaces(arguments.substr(space));
    if (response != "=") {
      // Base64 alphabet only; strictness of the padding is the SASL
      // decoder's job, once the session knows the mechanism.
      for (const char ch : response) {
        if (!is_alpha(ch) && !is_digit(ch) && ch != '+' && ch != '/' && ch != '=') {
          return kio::fail(error(syntax_auth));
        }
      }
    }
    c.initial_response = std::string(response);
  }
  return c;
}

kio::result<command, command_error> parse_helo(verb kind, std::string_view arguments,
                                               const command_options& options) {
  const reply& syntax = kind == verb::ehlo ? syntax_ehlo : syntax_helo;
  if (arguments.empty() || arguments.find(' ') != std::string_view::npos) return kio::fail(error(syntax));
  address_options address{options.smtputf8, options.limits};
  auto domain = parse_helo_domain(arguments, address);
  if (!domain) return kio::fail(error(syntax));
  command c;
  c.kind = kind;
  c.domain = std::move(*domain);
  return c;
}

}  // namespace

std::string_view verb_name(verb v) {
  for (const auto& entry : verbs) {
    if (entry.kind == v) return entry.name;
  }
  return "NOOP";
}

kio::result<command, command_error> parse_command(std::string_view line, const command_options& options) {
  const std::size_t hard_max = std::max(options.line_size_max, options.auth_line_size_max);
  if (line.size() > hard_max) return kio::fail(error(replies::line_too_long));
  // CR, LF and NUL inside a line mean the line reader and the client
  // disagree about framing; other controls are never valid in a command.
  for (const char c : line) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 32 || u == 127) return kio::fail(error(control_character));
  }

  const std::size_t verb_end = line.find(' ');
  const std::string_view word = line.substr(0, verb_end);
  const std::string_view arguments =
      verb_end == std::string_view::npos ? std::string_view() : trim_trailing_spaces(skip_spaces(line.substr(verb_end)));

  const verb_entry* found = nullptr;
  for (const auto& entry : verbs) {
    if (equals_ignore_case(word, entry.name)) {
      found = &entry;
      break;
    }
  }
  if (found == nullptr) {
    for (const auto http : http_verbs) {
      if (word == http) return kio::fail(error(http_request, true));
    }
    if (word.empty()) return kio::fail(error(replies::syntax_error));
    return kio::fail(error(replies::unrecognized));
  }
  const verb kind = found->kind;
  if (kind != verb::auth && line.size() > options.line_size_max) return kio::fail(error(replies::line_too_long));

  // 8-bit bytes are only ever valid inside addresses and parameters under
  // SMTPUTF8, which the per-command parsers check; elsewhere they are refused.
  switch (kind) {
    case verb::ehlo:
    case verb::helo:
      return parse_helo(kind, arguments, options);
    case verb::mail:
      return parse_mail(arguments, options);
    case verb::rcpt:
      return parse_rcpt(arguments, options);
    case verb::bdat:
      return parse_bdat(arguments, options);
    case verb::auth:
      return parse_auth(arguments);
    case verb::data:
    case verb::rset:
    case verb::quit:
    case verb::starttls: {
      if (!arguments.empty()) return kio::fail(error(syntax_no_arguments));
      command c;
      c.kind = kind;
      return c;
    }
    case verb::vrfy:
    case verb::expn:
    case verb::help:
    case verb::noop: {
      if (arguments.empty() && kind == verb::vrfy) return kio::fail(error(syntax_vrfy));
      if (arguments.empty() && kind == verb::expn) return kio::fail(error(syntax_expn));
      if (has_eight_bit(arguments) && !(options.smtputf8 && proto::utf8_valid(arguments))) {
        return kio::fail(error(syntax_argument));
      }
      command c;
      c.kind = kind;
      c.argument = std::string(arguments);
      return c;
    }
  }
  return kio::fail(error(replies::unrecognized));
}

void format_command(const command& c, std::string& output) {
  output += verb_name(c.kind);
  switch (c.kind) {
    case verb::ehlo:
    case verb::helo:
      output += ' ';
      output += c.domain;
      break;
    case verb::mail: {
      output += " FROM:";
      format_path(c.address, output);
      const mail_parameters& m = c.mail;
      if (m.size) {
        output += " SIZE=";
        output += std::to_string(*m.size);
      }
      switch (m.body) {
        case body_type::unspecified: break;
        case body_type::seven_bit: output += " BODY=7BIT"; break;
        case body_type::eight_bit_mime: output += " BODY=8BITMIME"; break;
        case body_type::binary_mime: output += " BODY=BINARYMIME"; break;
      }
      if (m.smtputf8) output += " SMTPUTF8";
      if (m.ret == dsn_return::full) output += " RET=FULL";
      if (m.ret == dsn_return::headers) output += " RET=HDRS";
      if (m.envid) {
        output += " ENVID=";
        xtext_encode(*m.envid, output);
      }
      if (m.auth) {
        output += " AUTH=";
        xtext_encode(*m.auth, output);
      }
      break;
    }
    case verb::rcpt: {
      output += " TO:";
      format_path(c.address, output);
      const rcpt_parameters& r = c.rcpt;
      if (r.notify == dsn_notify::never) {
        output += " NOTIFY=NEVER";
      } else if (r.notify != dsn_notify::unspecified) {
        output += " NOTIFY=";
        const std::size_t start = output.size();
        auto item = [&](dsn_notify flag, std::string_view name) {
          if (!has_notify(r.notify, flag)) return;
          if (output.size() != start) output += ',';
          output += name;
        };
        item(dsn_notify::success, "SUCCESS");
        item(dsn_notify::failure, "FAILURE");
        item(dsn_notify::delay, "DELAY");
      }
      if (r.orcpt_address) {
        output += " ORCPT=";
        output += r.orcpt_type.value_or("rfc822");
        output += ';';
        xtext_encode(*r.orcpt_address, output);
      }
      break;
    }
    case verb::bdat:
      output += ' ';
      output += std::to_string(c.chunk_size);
      if (c.last_chunk) output += " LAST";
      break;
    case verb::auth:
      output += ' ';
      output += c.mechanism;
      if (c.initial_response) {
        output += ' ';
        output += *c.initial_response;
      }
      break;
    case verb::vrfy:
    case verb::expn:
    case verb::help:
    case verb::noop:
      if (!c.argument.empty()) {
        output += ' ';
        output += c.argument;
      }
      break;
    case verb::data:
    case verb::rset:
    case verb::quit:
    case verb::starttls:
      break;
  }
}

std::string format_command(const command& c) {
  std::string output;
  format_command(c, output);
  return output;
}

}  // namespace smtp
