#pragma once
// Admin commands: what `ringmail domain|account|alias|quota ...` do to the
// directory. The CLI parses argv (CLI11) into an admin_request; the request
// runs where the directory's owner is — inside the daemon (sent over the
// admin socket) when one runs, in the CLI process itself when none does —
// through the same execute(), so both modes behave identically.
//
// Passwords travel in the request (over the 0600 admin socket, never argv)
// and are checked against the policy and hashed (Argon2id) by the side that
// executes, before execute() sees the request: execute() itself is
// synchronous and cheap, and only ever sees `password_hash`.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "appliance/accounts/directory.h"
#include "appliance/config/config.h"

namespace appliance {

struct admin_request {
  std::string verb;                         // "account.add", "alias.list"...
  std::map<std::string, std::string> args;  // see execute() per verb
  bool json = false;

  const std::string& arg(const std::string& key) const;
  bool has(const std::string& key) const { return args.count(key) != 0; }
};

struct admin_response {
  int exit_code = 0;   // 0 ok, 1 refused/failed
  std::string out;     // stdout: the result (JSON when asked)
  std::string err;     // stderr: why it failed
};

// The wire format of the admin socket: "key=value" lines, values
// %-escaped (%, CR, LF, NUL), ended by an empty line.
inline constexpr size_t admin_request_size_max = 64 * 1024;
inline constexpr size_t admin_response_size_max = 64 * 1024 * 1024;
std::string encode_request(const admin_request& r);
std::optional<admin_request> decode_request(std::string_view text);
std::string encode_response(const admin_response& r);
std::optional<admin_response> decode_response(std::string_view text);

// Verbs that carry a new password ("password") to check and hash first.
bool carries_new_password(const admin_request& r);
// The policy check for such a request; a response (exit 1) if refused.
std::optional<admin_response> check_new_password(const admin_request& r, const config& cfg);

// Runs a directory command against `data`; sets `changed` when the caller
// must save and publish. Unknown verbs are refused.
admin_response execute(const admin_request& r, directory_data& data, const config& cfg, bool& changed);

// Small JSON helpers shared by the command outputs.
std::string json_quote(std::string_view s);

// A response for a failure, in text or JSON as the request asked.
admin_response admin_failure(const admin_request& r, const std::string& message);

}  // namespace appliance
