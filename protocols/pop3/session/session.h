#pragma once
// The POP3 server session (RFC 1939 with TOP and UIDL, CAPA RFC 2449 with
// RESP-CODES, AUTH-RESP-CODE and PIPELINING, STLS RFC 2595, AUTH PLAIN RFC
// 5034 with the initial response): one coroutine per connection on the core
// that accepted it. It reads top to bottom: greeting, the AUTHORIZATION
// state until a login succeeds, the TRANSACTION state over a snapshot of the
// Inbox, and on QUIT the UPDATE state, which removes the messages marked
// with DELE and answers +OK only once that is durable. A connection that
// ends any other way removes nothing (RFC 1939 section 6).

#include <cstdint>
#include <memory>
#include <string>

#include "kernel_io/net/connection.h"
#include "kernel_io/ring/task.h"
#include "protocols/pop3/session/services.h"
#include "protocols/tls/context.h"

namespace pop3 {

struct session_limits {
  // RFC 2449 section 4: 255 octets including CRLF is the minimum a server
  // must accept; longer lines get -ERR and the session goes on.
  std::size_t line_length_max = 512;
  // One AUTH continuation line (base64 SASL response, CRLF included).
  std::size_t sasl_line_length_max = 16384;
  std::size_t errors_max = 20;                  // -ERR for bad commands before the session is closed
  std::uint64_t login_timeout_ms = 60'000;      // idle in the AUTHORIZATION state
  std::uint64_t idle_timeout_ms = 600'000;      // RFC 1939 section 3: at least 10 minutes
};

struct session_config {
  std::string hostname = "localhost";
  bool implicit_tls = false;                        // port 995
  std::shared_ptr<const tls::server_context> tls;   // null: no STLS
  bool login_over_plaintext = false;                // policy: USER/PASS and AUTH before TLS
  session_limits limits;
};

// The unique-id listing of RFC 1939 section 7 for a message: 16 hex digits,
// uid_validity then uid, so it is stable for as long as the store keeps the
// message and never reused (UIDs are never reused within a uid_validity).
std::string unique_id(std::uint32_t uid_validity, std::uint32_t uid);

// Runs one session to its end and closes the connection.
kio::task<void> run_session(std::unique_ptr<kio::connection> conn, const session_config& config,
                            authenticator& auth, std::string session_id);

}  // namespace pop3
