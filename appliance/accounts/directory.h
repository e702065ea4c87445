#pragma once
// The directory: domains, alias domains, accounts, aliases (with catch-all),
// quotas, per-account settings and password hashes. It is small (kilobytes
// per thousand accounts), so it lives in one file, DATA/directory.toml,
// loaded whole at start.
//
// Two types:
//  - directory_data: plain values and the mutations the admin commands make.
//    Only the directory's owner (the admin coroutine on core 0 in the daemon,
//    or the CLI when no daemon runs) mutates one, on a private copy.
//  - directory: an immutable snapshot built from a directory_data, with the
//    lookups sessions need. Shared across cores as shared_ptr<const
//    directory>; never changes, so reading it needs no lock. A change makes a
//    new snapshot that is handed to every core by message.
//
// Addresses are compared in lower case (local part included: every mail
// system people use treats them so, and two accounts differing only in case
// would be a trap). A recipient "user+tag@domain" that matches nothing is
// retried as "user@domain" (subaddressing, RFC 5233 style, delimiter '+').

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "appliance/accounts/protocols.h"
#include "kernel_io/base/result.h"
#include "kernel_io/base/strong_type.h"

namespace appliance {

// Stable for the account's life and never reused, so mailboxes in the store
// can be keyed by it even if an address is removed and added again.
using account_id = kio::named_type<uint64_t, struct account_id_tag>;

struct account {
  account_id id;
  std::string address;                 // canonical, lower case: the login
  std::string password_hash;           // Argon2id PHC string
  protocol_set protocols = protocol_set::all();
  std::optional<bool> require_tls;     // unset: the config's auth.require_tls
  uint64_t quota_bytes = 0;            // 0 = unlimited
  uint64_t quota_messages = 0;         // 0 = unlimited
  uint32_t send_messages_per_hour = 0;    // 0 = the config's limits default
  uint32_t send_recipients_per_hour = 0;  // 0 = the config's limits default
  bool disabled = false;               // no login; mail is still accepted
  bool quota_warning_sent = false;     // reset when usage drops below the threshold
};

// Bounds on what input can grow.
inline constexpr size_t address_length_max = 254;      // RFC 5321 path limit minus <>
inline constexpr size_t local_part_length_max = 64;
inline constexpr size_t domain_length_max = 253;
inline constexpr size_t alias_targets_max = 1000;
inline constexpr unsigned alias_depth_max = 8;         // alias -> alias -> ... chains
inline constexpr size_t directory_file_size_max = 64 * 1024 * 1024;

// The plain data and its mutations. Every mutation validates its input and
// either changes nothing and returns a message, or succeeds.
struct directory_data {
  uint64_t next_account_id = 1;
  std::map<std::string, bool> domains;                     // local domains (value unused, reserved)
  std::map<std::string, std::string> alias_domains;        // alias domain -> local domain
  std::map<std::string, account> accounts;                 // address -> account
  std::map<std::string, std::vector<std::string>> aliases; // "a@d" or "@d" (catch-all) -> local targets

  using outcome = kio::result<void, std::string>;
  outcome add_domain(std::string_view name);
  // Refuses while accounts, aliases or alias domains still use it.
  outcome remove_domain(std::string_view name);
  outcome add_alias_domain(std::string_view alias, std::string_view target);
  outcome remove_alias_domain(std::string_view alias);
  kio::result<account_id, std::string> add_account(std::string_view address, std::string password_hash);
  // Also takes the account out of every alias; aliases left empty go.
  outcome remove_account(std::string_view address);
  outcome set_password(std::string_view address, std::string password_hash);
  account* find(std::string_view address);
  // `source` is "name@domain" or "@domain" (catch-all for the domain).
  // Adding to an existing alias adds targets. Targets must resolve locally.
  outcome add_alias(std::string_view source, const std::vector<std::string>& targets);
  // Without a target removes the whole alias.
  outcome remove_alias(std::string_view source, std::string_view target = {});
};

enum class resolve_status {
  local,             // accounts holds one or more mailboxes
  unknown_user,      // the domain is ours but nobody has that address
  not_local_domain,  // relay decision belongs to the caller
  invalid_address,
  alias_loop,        // an alias chain deeper than alias_depth_max
};
std::string_view to_string(resolve_status s);

struct resolution {
  resolve_status status = resolve_status::invalid_address;
  std::vector<account_id> accounts;  // distinct, in alias order
};

class directory {
 public:
  explicit directory(directory_data data);

  const directory_data& data() const { return _data; }

  // Domain in any case; true for local and alias domains.
  bool is_local_domain(std::string_view domain) const;
  // The local domain an alias domain points at, or the domain itself if it
  // is local; nullopt if neither.
  std::optional<std::string> canonical_domain(std::string_view domain) const;

  // The account whose login is `address` (any case). Logins are canonical
  // addresses: an alias-domain address is not a login.
  const account* find_account(std::string_view address) const;
  const account* find_account(account_id id) const;

  // Where mail for `address` goes: the account itself, else an alias (alias
  // targets are resolved recursively), else the subaddress base, else the
  // domain's catch-all. Alias domains are mapped to their target first.
  resolution resolve_recipient(std::string_view address) const;

  size_t account_count() const { return _data.accounts.size(); }

 private:
  void resolve_into(const std::string& address, unsigned depth, resolution& out) const;
  directory_data _data;
  std::unordered_map<uint64_t, const account*> _by_id;
};

// Lower-cases and validates an address ("Local@Example.TEST" ->
// "local@example.test"); nullopt if it is not a plain dot-atom address.
std::optional<std::string> normalize_address(std::string_view address);
std::optional<std::string> normalize_domain(std::string_view domain);

// The file: DATA/directory.toml. load() of a missing file is an empty
// directory; save() writes a temporary file, fsyncs it, renames it over the
// old one and fsyncs the directory, so a crash leaves the old or the new
// file, never a torn one. When run as root (the CLI on a daemon's data
// dir), the file is given the data directory's owner so the daemon, running
// as its own user, can read it.
inline constexpr const char* directory_file_name = "directory.toml";
kio::result<directory_data, std::string> load_directory(const std::string& path);
kio::result<directory_data, std::string> parse_directory(std::string_view text, std::string_view file_name);
std::string serialize_directory(const directory_data& data);
kio::result<void, std::string> save_directory(const directory_data& data, const std::string& path);

// Writes `bytes` to `path` atomically (temp, fsync, rename, fsync dir), with
// `mode`; the owner follows the parent directory's when run as root.
kio::result<void, std::string> write_file_atomically(const std::string& path, std::string_view bytes, unsigned mode);

}  // namespace appliance
