#pragma once
// The SMTP listeners of `ringmail serve`: [listeners.smtp] (MX),
// [listeners.submission] (STARTTLS) and [listeners.submissions] (implicit
// TLS), one SO_REUSEPORT socket per core each, sessions on the accepting core.
//
// Limits come from the listener's config: connections per core (counted per
// listener on that core) and per remote IP (shared by the cores, see
// kio::ip_connection_table); over a limit the client gets one 421 line and
// the socket is closed. Each session is configured from the core's config
// and TLS snapshots at accept time, so a SIGHUP reload applies to new
// connections while open ones keep theirs.
//
// Shutdown: the stop hook closes the listeners; sessions waiting between
// commands get 421 from the session itself. The store's commit drivers stop
// only after the last SMTP session of every core has ended, because a
// session finishing its DATA during the grace period still needs a group
// commit on its recipients' owner cores.

#include <atomic>
#include <memory>
#include <vector>

#include "appliance/outbound/outbound_queue.h"
#include "appliance/smtp/smtp_services.h"
#include "kernel_io/net/connection_limits.h"
#include "kernel_io/ring/reactor.h"
#include "protocols/tls/context.h"

namespace appliance {

struct smtp_listeners_shared {
  explicit smtp_listeners_shared(smtp_shared& s) : services(s) {}
  smtp_shared& services;
  const per_core_snapshot<tls::server_context>* tls = nullptr;
  // One per-IP table per listener name (index into listener_names order).
  kio::ip_connection_table per_ip[3];
  std::atomic<int64_t> sessions{0};        // open SMTP sessions, all cores
  std::atomic<unsigned> cores_stopping{0}; // cores whose stop hook ran
  std::atomic<bool> drivers_stopped{false};
  // Per core: that core's smtp_services and per-listener connection counts.
  struct core_slot {
    std::unique_ptr<smtp_services> services;
    uint32_t connections[3] = {0, 0, 0};
  };
  std::vector<std::unique_ptr<core_slot>> cores;
  // Runs on smtp.outbound_core; counted in `sessions` while it runs, since
  // it appends to the store too.
  std::unique_ptr<outbound::outbound_queue> outbound;
};

// On core r: creates and starts this core's commit driver, binds the enabled
// SMTP listeners and spawns their accept loops. Returns false (after
// logging) when a listener cannot be bound.
bool start_smtp(kio::reactor& r, smtp_listeners_shared& shared);

// Other work that needs the commit drivers (compaction, IMAP sessions)
// holds them like a session: the drivers stop only after every holder has released them.
// hold_commit_drivers() is false once they are stopping (do not start).
bool hold_commit_drivers(smtp_listeners_shared& shared);
void release_commit_drivers(smtp_listeners_shared& shared);

}  // namespace appliance
