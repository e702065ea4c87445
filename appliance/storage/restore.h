#pragma once
// `ringmail restore`: brings an account (or one of its mailboxes) back from
// the backup directory (store.backup_directory, where the daemon copies
// every durable record), optionally as it stood at a point in time. Messages
// go into mailboxes of the same name; one already there with the same
// content and internal date is not added twice, so a restore can be
// repeated. Offline, like export and import.

#include <cstdint>
#include <optional>
#include <string>

#include "appliance/config/config.h"
#include "kernel_io/base/result.h"

namespace appliance {

struct restore_request {
  std::string data_dir;
  std::string account;
  std::string mailbox;                 // empty: every mailbox
  std::string as_of;                   // "" | ms since the epoch | "YYYY-MM-DDTHH:MM:SSZ"
  std::string backup_directory;        // empty: store.backup_directory
};

struct restore_outcome {
  uint32_t mailboxes = 0;
  uint64_t restored = 0;
  uint64_t already_present = 0;
};

// Milliseconds since the epoch from "" (nullopt), digits, or an RFC 3339
// UTC time with a Z; an error message otherwise.
kio::result<std::optional<uint64_t>, std::string> parse_point_in_time(const std::string& text);

kio::result<restore_outcome, std::string> restore_account(const restore_request& request, const config& cfg);

}  // namespace appliance
