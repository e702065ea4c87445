#pragma once
// The SMTP server session (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
// SMTPUTF8, ENHANCEDSTATUSCODES, CHUNKING, DSN, STARTTLS, AUTH PLAIN/LOGIN),
// one coroutine per connection on the core that accepted it. It reads top to
// bottom: greeting, then one command at a time until QUIT or an error.
//
// Message bytes go from the receive buffer, dot-unstuffed in place by the
// data decoder, straight to the message sink (the store) and the inbound
// filter: no second copy of the message is assembled here.

#include <memory>
#include <string>

#include "kernel_io/net/connection.h"
#include "kernel_io/ring/task.h"
#include "protocols/smtp/parser/data_decoder.h"
#include "protocols/smtp/session/services.h"
#include "protocols/tls/context.h"

namespace smtp {

struct session_limits {
  uint64_t message_size_max = 100ull << 20;   // SIZE; enforced while streaming
  size_t recipients_max = 100;                 // per message
  size_t commands_max = 10000;                 // per connection
  size_t errors_max = 10;                      // protocol errors before 421
  uint64_t error_delay_ms = 1000;              // tarpit: each error beyond 3 waits this long
  size_t line_length_max = 512;                // commands (RFC 5321: 512 incl. CRLF)
  uint64_t command_timeout_ms = 300'000;       // RFC 5321 4.5.3.2: 5 minutes
  uint64_t data_timeout_ms = 180'000;          // per data block: 3 minutes
  uint64_t greeting_pause_ms = 0;              // MX: wait this long before the greeting, to catch early talkers
};

struct session_config {
  listener_kind listener = listener_kind::mx;
  std::string hostname = "localhost";
  bool implicit_tls = false;                   // port 465
  std::shared_ptr<const tls::server_context> tls;  // null: no STARTTLS
  bool auth_over_plaintext = false;            // policy: allow AUTH before TLS
  bare_line_ending_policy bare_line_endings = bare_line_ending_policy::reject;
  session_limits limits;
};

// Runs one session to its end and closes the connection.
kio::task<void> run_session(std::unique_ptr<kio::connection> conn, const session_config& config,
                            session_services& services, std::string session_id);

}  // namespace smtp
