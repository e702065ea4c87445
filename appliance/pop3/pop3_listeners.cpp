#include "appliance/pop3/pop3_listeners.h"

#include <unistd.h>

#include <cstdio>

#include "kernel_io/net/connection.h"
#include "kernel_io/net/listener.h"
#include "protocols/pop3/session/session.h"

namespace appliance {

namespace {

constexpr const char* listener_names_pop3[2] = {"pop3", "pop3s"};

pop3::session_config session_config_for(const config& cfg, const listener_config& lc,
                                        std::shared_ptr<const tls::server_context> tls) {
  pop3::session_config sc;
  sc.hostname = cfg.server.hostname;
  sc.implicit_tls = lc.tls == tls_mode::implicit;
  if (lc.tls != tls_mode::none) sc.tls = std::move(tls);
  // Accounts may still refuse plaintext logins themselves (authenticator).
  sc.login_over_plaintext = !cfg.auth.require_tls;
  sc.limits.line_length_max = cfg.pop3.line_length_max;
  sc.limits.errors_max = cfg.pop3.errors_max;
  sc.limits.login_timeout_ms = cfg.pop3.login_timeout_ms;
  sc.limits.idle_timeout_ms = lc.idle_timeout_ms;
  return sc;
}

// One connection, from accept to close. The session config lives in this
// frame, which outlives the session it is lent to.
kio::task<void> serve_connection(kio::reactor& r, pop3_listeners_shared& shared, unsigned index, int fd,
                                 kio::socket_address peer, std::shared_ptr<const config> cfg,
                                 std::shared_ptr<const tls::server_context> tls) {
  const listener_config* lc = cfg->listener(listener_names_pop3[index]);
  pop3::session_config sc = session_config_for(*cfg, *lc, std::move(tls));
  kio::connection_options options;
  options.idle_timeout_ms = lc->idle_timeout_ms;
  smtp_shared& smtp = shared.services.smtp;
  std::string id = make_session_id(smtp, r.id());
  smtp.stats.add(r.id(), counter::connections_accepted);
  smtp.log.info("connection")
      .kv("session", id)
      .kv("listener", listener_names_pop3[index])
      .kv("ip", peer.ip_string())
      .kv("core", r.id());
  co_await pop3::run_session(std::make_unique<kio::connection>(r, fd, peer, options), sc, shared.auth, id);
  shared.per_ip[index].release(peer);
  --shared.cores[r.id()].connections[index];
  release_commit_drivers(shared.store_users);
}

kio::task<void> accept_loop(kio::reactor& r, pop3_listeners_shared& shared, unsigned index,
                            std::unique_ptr<kio::listener> owned) {
  kio::listener& l = *owned;
  r.on_stop([&l] { l.close(); });
  smtp_shared& smtp = shared.services.smtp;
  for (;;) {
    auto a = co_await l.accept();
    if (!a) break;
    std::shared_ptr<const config> cfg = smtp.configs.get(r.id());
    const listener_config* lc = cfg->listener(listener_names_pop3[index]);
    auto& slot = shared.cores[r.id()];
    bool over = r.stopping() || !lc || slot.connections[index] >= lc->connections_per_core_max ||
                !shared.per_ip[index].try_acquire(a->peer, lc->connections_per_ip_max);
    // The session may remove messages (QUIT): it holds the commit drivers.
    if (!over && !hold_commit_drivers(shared.store_users)) {
      shared.per_ip[index].release(a->peer);
      over = true;
    }
    if (over) {
      // Best effort, never blocking: the socket is fresh, its buffer empty.
      // (On pop3s the client expects a handshake and sees a closed socket.)
      static constexpr char refusal[] = "-ERR [SYS/TEMP] Too many connections, try again later\r\n";
      if (index == 0) (void)::write(a->fd, refusal, sizeof refusal - 1);
      ::close(a->fd);
      smtp.stats.add(r.id(), counter::connections_refused);
      smtp.log.info("connection_refused")
          .kv("listener", listener_names_pop3[index])
          .kv("ip", a->peer.ip_string())
          .kv("reason", r.stopping() ? "stopping" : "limit");
      continue;
    }
    ++slot.connections[index];
    r.spawn(serve_connection(r, shared, index, a->fd, a->peer, cfg, shared.store_users.tls->get(r.id())));
  }
}

}  // namespace

bool start_pop3(kio::reactor& r, pop3_listeners_shared& shared) {
  unsigned core = r.id();
  smtp_shared& smtp = shared.services.smtp;
  std::shared_ptr<const config> cfg = smtp.configs.get(core);
  for (unsigned i = 0; i < 2; ++i) {
    const listener_config* lc = cfg->listener(listener_names_pop3[i]);
    if (!lc || !lc->enabled) continue;
    auto bound = kio::listener::bind(r, lc->address);
    if (!bound) {
      smtp.log.error("listen")
          .kv("listener", listener_names_pop3[i])
          .kv("address", lc->address.to_string())
          .kv("error", bound.error().message());
      std::fprintf(stderr, "ringmail: core %u: cannot listen on %s for %s: %s\n", core, lc->address.to_string().c_str(),
                   listener_names_pop3[i], bound.error().message().c_str());
      return false;
    }
    r.spawn(accept_loop(r, shared, i, std::move(*bound)));
  }
  return true;
}

}  // namespace appliance
