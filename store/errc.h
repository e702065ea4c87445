#pragma once
// The store's operating errors. Each is a value a caller acts on: a session
// turns no_space / log_failed into a 4xx, quota_exceeded into 452/552 (SMTP)
// or [OVERQUOTA] (IMAP), unknown_* into a protocol NO.

#include <cerrno>
#include <cstdint>

namespace store {

enum class errc : std::uint8_t {
  io_error = 1,        // an unexpected errno from the kernel
  no_space,            // ENOSPC / EDQUOT: the disk is full
  file_too_large,      // EFBIG (RLIMIT_FSIZE or a filesystem limit)
  log_failed,          // an earlier batch failed; this record was discarded with it
  corrupt,             // on-disk bytes failed a checksum where no recovery applies
  bad_segment_header,  // a segment whose header cannot be read (reported at open)
  unknown_account,
  unknown_mailbox,
  mailbox_exists,
  quota_exceeded,
  too_large,           // a blob or header prefix beyond its configured limit
  not_found,
  bad_argument,
};

const char* to_string(errc e);

inline errc errc_from_errno(int e) {
  switch (e) {
    case ENOSPC:
    case EDQUOT:
      return errc::no_space;
    case EFBIG:
      return errc::file_too_large;
    default:
      return errc::io_error;
  }
}

}  // namespace store
