#include "store/errc.h"

namespace store {
const char* to_string(errc e) {
  switch (e) {
    case errc::io_error: return "I/O error";
    case errc::no_space: return "no space left on the store's disk";
    case errc::file_too_large: return "segment file too large (EFBIG / RLIMIT_FSIZE)";
    case errc::log_failed: return "an earlier write of the same batch failed; record discarded";
    case errc::corrupt: return "corrupt on-disk data";
    case errc::bad_segment_header: return "unreadable segment header";
    case errc::unknown_account: return "unknown account";
    case errc::unknown_mailbox: return "unknown mailbox";
    case errc::mailbox_exists: return "mailbox exists";
    case errc::quota_exceeded: return "quota exceeded";
    case errc::too_large: return "too large";
    case errc::not_found: return "not found";
    case errc::bad_argument: return "bad argument";
  }
  return "unknown store error";
}
}  // namespace store
