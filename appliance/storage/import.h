#pragma once
// `ringmail import`: a Maildir (Dovecot/Courier flags) or an mbox file into
// one mailbox of an account (store/port: fixed memory however large the
// source, flags and internal dates kept). Offline, like export: it takes the
// data-dir lock and refuses while a daemon runs. The mailbox is created when
// missing; the account is created in the store on its first use, as its
// first delivery would. Quotas do not stop an import half way.

#include <cstdint>
#include <string>
#include <vector>

#include "appliance/config/config.h"
#include "kernel_io/base/result.h"

namespace appliance {

struct import_request {
  std::string data_dir;
  std::string account;           // the account's address (login)
  std::string mailbox = "INBOX";
  std::string format;            // "mbox" | "maildir"
  std::string source;            // file (mbox) or directory (Maildir)
};

struct import_outcome {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t skipped = 0;
  std::vector<std::string> problems;
};

kio::result<import_outcome, std::string> import_mailbox(const import_request& request, const config& cfg);

}  // namespace appliance
