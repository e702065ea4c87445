#include "appliance/imap/imap_listeners.h"

#include <unistd.h>

#include <cstdio>

#include "kernel_io/net/connection.h"
#include "kernel_io/net/listener.h"
#include "protocols/imap/session/session.h"

namespace appliance {

namespace {

constexpr const char* names[2] = {"imap", "imaps"};

imap::session_config session_config_for(const config& cfg, const listener_config& lc,
                                        std::shared_ptr<const tls::server_context> tls) {
  imap::session_config sc;
  sc.hostname = cfg.server.hostname;
  sc.implicit_tls = lc.tls == tls_mode::implicit;
  if (lc.tls != tls_mode::none) sc.tls = std::move(tls);
  // Accounts may still refuse plaintext logins themselves (authenticator).
  sc.login_over_plaintext = !cfg.auth.require_tls;
  sc.limits.line_length_max = cfg.imap.line_length_max;
  sc.limits.literal_size_max = cfg.imap.literal_size_max_bytes;
  sc.limits.nesting_depth_max = cfg.imap.nesting_depth_max;
  sc.limits.sequence_ranges_max = cfg.imap.sequence_ranges_max;
  sc.limits.unauthenticated_literal_max = cfg.imap.unauthenticated_literal_max_bytes;
  sc.limits.compress_piece_bytes = cfg.imap.compress_piece_bytes;
  sc.limits.errors_max = cfg.imap.errors_max;
  sc.limits.login_timeout_ms = lc.idle_timeout_ms;
  sc.limits.idle_timeout_ms = cfg.imap.idle_timeout_ms;
  return sc;
}

// One connection, from accept to close. The session config lives in this
// frame, which outlives the session it is lent to.
kio::task<void> serve_connection(kio::reactor& r, imap_listeners_shared& shared, unsigned index, int fd,
                                 kio::socket_address peer, std::shared_ptr<const config> cfg,
                                 std::shared_ptr<const tls::server_context> tls) {
  const listener_config* lc = cfg->listener(names[index]);
  imap::session_config sc = session_config_for(*cfg, *lc, std::move(tls));
  kio::connection_options options;
  options.idle_timeout_ms = lc->idle_timeout_ms;
  smtp_shared& base = shared.services.base;
  std::string id = make_session_id(base, r.id());
  base.stats.add(r.id(), counter::connections_accepted);
  base.log.info("connection").kv("session", id).kv("listener", names[index]).kv("ip", peer.ip_string()).kv("core", r.id());
  auto& slot = *shared.cores[r.id()];
  co_await imap::run_session(std::make_unique<kio::connection>(r, fd, peer, options), sc, *slot.auth, id);
  shared.per_ip[index].release(peer);
  --slot.connections[index];
  release_commit_drivers(shared.store_users);
}

kio::task<void> accept_loop(kio::reactor& r, imap_listeners_shared& shared, unsigned index,
                            std::unique_ptr<kio::listener> owned) {
  kio::listener& l = *owned;
  r.on_stop([&l] { l.close(); });
  auto& slot = *shared.cores[r.id()];
  smtp_shared& base = shared.services.base;
  for (;;) {
    auto a = co_await l.accept();
    if (!a) break;
    std::shared_ptr<const config> cfg = base.configs.get(r.id());
    const listener_config* lc = cfg->listener(names[index]);
    bool over = r.stopping() || !lc || slot.connections[index] >= lc->connections_per_core_max ||
                !shared.per_ip[index].try_acquire(a->peer, lc->connections_per_ip_max);
    if (!over && !hold_commit_drivers(shared.store_users)) {
      shared.per_ip[index].release(a->peer);
      over = true;
    }
    if (over) {
      // Plaintext even on the TLS port: best effort, never blocking, and a
      // TLS client just sees the connection close.
      static constexpr char refusal[] = "* BYE Too many connections, try again later\r\n";
      if (lc && lc->tls != tls_mode::implicit) (void)::write(a->fd, refusal, sizeof refusal - 1);
      ::close(a->fd);
      base.stats.add(r.id(), counter::connections_refused);
      base.log.info("connection_refused")
          .kv("listener", names[index])
          .kv("ip", a->peer.ip_string())
          .kv("reason", r.stopping() ? "stopping" : "limit");
      continue;
    }
    ++slot.connections[index];
    r.spawn(serve_connection(r, shared, index, a->fd, a->peer, cfg, shared.tls->get(r.id())));
  }
}

}  // namespace

bool start_imap(kio::reactor& r, imap_listeners_shared& shared) {
  unsigned core = r.id();
  shared.cores[core]->auth = std::make_unique<imap_authenticator>(shared.services, core);
  smtp_shared& base = shared.services.base;
  std::shared_ptr<const config> cfg = base.configs.get(core);
  for (unsigned i = 0; i < 2; ++i) {
    const listener_config* lc = cfg->listener(names[i]);
    if (!lc || !lc->enabled) continue;
    auto bound = kio::listener::bind(r, lc->address);
    if (!bound) {
      base.log.error("listen").kv("listener", names[i]).kv("address", lc->address.to_string())
          .kv("error", bound.error().message());
      std::fprintf(stderr, "ringmail: core %u: cannot listen on %s for %s: %s\n", core, lc->address.to_string().c_str(),
                   names[i], bound.error().message().c_str());
      return false;
    }
    r.spawn(accept_loop(r, shared, i, std::move(*bound)));
  }
  return true;
}

}  // namespace appliance
