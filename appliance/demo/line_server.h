#pragma once
// The runtime's demo TLS line server: what `ringmail serve` runs until the
// mail services are wired in. It exercises the whole stack a mail session
// uses — per-core SO_REUSEPORT listeners, connection limits, the session
// stream with implicit TLS and STARTTLS, line limits, idle timeouts and
// graceful shutdown — behind a tiny protocol:
//
//   S: * ringmail demo ready
//   C: STARTTLS        S: OK begin TLS      (then the handshake)
//   C: TLS?            S: TLS TLSv1.3 with cipher ...   or   TLS none
//   C: QUIT            S: BYE
//   C: anything else   S: ECHO anything else
//   (an over-long line) S: ERR line too long

#include <memory>
#include <optional>
#include <string>

#include "kernel_io/net/connection.h"
#include "kernel_io/net/connection_limits.h"
#include "kernel_io/net/socket_address.h"
#include "kernel_io/ring/reactor.h"
#include "protocols/tls/context.h"

namespace appliance::demo {

struct line_server_config {
  std::optional<kio::socket_address> plain_address;  // STARTTLS offered
  std::optional<kio::socket_address> tls_address;    // implicit TLS
  size_t line_length_max = 1000;
  uint32_t connections_per_core_max = 20000;
  uint32_t connections_per_ip_max = 20000;
  kio::connection_options connection;
};

struct line_server_shared {
  line_server_config config;
  std::shared_ptr<const tls::server_context> tls;
  kio::ip_connection_table per_ip;
};

// Runs on every core: binds that core's listeners and serves until stop.
kio::task<void> run_line_server(kio::reactor& r, line_server_shared& shared);

}  // namespace appliance::demo
