#pragma once
// SASL message decoding for the PLAIN (RFC 4616) and LOGIN mechanisms, shared
// by SMTP AUTH, IMAP AUTHENTICATE and POP3 AUTH. Only the decoding lives
// here; the exchange (prompts, the "=" empty response, "*" cancel) is
// handled by decode_sasl_response below and by the protocol sessions.

#include <cstddef>
#include <string>
#include <string_view>

#include "kernel_io/base/result.h"

namespace proto {

enum class sasl_errc {
  bad_base64,       // the client's response is not strict base64
  too_long,         // a field or the whole message is over its limit
  malformed,        // PLAIN: not exactly authzid NUL authcid NUL passwd
  empty_authcid,    // PLAIN/LOGIN: the user name is empty
  empty_password,   // PLAIN/LOGIN: the password is empty
  invalid_utf8,     // a field is not UTF-8 (RFC 4616 SAFE is UTF-8 minus NUL)
  nul_in_field,     // LOGIN: a NUL byte inside the user name or password
  cancelled,        // the client answered "*" (RFC 4954 section 4)
};

struct sasl_limits {
  // RFC 4616 section 2: authzid, authcid and passwd are at most 255 octets.
  std::size_t field_size_max = 255;
  // The base64 text of one client response. 3 fields of 255 plus 2 NULs
  // encode to 1024 characters; RFC 4954 lets an AUTH line be 12288 octets.
  std::size_t response_size_max = 12288;
};

struct sasl_credentials {
  std::string authzid;   // authorization identity; empty means "same as authcid"
  std::string authcid;   // authentication identity (the login name)
  std::string password;  // never logged
};

// One client response line of a SASL exchange: "*" cancels, "=" (the SMTP
// AUTH initial response) is an empty response, anything else is strict
// base64. Returns the decoded bytes.
kio::result<std::string, sasl_errc> decode_sasl_response(std::string_view line, const sasl_limits& limits = {});

// PLAIN: the already base64-decoded message.
kio::result<sasl_credentials, sasl_errc> decode_sasl_plain(std::string_view message,
                                                          const sasl_limits& limits = {});
// PLAIN: the base64 text of the client response (or "=" / "*").
kio::result<sasl_credentials, sasl_errc> decode_sasl_plain_response(std::string_view line,
                                                                   const sasl_limits& limits = {});

// LOGIN (draft-murchison-sasl-login): the server prompts with these base64
// strings ("Username:", "Password:") and each client response is one field.
inline constexpr std::string_view sasl_login_username_prompt = "VXNlcm5hbWU6";
inline constexpr std::string_view sasl_login_password_prompt = "UGFzc3dvcmQ6";

enum class sasl_login_field { username, password };
// Decodes one LOGIN response (base64 text or "*") into the field's value.
kio::result<std::string, sasl_errc> decode_sasl_login_response(std::string_view line, sasl_login_field field,
                                                               const sasl_limits& limits = {});

}  // namespace proto
