#pragma once
// The POP3 listeners of `ringmail serve`: [listeners.pop3] (STLS, 110-style)
// and [listeners.pop3s] (implicit TLS, 995-style), one SO_REUSEPORT socket
// per core each, sessions on the accepting core.
//
// Limits come from the listener's config (connections per core, per remote
// IP shared by the cores); over a limit the client gets one "-ERR [SYS/TEMP]"
// line and the socket is closed. Each session is configured from the core's
// config and TLS snapshots at accept time (a SIGHUP applies to new
// connections). Logins over plaintext follow auth.require_tls (and the
// account's own setting, in the authenticator).
//
// Shutdown: the stop hook closes the listeners; sessions waiting between
// commands answer "-ERR" and end without the UPDATE state. A POP3 session
// holds the commit drivers (hold_commit_drivers, smtp_listeners.h), so they
// outlive a QUIT that is removing messages in the grace period.

#include <memory>
#include <vector>

#include "appliance/pop3/pop3_services.h"
#include "appliance/smtp/smtp_listeners.h"
#include "kernel_io/net/connection_limits.h"
#include "kernel_io/ring/reactor.h"

namespace appliance {

struct pop3_listeners_shared {
  pop3_listeners_shared(pop3_shared& s, smtp_listeners_shared& l) : services(s), store_users(l), auth(s) {}
  pop3_shared& services;
  smtp_listeners_shared& store_users;
  pop3_authenticator auth;
  kio::ip_connection_table per_ip[2];  // pop3, pop3s
  struct core_slot {
    uint32_t connections[2] = {0, 0};
  };
  std::vector<core_slot> cores;
};

// On core r: binds the enabled POP3 listeners and spawns their accept
// loops. Call after start_smtp (the commit drivers). Returns false (after
// logging) when a listener cannot be bound.
bool start_pop3(kio::reactor& r, pop3_listeners_shared& shared);

}  // namespace appliance
