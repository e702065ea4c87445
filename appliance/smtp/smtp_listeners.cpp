#include "appliance/smtp/smtp_listeners.h"

#include <unistd.h>

#include <cstdio>

#include "kernel_io/net/connection.h"
#include "kernel_io/net/listener.h"
#include "appliance/dns/ring_dns.h"
#include "protocols/dns/ares_resolver.h"
#include "protocols/smtp/session/session.h"

namespace appliance {

namespace {

struct smtp_listener_spec {
  const char* name;
  smtp::listener_kind kind;
};
constexpr smtp_listener_spec specs[3] = {
    {"smtp", smtp::listener_kind::mx},
    {"submission", smtp::listener_kind::submission},
    {"submissions", smtp::listener_kind::submissions},
};

// Once every core is stopping and no SMTP session is left anywhere, nobody
// can append to the store any more: let each core's commit driver finish.
void maybe_stop_drivers(smtp_listeners_shared& shared) {
  if (shared.cores_stopping.load() != shared.services.runtime.cores()) return;
  if (shared.sessions.load() != 0) return;
  if (shared.drivers_stopped.exchange(true)) return;
  for (unsigned i = 0; i < shared.services.runtime.cores(); ++i) {
    smtp_core_state* state = shared.services.cores[i].get();
    kio::post(shared.services.runtime.core(i), [state] {
      state->driver->stop();
      // No session is left to look anything up: the resolver can go while
      // its reactor still runs (ares_resolver.h).
      if (state->msgauth_dns) state->msgauth_dns->detach();
      state->resolver.reset();
    });
  }
}

smtp::session_config session_config_for(const config& cfg, const listener_config& lc, smtp::listener_kind kind,
                                        std::shared_ptr<const tls::server_context> tls) {
  smtp::session_config sc;
  sc.listener = kind;
  sc.hostname = cfg.server.hostname;
  sc.implicit_tls = lc.tls == tls_mode::implicit;
  if (lc.tls != tls_mode::none) sc.tls = std::move(tls);
  // Accounts may still refuse plaintext logins themselves (authenticator).
  sc.auth_over_plaintext = !cfg.auth.require_tls;
  sc.limits.message_size_max = cfg.smtp.message_size_max_advertised();
  sc.limits.recipients_max = cfg.smtp.recipients_max;
  sc.limits.line_length_max = cfg.smtp.line_length_max;
  sc.limits.errors_max = cfg.smtp.errors_max;
  sc.limits.error_delay_ms = cfg.smtp.error_delay_ms;
  sc.limits.commands_max = cfg.smtp.commands_max;
  // The session pauses only on the MX listener (clients of submission are
  // ours and talk as soon as they can).
  sc.limits.greeting_pause_ms = cfg.smtp.greeting_pause_ms;
  sc.limits.command_timeout_ms = lc.idle_timeout_ms;
  sc.limits.data_timeout_ms = cfg.smtp.data_timeout_ms;
  return sc;
}

// One connection, from accept to close. The session config lives in this
// frame, which outlives the session it is lent to.
kio::task<void> serve_connection(kio::reactor& r, smtp_listeners_shared& shared, unsigned index, int fd,
                                 kio::socket_address peer, std::shared_ptr<const config> cfg,
                                 std::shared_ptr<const tls::server_context> tls) {
  const listener_config* lc = cfg->listener(specs[index].name);
  smtp::session_config sc = session_config_for(*cfg, *lc, specs[index].kind, std::move(tls));
  kio::connection_options options;
  options.idle_timeout_ms = lc->idle_timeout_ms;
  std::string id = make_session_id(shared.services, r.id());
  shared.services.stats.add(r.id(), counter::connections_accepted);
  shared.services.log.info("connection")
      .kv("session", id)
      .kv("listener", specs[index].name)
      .kv("ip", peer.ip_string())
      .kv("core", r.id());
  auto& slot = *shared.cores[r.id()];
  co_await smtp::run_session(std::make_unique<kio::connection>(r, fd, peer, options), sc, *slot.services, id);
  shared.per_ip[index].release(peer);
  --slot.connections[index];
  if (shared.sessions.fetch_sub(1) == 1) maybe_stop_drivers(shared);
}

kio::task<void> accept_loop(kio::reactor& r, smtp_listeners_shared& shared, unsigned index,
                            std::unique_ptr<kio::listener> owned) {
  kio::listener& l = *owned;
  r.on_stop([&l] { l.close(); });
  auto& slot = *shared.cores[r.id()];
  for (;;) {
    auto a = co_await l.accept();
    if (!a) break;
    std::shared_ptr<const config> cfg = shared.services.configs.get(r.id());
    const listener_config* lc = cfg->listener(specs[index].name);
    bool over = r.stopping() || !lc || slot.connections[index] >= lc->connections_per_core_max ||
                !shared.per_ip[index].try_acquire(a->peer, lc->connections_per_ip_max);
    if (over) {
      // Best effort, never blocking: the socket is fresh, its buffer empty.
      static constexpr char refusal[] = "421 4.7.0 Too many connections, try again later\r\n";
      (void)::write(a->fd, refusal, sizeof refusal - 1);
      ::close(a->fd);
      shared.services.stats.add(r.id(), counter::connections_refused);
      shared.services.log.info("connection_refused")
          .kv("listener", specs[index].name)
          .kv("ip", a->peer.ip_string())
          .kv("reason", r.stopping() ? "stopping" : "limit");
      continue;
    }
    ++slot.connections[index];
    ++shared.sessions;
    r.spawn(serve_connection(r, shared, index, a->fd, a->peer, cfg, shared.tls->get(r.id())));
  }
}

kio::task<void> run_outbound(smtp_listeners_shared& shared) {
  co_await shared.outbound->run();
  if (shared.sessions.fetch_sub(1) == 1) maybe_stop_drivers(shared);
}

}  // namespace

bool hold_commit_drivers(smtp_listeners_shared& shared) {
  ++shared.sessions;
  if (shared.drivers_stopped.load() || shared.cores_stopping.load() != 0) {
    release_commit_drivers(shared);
    return false;
  }
  return true;
}

void release_commit_drivers(smtp_listeners_shared& shared) {
  if (shared.sessions.fetch_sub(1) == 1) maybe_stop_drivers(shared);
}

bool start_smtp(kio::reactor& r, smtp_listeners_shared& shared) {
  unsigned core = r.id();
  smtp_core_state& state = *shared.services.cores[core];
  state.driver = std::make_unique<store::commit_driver>(shared.services.store, store::core_id{core});
  r.spawn(state.driver->run());
  shared.cores[core]->services = std::make_unique<smtp_services>(shared.services, core);
  std::shared_ptr<const config> cfg = shared.services.configs.get(core);
  if (shared.services.msgauth) {
    // Message authentication's resolver: this core's, on this core's ring.
    // Created even when verify_inbound is off, so a reload can turn it on.
    auto created = create_core_resolver(cfg->dns);
    if (!created) {
      shared.services.log.error("dns").kv("core", uint64_t(core)).kv("error", created.error());
      std::fprintf(stderr, "ringmail: core %u: cannot start the DNS resolver: %s\n", core, created.error().c_str());
      return false;
    }
    state.resolver = std::move(*created);
    state.msgauth_dns = std::make_unique<ring_dns>(state.resolver.get());
  }
  r.on_stop([&shared] {
    ++shared.cores_stopping;
    maybe_stop_drivers(shared);
  });
  if (shared.outbound && core == shared.services.outbound_core) {
    ++shared.sessions;
    r.on_stop([&shared] { shared.outbound->stop(); });
    r.spawn(run_outbound(shared));
  }

  for (unsigned i = 0; i < 3; ++i) {
    const listener_config* lc = cfg->listener(specs[i].name);
    if (!lc || !lc->enabled) continue;
    auto bound = kio::listener::bind(r, lc->address);
    if (!bound) {
      shared.services.log.error("listen")
          .kv("listener", specs[i].name)
          .kv("address", lc->address.to_string())
          .kv("error", bound.error().message());
      std::fprintf(stderr, "ringmail: core %u: cannot listen on %s for %s: %s\n", core, lc->address.to_string().c_str(),
                   specs[i].name, bound.error().message().c_str());
      return false;
    }
    r.spawn(accept_loop(r, shared, i, std::move(*bound)));
  }
  return true;
}

}  // namespace appliance
