#pragma once
// The IMAP4rev1 and IMAP4rev2 server session (RFC 3501, RFC 9051 and the
// extensions listed in protocols/imap/README.md): one coroutine per
// connection on the core that accepted it. It reads top to bottom: greeting,
// then one framed command at a time (protocols/imap/parser) until LOGOUT,
// a fatal error or a timeout.
//
// The selected mailbox is a snapshot (services.h). After each command that
// may change it, the session re-reads the snapshot and sends the
// differences as untagged EXPUNGE / FETCH / EXISTS, so changes made by this
// session and by others reach the client the same way.

#include <cstdint>
#include <memory>
#include <string>

#include "kernel_io/net/connection.h"
#include "kernel_io/ring/task.h"
#include "protocols/imap/session/services.h"
#include "protocols/tls/context.h"

namespace imap {

struct session_limits {
  std::size_t line_length_max = 64 * 1024;          // one command line (RFC 7162: at least 8192)
  std::uint64_t literal_size_max = 64ull << 20;     // APPENDLIMIT; bigger literals get NO [TOOBIG] unread
  // Before login only LOGIN/AUTHENTICATE need literals: a small cap keeps an
  // anonymous client from making us buffer megabytes.
  std::uint64_t unauthenticated_literal_max = 8 * 1024;
  std::uint32_t nesting_depth_max = 32;             // SEARCH parentheses / NOT / OR
  std::uint32_t sequence_ranges_max = 65536;        // ranges across one command's sequence sets
  // COMPRESS=DEFLATE: the largest compressed output piece and inflated input
  // piece; with zlib's own state about 300 KiB per compressed session.
  std::size_t compress_piece_bytes = 16 * 1024;
  std::size_t errors_max = 20;                      // BAD responses before BYE
  std::uint64_t login_timeout_ms = 60'000;          // idle before authentication
  std::uint64_t idle_timeout_ms = 30 * 60'000;      // after login (RFC 3501 5.4: at least 30 minutes)
};

struct session_config {
  std::string hostname = "localhost";
  bool implicit_tls = false;                        // port 993
  std::shared_ptr<const tls::server_context> tls;   // null: no STARTTLS
  bool login_over_plaintext = false;                // policy: LOGIN/AUTHENTICATE before TLS
  session_limits limits;
};

// Runs one session to its end and closes the connection.
kio::task<void> run_session(std::unique_ptr<kio::connection> conn, const session_config& config,
                            authenticator& auth, std::string session_id);

}  // namespace imap
