#pragma once
// `ringmail export`: one mailbox of one account written out as mbox or
// Maildir (store/port), to read delivered mail without IMAP and to move out.
//
// Offline only: the daemon holds DATA/ringmail.lock for its life and its
// cores own the store's shards, so a second process must not open the
// store beside it (recovery would truncate a tail the daemon is writing).
// Export takes the same lock the offline CLI takes and says plainly when a
// daemon runs. Export through the admin socket (the owner core reading its
// own shard) is the later, online form.

#include <cstdint>
#include <string>

#include "kernel_io/base/result.h"

namespace appliance {

struct export_request {
  std::string data_dir;
  std::string account;           // the account's address (login)
  std::string mailbox = "INBOX";
  std::string format;            // "mbox" | "maildir"
  std::string target;            // file (mbox) or directory (Maildir)
};

// The number of messages written, or a message for the operator.
kio::result<uint64_t, std::string> export_mailbox(const export_request& request);

}  // namespace appliance
