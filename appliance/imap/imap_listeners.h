#pragma once
// The IMAP listeners of `ringmail serve`: [listeners.imap] (STARTTLS, 143 in
// production, 1143 in the embedded default) and [listeners.imaps] (implicit
// TLS, 993 / 9930), one SO_REUSEPORT socket per core each, sessions on the
// accepting core.
//
// Limits come from config: connections per core and per IP from the
// listener (over a limit: one "* BYE" line and close); the listener's
// idle_timeout_ms before login, [imap] idle_timeout_ms after it (at least
// 30 minutes, RFC 9051 5.4); line length, literal size, nesting depth and
// the BAD-command budget from [imap]; LOGIN over plaintext only when
// auth.require_tls is off (accounts may still require TLS themselves). A
// session is configured from the core's config and TLS snapshots at accept
// time, so a SIGHUP applies to new connections.
//
// Shutdown: the stop hook closes the listeners; sessions waiting between
// commands (IDLE included) say BYE themselves. Each session holds the
// commit drivers (hold_commit_drivers), so they stop after the last IMAP
// session too.

#include <memory>
#include <vector>

#include "appliance/imap/imap_services.h"
#include "appliance/smtp/smtp_listeners.h"
#include "kernel_io/net/connection_limits.h"

namespace appliance {

struct imap_listeners_shared {
  imap_listeners_shared(imap_shared& s, smtp_listeners_shared& store_sessions)
      : services(s), store_users(store_sessions) {}
  imap_shared& services;
  smtp_listeners_shared& store_users;
  const per_core_snapshot<tls::server_context>* tls = nullptr;
  kio::ip_connection_table per_ip[2];  // imap, imaps
  struct core_slot {
    std::unique_ptr<imap_authenticator> auth;
    uint32_t connections[2] = {0, 0};
  };
  std::vector<std::unique_ptr<core_slot>> cores;
};

// On core r (after start_smtp, whose commit driver the sessions use): binds
// the enabled IMAP listeners and spawns their accept loops. false (after
// logging) when one cannot be bound.
bool start_imap(kio::reactor& r, imap_listeners_shared& shared);

}  // namespace appliance
