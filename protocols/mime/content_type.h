#pragma once
// Content-Type and Content-Disposition values (RFC 2045, RFC 2183) with
// their parameters, RFC 2231 continuations and charsets included. Tolerant:
// missing semicolons, blanks around '=', unquoted values with specials,
// duplicate parameters (the first wins) are all accepted.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mime/limits.h"

namespace mime {

struct parameter {
  std::string name;   // lowercased, without the RFC 2231 '*' markers
  std::string value;  // continuations joined; if `extended`, still "charset'lang'%XX.."
  bool extended = false;  // RFC 2231 extended value (name*= or name*0*=)

  // The value as UTF-8: RFC 2231 charset and %-escapes applied, or RFC 2047
  // encoded-words (a common non-standard form for filenames) decoded.
  std::string decoded() const;
};

struct parameter_list {
  std::vector<parameter> items;
  const parameter* find(std::string_view name) const;
  // The raw value of a parameter, or an empty view.
  std::string_view get(std::string_view name) const;
};

struct content_type {
  std::string type = "text";     // lowercased
  std::string subtype = "plain"; // lowercased
  parameter_list params;
  bool valid = false;  // false: the header was absent or unparsable; defaults apply

  bool is(std::string_view t, std::string_view s) const { return type == t && subtype == s; }
  bool is_multipart() const { return type == "multipart"; }
  bool is_message_rfc822() const { return type == "message" && subtype == "rfc822"; }
};

struct content_disposition {
  std::string type;  // lowercased ("inline", "attachment"), empty if absent
  parameter_list params;
};

// Parses a Content-Type value (unfolded or raw). When the value is
// missing or invalid the RFC 2045 §5.2 default applies: text/plain;
// charset=us-ascii, or message/rfc822 inside multipart/digest.
content_type parse_content_type(std::string_view value, bool in_digest = false, const limits& lim = {});
content_type default_content_type(bool in_digest);
content_disposition parse_content_disposition(std::string_view value, const limits& lim = {});

// Parameters after the first ';' of a structured value.
parameter_list parse_parameters(std::string_view value, const limits& lim = {});

}  // namespace mime
