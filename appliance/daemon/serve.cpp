#include "appliance/daemon/serve.h"

#include <grp.h>
#include <liburing.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/sha.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "appliance/accounts/authenticator.h"
#include "appliance/accounts/directory.h"
#include "appliance/accounts/login_throttle.h"
#include "appliance/accounts/password.h"
#include "appliance/accounts/send_rate_limiter.h"
#include "appliance/admin/client.h"
#include "appliance/admin/commands.h"
#include "appliance/config/config.h"
#include "appliance/daemon/per_core.h"
#include "appliance/daemon/systemd_notify.h"
#include "appliance/demo/line_server.h"
#include "appliance/imap/imap_listeners.h"
#include "appliance/imap/junk_training.h"
#include "appliance/msgauth/dkim_keys.h"
#include "appliance/observe/log.h"
#include "appliance/observe/metrics.h"
#include "appliance/observe/runtime_metrics.h"
#include "appliance/pop3/pop3_listeners.h"
#include "appliance/outbound/outbound_queue.h"
#include "appliance/smtp/cross_core.h"
#include "appliance/smtp/smtp_listeners.h"
#include "appliance/smtp/smtp_services.h"
#include "appliance/storage/compaction_loop.h"
#include "appliance/storage/store_metrics.h"
#include "appliance/storage/mailbox_events.h"
#include "appliance/spam/quarantine.h"
#include "appliance/spam/spam_training.h"
#include "appliance/storage/store_setup.h"
#include "kernel_io/net/connection.h"
#include "kernel_io/net/listener.h"
#include "kernel_io/ring/ops.h"
#include "kernel_io/shard/cross_core.h"
#include "kernel_io/shard/runtime.h"
#include "protocols/tls/context.h"
#include "protocols/tls/self_signed.h"

namespace appliance {

namespace fs = std::filesystem;

std::string config_path_for(const std::string& data_dir, const std::string& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  fs::path p = fs::path(data_dir) / "ringmail.toml";
  std::error_code ec;
  return fs::exists(p, ec) ? p.string() : std::string();
}

namespace {

constexpr uint64_t admin_idle_timeout_ms = 10'000;
constexpr size_t demo_password_length = 20;
inline constexpr const char* demo_password_file = "demo-password";

// A coroutine mutex for the admin owner: admin commands run one at a time,
// even across their awaits (hashing, saving), so no update is lost.
class async_mutex {
 public:
  struct awaiter {
    async_mutex& m;
    bool await_ready() {
      if (m._locked) return false;
      m._locked = true;
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) { m._waiters.push_back(h); }
    void await_resume() {}
  };
  awaiter lock() { return awaiter{*this}; }
  // Hands the lock straight to the next waiter.
  void unlock() {
    if (_waiters.empty()) {
      _locked = false;
      return;
    }
    auto h = _waiters.front();
    _waiters.pop_front();
    kio::reactor::current()->schedule(h);
  }

 private:
  bool _locked = false;
  std::deque<std::coroutine_handle<>> _waiters;
};

// The certificate material a config points at, and a fingerprint of it for
// `ringmail status` (so an operator can see a reload took).
struct loaded_certificate {
  std::shared_ptr<const tls::server_context> context;
  std::string sha256;
  std::string source;
};

std::string sha256_hex(std::string_view bytes) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), digest);
  std::string out;
  char hex[3];
  for (uint8_t b : digest) {
    std::snprintf(hex, sizeof hex, "%02x", b);
    out += hex;
  }
  return out;
}

kio::result<loaded_certificate, std::string> load_certificate(const config& cfg, const std::string& data_dir,
                                                              bool allow_generate) {
  std::string cert = cfg.tls.certificate_file, key = cfg.tls.key_file;
  if (cert.empty()) {
    fs::path dir = fs::path(data_dir) / "tls";
    cert = (dir / tls::cert_file_name).string();
    key = (dir / tls::key_file_name).string();
    std::error_code ec;
    if (allow_generate && (!fs::exists(cert, ec) || !fs::exists(key, ec))) {
      fs::create_directories(dir, ec);
      if (ec) return kio::fail("cannot create " + dir.string() + ": " + ec.message());
      auto made = tls::generate_self_signed(cfg.tls.self_signed_names, int(cfg.tls.self_signed_valid_days));
      if (!made) return kio::fail("cannot generate a certificate: " + made.error().reason);
      if (auto w = tls::write_pem_files(*made, dir.string()); !w) return kio::fail(w.error().reason);
      std::printf("ringmail: generated a self-signed certificate in %s\n", dir.c_str());
    }
  }
  auto pems = tls::load_certificate_files(cert, key);
  if (!pems) return kio::fail(pems.error().reason);
  loaded_certificate out;
  out.sha256 = sha256_hex(pems->chain_pem);
  out.source = cert;
  tls::server_config tc;
  tc.certificates.push_back(std::move(*pems));
  auto context = tls::server_context::create(tc);
  if (!context) return kio::fail(context.error().reason);
  out.context = *context;
  return out;
}

std::string random_password() {
  // No look-alike characters (0/O, 1/l/I): people type it from a terminal.
  static constexpr std::string_view alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string out;
  while (out.size() < demo_password_length) {
    uint8_t byte;
    if (::getentropy(&byte, 1) != 0) continue;
    if (byte >= 256 - 256 % alphabet.size()) continue;  // no modulo bias
    out += alphabet[byte % alphabet.size()];
  }
  return out;
}

// Everything the daemon shares between its cores and the signal thread.
// Owner notes per field.
struct daemon_state {
  std::string data_dir;
  std::string config_path;
  kio::runtime* runtime = nullptr;
  logger log;
  std::unique_ptr<metrics> stats;
  std::unique_ptr<per_core_snapshot<config>> configs;                 // read: every core
  std::unique_ptr<per_core_snapshot<directory>> directories;          // read: every core
  std::unique_ptr<per_core_snapshot<tls::server_context>> tls_contexts;  // read: every core (for the mail listeners)
  std::unique_ptr<login_throttle> throttle;                           // thread-safe
  std::unique_ptr<send_rate_limiter> send_limits;                     // thread-safe
  std::unique_ptr<authenticator> auth;
  std::unique_ptr<store::message_store> store;                        // shards: one per core, each on its core
  std::unique_ptr<msgauth_shared> msgauth;                            // resolver + PSL for SPF/DKIM/DMARC
  std::unique_ptr<const dkim_signer> dkim;                            // outbound DKIM keys, loaded at start
  std::unique_ptr<smtp_shared> smtp;                                  // per-core parts, see smtp_services.h
  std::unique_ptr<smtp_listeners_shared> smtp_listeners;
  std::unique_ptr<mailbox_events> events;                             // per-core parts, see mailbox_events.h
  std::unique_ptr<training_sink> training;                            // called on owner cores; stateless
  std::unique_ptr<imap_shared> imap;
  std::unique_ptr<imap_listeners_shared> imap_listeners;
  std::unique_ptr<spam_shared> spam;                                  // token stores; per-core parts on their cores
  std::unique_ptr<pop3_shared> pop3;                                  // see pop3_services.h
  std::unique_ptr<pop3_listeners_shared> pop3_listeners;
  // Core 0 only (the admin owner):
  directory_data owner_data;
  std::shared_ptr<const config> owner_config;
  std::string certificate_sha256;
  uint64_t reloads = 0;
  async_mutex admin_lock;
  uint64_t started_ms = 0;
  // Start-up barrier: cores that have bound their listeners.
  std::atomic<unsigned> cores_bound{0};
  bool drop_to_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user;
  int admin_fd = -1;
  std::atomic<bool> failed{false};  // a core hit a fatal start-up error
};

kio::result<void, std::string> drop_privileges(const daemon_state& s) {
  if (::initgroups(s.user.c_str(), s.gid) != 0) return kio::fail(std::string("initgroups: ") + std::strerror(errno));
  if (::setgid(s.gid) != 0) return kio::fail(std::string("setgid: ") + std::strerror(errno));
  if (::setuid(s.uid) != 0) return kio::fail(std::string("setuid: ") + std::strerror(errno));
  // Paranoia that costs nothing: root must be gone for good.
  if (::setuid(0) == 0 || ::geteuid() == 0) return kio::fail("still root after setuid");
  return {};
}

std::string status_text(daemon_state& s, bool json) {
  const config& cfg = *s.owner_config;
  auto uptime_s = (monotonic_ms() - s.started_ms) / 1000;
  if (json) {
    return "{\"running\":true,\"pid\":" + std::to_string(::getpid()) + ",\"cores\":" +
           std::to_string(s.runtime->cores()) + ",\"uid\":" + std::to_string(::geteuid()) +
           ",\"config\":" + json_quote(cfg.source) + ",\"reloads\":" + std::to_string(s.reloads) +
           ",\"certificate_sha256\":" + json_quote(s.certificate_sha256) +
           ",\"domains\":" + std::to_string(s.owner_data.domains.size()) +
           ",\"accounts\":" + std::to_string(s.owner_data.accounts.size()) +
           ",\"uptime_s\":" + std::to_string(uptime_s) +
           ",\"password_length_min\":" + std::to_string(cfg.auth.password.length_min) +
           ",\"logins_ok\":" + std::to_string(s.stats->sum(counter::logins_ok)) +
           ",\"logins_failed\":" + std::to_string(s.stats->sum(counter::logins_failed)) +
           ",\"logins_blocked\":" + std::to_string(s.stats->sum(counter::logins_blocked)) + "}\n";
  }
  return "ringmail running: pid " + std::to_string(::getpid()) + ", " + std::to_string(s.runtime->cores()) +
         " cores, up " + std::to_string(uptime_s) + " s\nconfig: " + cfg.source + " (reloaded " +
         std::to_string(s.reloads) + " times)\ncertificate sha256: " + s.certificate_sha256 + "\n" +
         std::to_string(s.owner_data.domains.size()) + " domains, " + std::to_string(s.owner_data.accounts.size()) +
         " accounts\nlogins: " + std::to_string(s.stats->sum(counter::logins_ok)) + " ok, " +
         std::to_string(s.stats->sum(counter::logins_failed)) + " failed, " +
         std::to_string(s.stats->sum(counter::logins_blocked)) + " blocked\n";
}

// On the queue's core.
kio::task<admin_response> run_queue_command(outbound::outbound_queue& q, const admin_request& request) {
  admin_response r;
  std::string verb = request.verb.substr(6);
  if (verb == "list") {
    r.out = q.list(request.json);
    co_return r;
  }
  if (verb == "show") {
    r.out = q.show(request.arg("id"), request.json);
    if (r.out.empty()) r = admin_failure(request, "no queued message with id " + request.arg("id"));
    co_return r;
  }
  if (verb == "flush") {
    std::size_t due = q.flush();
    r.out = request.json ? "{\"ok\":true,\"messages\":" + std::to_string(due) + "}\n"
                         : "flush: " + std::to_string(due) + " message(s) to try now\n";
    co_return r;
  }
  std::string error = co_await q.control(verb, request.arg("id"));
  if (!error.empty()) co_return admin_failure(request, error);
  r.out = request.json ? "{\"ok\":true}\n" : verb + ": " + request.arg("id") + "\n";
  co_return r;
}

kio::task<admin_response> run_admin_command(daemon_state& s, admin_request request) {
  if (request.verb == "status") {
    admin_response r;
    r.out = status_text(s, request.json);
    co_return r;
  }
  if (request.verb == "metrics") {
    admin_response r;
    r.out = s.stats->render_prometheus();
    // The store's group-commit numbers and the runtime's receive buffers
    // live on each core: read them there.
    std::vector<store_core_metrics> cores;
    std::vector<runtime_core_metrics> runtimes;
    for (unsigned c = 0; c < s.runtime->cores(); ++c) {
      store::message_store* st = s.store.get();
      smtp_core_state* state = s.smtp->cores[c].get();
      auto read = [st, state, c] {
        return std::pair{store_core_metrics{st->commit_metrics(store::core_id{c}),
                                            state->driver ? state->driver->backup_errors() : 0},
                         read_runtime_metrics(*kio::reactor::current())};
      };
      if (c == kio::reactor::current()->id()) {
        auto m = read();
        cores.push_back(m.first);
        runtimes.push_back(m.second);
      } else {
        auto m = co_await kio::run_on(s.runtime->core(c), read);
        cores.push_back(m.first);
        runtimes.push_back(m.second);
      }
    }
    r.out += render_store_metrics(cores);
    r.out += render_runtime_metrics(runtimes);
    co_return r;
  }
  if (request.verb.rfind("queue.", 0) == 0) {
    outbound::outbound_queue* q = s.smtp->outbound;
    if (!q) co_return admin_failure(request, "outbound delivery is disabled (outbound.enabled = false)");
    admin_request* req = &request;
    auto make = [q, req]() { return run_queue_command(*q, *req); };
    admin_response r;
    if (q->core() == kio::reactor::current()->id()) {
      r = co_await run_queue_command(*q, request);
    } else {
      r = co_await remote_task<admin_response, decltype(make)>(s.runtime->core(q->core()), make);
    }
    co_return r;
  }
  if (request.verb.rfind("quarantine.", 0) == 0) {
    std::shared_ptr<const directory> dir = s.directories->get(kio::reactor::current()->id());
    admin_response r = co_await run_quarantine_command(*s.imap, *dir, request);
    co_return r;
  }
  if (request.verb == "account.unsuspend") {
    std::shared_ptr<const directory> dir = s.directories->get(kio::reactor::current()->id());
    const account* acc = dir->find_account(request.arg("address"));
    if (!acc) co_return admin_failure(request, "no account " + request.arg("address"));
    bool was = s.send_limits->lift(acc->id);
    s.log.info("admin").kv("command", request.verb).kv("address", acc->address).kv("was_suspended", was);
    admin_response r;
    r.out = request.json ? std::string("{\"was_suspended\":") + (was ? "true" : "false") + "}\n"
                         : acc->address + (was ? ": sending allowed again\n" : ": was not suspended\n");
    co_return r;
  }
  if (request.verb == "auth.test") {
    auth_request a;
    a.login = request.arg("address");
    a.password = request.arg("password");
    auto p = parse_protocol(request.arg("protocol"));
    if (!p) co_return admin_failure(request, "unknown protocol \"" + request.arg("protocol") + "\"");
    a.proto = *p;
    a.remote_ip = request.arg("remote_ip");
    a.tls = request.arg("tls") == "yes";
    auth_result res = co_await s.auth->authenticate(std::move(a));
    admin_response r;
    r.exit_code = res.status == auth_status::ok ? 0 : 1;
    if (request.json)
      r.out = "{\"status\":" + json_quote(to_string(res.status)) + ",\"message\":" + json_quote(res.message()) +
              ",\"retry_after_ms\":" + std::to_string(res.retry_after_ms) + "}\n";
    else
      r.out = std::string(to_string(res.status)) + ": " + res.message() + "\n";
    co_return r;
  }

  co_await s.admin_lock.lock();
  std::shared_ptr<const config> cfg = s.owner_config;
  if (carries_new_password(request)) {
    if (auto refused = check_new_password(request, *cfg)) {
      s.admin_lock.unlock();
      co_return *refused;
    }
    const std::string& password = request.args["password"];
    const argon2_config& params = cfg->auth.argon2;
    hash_outcome h = co_await s.runtime->workers().run([&password, &params] { return hash_password(password, params); });
    explicit_bzero(request.args["password"].data(), request.args["password"].size());
    request.args.erase("password");
    if (h.encoded.empty()) {
      s.admin_lock.unlock();
      co_return admin_failure(request, h.error);
    }
    request.args["password_hash"] = h.encoded;
  }
  directory_data next = s.owner_data;
  bool changed = false;
  admin_response response = execute(request, next, *cfg, changed);
  if (changed) {
    std::string path = (fs::path(s.data_dir) / directory_file_name).string();
    // The write and its fsyncs run on a worker: a reactor never blocks.
    auto saved = co_await s.runtime->workers().run([&next, &path] { return save_directory(next, path); });
    if (!saved) {
      response = admin_failure(request, "not saved: " + saved.error());
    } else {
      s.owner_data = next;
      s.directories->publish(*s.runtime, std::make_shared<const directory>(std::move(next)));
      auto line = s.log.info("admin");
      line.kv("command", request.verb);
      for (const auto& [k, v] : request.args)
        if (k != "password_hash") line.kv(k, v);
    }
  }
  s.admin_lock.unlock();
  co_return response;
}

// A directory update the daemon makes itself (not a CLI request), on core 0
// through the same path as admin commands: one at a time, saved, published.
kio::task<void> run_internal_command(daemon_state& s, admin_request request) {
  std::string verb = request.verb;
  admin_response response = co_await run_admin_command(s, std::move(request));
  if (response.exit_code != 0) s.log.error("internal_command").kv("command", verb).kv("error", response.err);
}

kio::task<void> serve_admin_client(kio::reactor& r, daemon_state& s, int fd) {
  // Only the daemon's own user and root may administer it (the socket is
  // 0600 already; this also covers a data dir with loose permissions).
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || (cred.uid != 0 && cred.uid != ::geteuid())) {
    s.log.warning("admin_refused").kv("uid", uint64_t(cred.uid));
    ::close(fd);
    co_return;
  }
  kio::connection_options options;
  options.idle_timeout_ms = admin_idle_timeout_ms;
  kio::connection conn(r, fd, kio::socket_address{}, options);
  std::string request_text;
  bool complete = false;
  while (!complete && request_text.size() <= admin_request_size_max) {
    auto chunk = co_await conn.read_some();
    if (!chunk) break;
    request_text.append(reinterpret_cast<const char*>(chunk->data()), chunk->size());
    conn.release();
    complete = request_text.find("\n\n") != std::string::npos || request_text.starts_with("\n");
  }
  if (complete) {
    uint64_t t0 = monotonic_ms();
    auto request = decode_request(request_text);
    explicit_bzero(request_text.data(), request_text.size());
    admin_response response;
    if (!request) {
      response.exit_code = 1;
      response.err = "ringmail: malformed admin request\n";
    } else {
      response = co_await run_admin_command(s, std::move(*request));
    }
    s.stats->add(r.id(), counter::admin_commands);
    s.stats->observe(r.id(), histogram::admin_command_ms, monotonic_ms() - t0);
    std::string wire = encode_response(response);
    (void)co_await conn.write_all(std::as_bytes(std::span(wire)));
  }
  co_await conn.close();
}

kio::task<void> admin_accept_loop(kio::reactor& r, daemon_state& s) {
  int fd = s.admin_fd;
  bool stopping = false;
  r.on_stop([&r, fd, &stopping] {
    stopping = true;
    io_uring_sqe* sqe = r.sqe();
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
    io_uring_sqe_set_data(sqe, nullptr);
  });
  while (!stopping) {
    auto accepted = co_await kio::make_op(
        [fd](io_uring_sqe* sqe) { io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC); });
    if (!accepted) {
      if (accepted.error().code == ECANCELED || stopping) break;
      if (accepted.error().code == EMFILE || accepted.error().code == ENFILE) co_await kio::sleep_for(100);
      continue;
    }
    r.spawn(serve_admin_client(r, s, int(*accepted)));
  }
}

kio::task<void> core_main(kio::reactor& r, daemon_state& s, appliance::demo::line_server_shared& demo) {
  if (r.id() == 0) {
    r.spawn(admin_accept_loop(r, s));
    r.on_stop([] { notify_systemd("STOPPING=1"); });
  }
  co_await appliance::demo::run_line_server(r, demo);
  if (!start_smtp(r, *s.smtp_listeners) || !start_imap(r, *s.imap_listeners) ||
      !start_pop3(r, *s.pop3_listeners)) {
    s.failed = true;
    s.runtime->request_stop();
    co_return;
  }
  r.spawn(run_compaction_loop(r, *s.smtp_listeners));
  // Junk training the last run acknowledged and did not apply.
  s.spam->start();
  // Listeners bind when their accept loops first run; one round trip
  // through the ring lets every task spawned above reach its first await.
  (void)co_await kio::nop();
  if (s.cores_bound.fetch_add(1) + 1 == s.runtime->cores()) {
    // Every core has bound: nothing needs root any more.
    if (s.drop_to_user) {
      if (auto dropped = drop_privileges(s); !dropped) {
        s.log.error("privileges").kv("error", dropped.error());
        std::fprintf(stderr, "ringmail: cannot drop root privileges: %s\n", dropped.error().c_str());
        s.failed = true;
        s.runtime->request_stop();
        co_return;
      }
      s.log.info("privileges").kv("user", s.user).kv("uid", uint64_t(s.uid));
    }
    notify_systemd("READY=1\nSTATUS=serving");
    s.log.info("ready").kv("cores", s.runtime->cores()).kv("config", s.owner_config->source);
  }
}

// SIGHUP, on the signal thread: everything slow (file reads, parsing,
// certificate checks) happens here, then the results travel to the cores.
void reload(daemon_state& s) {
  notify_systemd("RELOADING=1");
  auto failed = [&](const std::string& why) {
    s.stats->add(s.runtime->cores(), counter::config_reload_failures);
    s.log.error("config_reload").kv("result", "failed").kv("error", why);
    notify_systemd("READY=1");
  };
  std::string path = config_path_for(s.data_dir, s.config_path);
  std::vector<config_error> errors;
  std::optional<config> next = path.empty() ? std::optional<config>(default_config()) : load_config_file(path, errors);
  if (!next) {
    std::string why;
    for (const auto& e : errors) why += (why.empty() ? "" : "; ") + e.to_string();
    return failed("config kept: " + why);
  }
  auto cert = load_certificate(*next, s.data_dir, false);
  if (!cert) return failed("config and certificate kept: " + cert.error());
  auto shared = std::make_shared<const config>(std::move(*next));
  s.throttle->reconfigure(shared->auth.throttle);
  s.configs->publish(*s.runtime, shared);
  s.tls_contexts->publish(*s.runtime, cert->context);
  daemon_state* sp = &s;
  std::string sha = cert->sha256;
  kio::post(s.runtime->core(0), [sp, shared, sha] {
    sp->owner_config = shared;
    sp->certificate_sha256 = sha;
    ++sp->reloads;
  });
  s.stats->add(s.runtime->cores(), counter::config_reloads);
  s.log.info("config_reload").kv("result", "ok").kv("config", shared->source).kv("certificate_sha256", sha);
  notify_systemd("READY=1");
}

kio::result<int, std::string> open_admin_socket(const std::string& data_dir) {
  std::string path = (fs::path(data_dir) / admin_socket_name).string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return kio::fail("admin socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // We hold the data-dir lock, so a socket file left here is stale.
  ::unlink(path.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return kio::fail(std::string("socket: ") + std::strerror(errno));
  mode_t old = ::umask(0077);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0 || ::listen(fd, 64) != 0) {
    std::string why = "cannot listen on " + path + ": " + std::strerror(errno);
    ::close(fd);
    return kio::fail(why);
  }
  return fd;
}

// Every address this daemon is about to listen on must be free. The cores
// bind with SO_REUSEPORT, which would let this daemon join another one's
// port (same user) and quietly take half of its connections; refuse to
// start instead, naming the listener. An address in use is probed again
// for server.listen_wait_ms: after a kill -9 the dead daemon's listening
// sockets live on until the kernel has torn down its io_uring, and a
// supervisor restarting it at once must not be refused for that.
kio::result<void, std::string> check_addresses_free(const config& cfg, const serve_options& options) {
  const uint64_t give_up_ms = monotonic_ms() + cfg.server.listen_wait_ms;
  std::vector<std::pair<std::string, std::string>> wanted;  // (what, address as written)
  for (const auto& l : cfg.listeners)
    if (l.enabled) wanted.emplace_back("listeners." + l.name, l.address_text);
  wanted.emplace_back("--listen-plain (demo line server)", options.demo_plain);
  wanted.emplace_back("--listen-tls (demo line server)", options.demo_tls);
  std::vector<std::pair<std::string, std::string>> seen;  // (address, what): one process may not bind one twice either
  for (const auto& [what, text] : wanted) {
    auto address = kio::socket_address::parse(text);
    if (!address || address->port() == 0) continue;  // bad ones are reported where they are used
    for (const auto& [other, other_what] : seen)
      if (other == address->to_string()) return kio::fail(what + ": " + text + " is also " + other_what);
    seen.emplace_back(address->to_string(), what);
    auto free = kio::listener::probe(*address);
    while (!free && free.error().code == EADDRINUSE && monotonic_ms() < give_up_ms) {
      ::usleep(50'000);
      free = kio::listener::probe(*address);
    }
    if (!free)
      return kio::fail(what + ": cannot listen on " + text + ": " + free.error().message() +
                       (free.error().code == EADDRINUSE ? " (another ringmail or mail server?)" : ""));
  }
  return {};
}

// First start: the demo domain and account, its password printed once and
// kept in DATA/demo-password (0600) for the operator to find again.
kio::result<void, std::string> create_demo(daemon_state& s, const config& cfg) {
  std::string domain = cfg.server.demo_domain;
  std::string address = "demo@" + domain;
  std::string password;
  do password = random_password();
  while (check_password_policy(password, cfg.auth.password, address));
  hash_outcome h = hash_password(password, cfg.auth.argon2);
  if (h.encoded.empty()) return kio::fail(h.error);
  directory_data data;
  if (auto d = data.add_domain(domain); !d) return kio::fail(d.error());
  if (auto a = data.add_account(address, h.encoded); !a) return kio::fail(a.error());
  std::string dir_path = (fs::path(s.data_dir) / directory_file_name).string();
  std::string pw_path = (fs::path(s.data_dir) / demo_password_file).string();
  if (auto w = write_file_atomically(pw_path, password + "\n", 0600); !w) return kio::fail(w.error());
  if (auto w = save_directory(data, dir_path); !w) return kio::fail(w.error());
  s.owner_data = std::move(data);
  std::printf("ringmail: created demo account %s with password %s (also in %s)\n", address.c_str(), password.c_str(),
              pw_path.c_str());
  return {};
}

// What a person needs to set up a mail client, printed at start.
void print_client_settings(const config& cfg, const std::string& data_dir) {
  std::string login = "your address";
  std::error_code ec;
  if (cfg.server.create_demo && fs::exists(fs::path(data_dir) / demo_password_file, ec))
    login = "demo@" + cfg.server.demo_domain + " (password in " + (fs::path(data_dir) / demo_password_file).string() + ")";
  std::printf("ringmail: mail client settings: login %s; the certificate is self-signed unless tls.certificate is set\n",
              login.c_str());
  auto show = [&](const char* name, const char* role, const char* security) {
    if (const listener_config* lc = cfg.listener(name); lc && lc->enabled)
      std::printf("ringmail:   %-22s server %s port %u, %s, normal password\n", role, lc->address.ip_string().c_str(),
                  unsigned(lc->address.port()), security);
  };
  show("imaps", "incoming (IMAP)", "SSL/TLS");
  show("imap", "incoming (IMAP)", "STARTTLS");
  show("pop3s", "incoming (POP3)", "SSL/TLS");
  show("pop3", "incoming (POP3)", "STARTTLS");
  show("submissions", "outgoing (SMTP)", "SSL/TLS");
  show("submission", "outgoing (SMTP)", "STARTTLS");
}

void chown_to(const std::string& path, uid_t uid, gid_t gid) {
  if (::lchown(path.c_str(), uid, gid) != 0 && errno != ENOENT)
    std::fprintf(stderr, "ringmail: cannot chown %s: %s\n", path.c_str(), std::strerror(errno));
}

}  // namespace

int serve(const serve_options& options) {
  daemon_state s;
  s.data_dir = options.data_dir;
  s.config_path = options.config_path;
  s.started_ms = monotonic_ms();
  auto fatal = [](const std::string& why) {
    std::fprintf(stderr, "ringmail: %s\n", why.c_str());
    return 1;
  };

  std::error_code ec;
  fs::create_directories(s.data_dir, ec);
  if (ec) return fatal("cannot create data directory " + s.data_dir + ": " + ec.message());
  std::string lock_error;
  int lock_fd = lock_data_dir(s.data_dir, lock_error);
  if (lock_fd < 0) return fatal(lock_error + " (is a daemon already running on this data directory?)");

  std::string path = config_path_for(s.data_dir, s.config_path);
  std::vector<config_error> errors;
  std::optional<config> loaded = path.empty() ? std::optional<config>(default_config()) : load_config_file(path, errors);
  if (!loaded) {
    for (const auto& e : errors) std::fprintf(stderr, "ringmail: %s\n", e.to_string().c_str());
    return fatal("not started: fix the config (ringmail check-config explains every error)");
  }
  auto cfg = std::make_shared<const config>(std::move(*loaded));
  if (auto free = check_addresses_free(*cfg, options); !free) return fatal("not started: " + free.error());

  if (::geteuid() == 0) {
    // Root only to bind ports below 1024; then the configured user.
    if (cfg->server.user.empty() || cfg->server.user == "root")
      return fatal("refusing to run as root: set server.user to an unprivileged user (root is only used to bind ports)");
    passwd* pw = ::getpwnam(cfg->server.user.c_str());
    if (!pw) return fatal("server.user \"" + cfg->server.user + "\" does not exist");
    if (pw->pw_uid == 0) return fatal("server.user \"" + cfg->server.user + "\" is root; refusing to run as root");
    s.drop_to_user = true;
    s.uid = pw->pw_uid;
    s.gid = pw->pw_gid;
    s.user = cfg->server.user;
    // The daemon keeps using these after it drops root.
    chown_to(s.data_dir, s.uid, s.gid);
    chown_to((fs::path(s.data_dir) / lock_file_name).string(), s.uid, s.gid);
  }

  auto cert = load_certificate(*cfg, s.data_dir, true);
  if (!cert) return fatal(cert.error());
  s.certificate_sha256 = cert->sha256;

  std::string dir_path = (fs::path(s.data_dir) / directory_file_name).string();
  bool first_start = !fs::exists(dir_path, ec);
  if (first_start && cfg->server.create_demo) {
    if (auto made = create_demo(s, *cfg); !made) return fatal("cannot create the demo account: " + made.error());
  } else {
    auto data = load_directory(dir_path);
    if (!data) return fatal(data.error());
    s.owner_data = std::move(*data);
  }
  if (s.drop_to_user) {
    fs::path tls_dir = fs::path(s.data_dir) / "tls";
    if (cfg->tls.certificate_file.empty()) {
      chown_to(tls_dir.string(), s.uid, s.gid);
      chown_to((tls_dir / tls::cert_file_name).string(), s.uid, s.gid);
      chown_to((tls_dir / tls::key_file_name).string(), s.uid, s.gid);
    }
    chown_to(dir_path, s.uid, s.gid);
    chown_to((fs::path(s.data_dir) / demo_password_file).string(), s.uid, s.gid);
  }

  auto admin_fd = open_admin_socket(s.data_dir);
  if (!admin_fd) return fatal(admin_fd.error());
  s.admin_fd = *admin_fd;
  if (s.drop_to_user) chown_to((fs::path(s.data_dir) / admin_socket_name).string(), s.uid, s.gid);

  appliance::demo::line_server_shared demo;
  demo.tls = cert->context;
  demo.config.plain_address = kio::socket_address::parse(options.demo_plain);
  demo.config.tls_address = kio::socket_address::parse(options.demo_tls);
  if (!demo.config.plain_address || !demo.config.tls_address)
    return fatal("bad demo listen address (want HOST:PORT or [V6]:PORT)");
  demo.config.line_length_max = options.line_length_max;
  demo.config.connection.idle_timeout_ms = options.idle_timeout_ms;

  kio::runtime_config rc;
  rc.cores = options.cores ? options.cores : cfg->server.cores;
  rc.worker_threads = cfg->server.worker_threads;
  rc.reactor.recv_buffer_count = cfg->server.receive_buffers;
  rc.reactor.recv_buffer_size_bytes = cfg->server.receive_buffer_bytes;
  rc.reactor.recv_buffer_window_min = cfg->server.receive_buffers_window_min;
  rc.shutdown_grace_ms = options.shutdown_grace_ms >= 0 ? uint64_t(options.shutdown_grace_ms) : cfg->server.shutdown_grace_ms;
  // Block the signals the runtime waits for before it exists: its
  // constructor starts the worker threads, and a worker with SIGTERM
  // unblocked would take a SIGTERM that arrives while the main thread is
  // between sigtimedwait calls (e.g. during a reload) and die of it.
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  kio::runtime rt(rc);
  s.runtime = &rt;
  s.owner_config = cfg;
  s.stats = std::make_unique<metrics>(rt.cores());
  s.configs = std::make_unique<per_core_snapshot<config>>(rt.cores(), cfg);
  s.directories = std::make_unique<per_core_snapshot<directory>>(rt.cores(), std::make_shared<const directory>(s.owner_data));
  s.tls_contexts = std::make_unique<per_core_snapshot<tls::server_context>>(rt.cores(), cert->context);
  s.throttle = std::make_unique<login_throttle>(cfg->auth.throttle);
  s.send_limits = std::make_unique<send_rate_limiter>();
  s.auth = std::make_unique<authenticator>(*s.directories, *s.configs, *s.throttle, rt.workers(), s.log, *s.stats);

  // The store: recovery runs here, before any core serves, with blocking
  // I/O (nothing else runs yet). What it found is printed and logged.
  store_setup_options store_options;
  store_options.backup_directory = cfg->store.backup_directory;
  store_options.segment_size_max_bytes = cfg->store.segment_size_max_bytes;
  auto opened = open_store(
      s.data_dir, rt.cores(),
      [&s](const std::string& line) {
        std::printf("ringmail: store recovery: %s\n", line.c_str());
        s.log.warning("store_recovery").kv("detail", line);
      },
      store_options);
  if (!opened) return fatal(opened.error());
  s.store = std::move(*opened);
  if (s.drop_to_user) {
    std::error_code walk_error;
    // The store and its backup are written after the drop to server.user.
    for (const std::string& dir : {store_directory(s.data_dir), cfg->store.backup_directory}) {
      if (dir.empty()) continue;
      chown_to(dir, s.uid, s.gid);
      for (const auto& entry : fs::recursive_directory_iterator(dir, walk_error))
        chown_to(entry.path().string(), s.uid, s.gid);
    }
  }
  std::string recovered = recovery_summary(s.store->recovery());
  std::printf("ringmail: store %s: %s\n", store_directory(s.data_dir).c_str(), recovered.c_str());
  s.log.info("store_open").kv("directory", store_directory(s.data_dir)).kv("recovery", recovered);
  s.smtp = std::make_unique<smtp_shared>(rt, *s.store, *s.directories, *s.configs, *s.auth, *s.send_limits, s.log,
                                         *s.stats);
  daemon_state* state = &s;
  s.smtp->set_quota_warning_flag = [state](const std::string& address, bool sent) {
    admin_request request;
    request.verb = "account.quota_warning_flag";
    request.args["address"] = address;
    request.args["sent"] = sent ? "yes" : "no";
    kio::post(state->runtime->core(0), [state, request] {
      kio::reactor::current()->spawn(run_internal_command(*state, request));
    });
  };
  s.spam = std::make_unique<spam_shared>(rt, *s.store, *s.configs, s.log);
  s.spam->load(*cfg);
  s.smtp->spam = s.spam.get();
  s.smtp->started_ms = uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
  {
    std::string warning;
    auto suffixes = load_public_suffix_list(cfg->msgauth.public_suffix_list, warning);
    if (!warning.empty() && cfg->msgauth.verify_inbound) {
      std::printf("ringmail: warning: %s\n", warning.c_str());
      s.log.warning("public_suffix_list").kv("problem", warning);
    }
    s.msgauth = std::make_unique<msgauth_shared>(std::move(suffixes));
    s.smtp->msgauth = s.msgauth.get();
  }
  s.smtp_listeners = std::make_unique<smtp_listeners_shared>(*s.smtp);
  s.smtp_listeners->tls = s.tls_contexts.get();
  for (unsigned i = 0; i < rt.cores(); ++i)
    s.smtp_listeners->cores.push_back(std::make_unique<smtp_listeners_shared::core_slot>());
  s.events = std::make_unique<mailbox_events>(rt, *s.store);
  s.smtp->events = s.events.get();
  s.training = std::make_unique<spam_training_sink>(*s.spam, s.log);
  s.imap = std::make_unique<imap_shared>(*s.smtp, *s.events);
  s.imap->training = s.training.get();
  s.imap_listeners = std::make_unique<imap_listeners_shared>(*s.imap, *s.smtp_listeners);
  s.imap_listeners->tls = s.tls_contexts.get();
  for (unsigned i = 0; i < rt.cores(); ++i)
    s.imap_listeners->cores.push_back(std::make_unique<imap_listeners_shared::core_slot>());
  s.spam->attach(*s.smtp, *s.smtp_listeners);
  s.pop3 = std::make_unique<pop3_shared>(*s.smtp);
  s.pop3_listeners = std::make_unique<pop3_listeners_shared>(*s.pop3, *s.smtp_listeners);
  s.pop3_listeners->cores.resize(rt.cores());
  if (cfg->outbound.enabled) {
    // The queue lives on the owner core of its store account; it is created
    // here, before any core runs, so every session sees it.
    unsigned queue_core = s.store->owner_of(store::account_id{outbound::queue_account_id}).get();
    s.smtp_listeners->outbound = std::make_unique<outbound::outbound_queue>(*s.smtp, queue_core);
    s.smtp->outbound = s.smtp_listeners->outbound.get();
    s.smtp->outbound_core = queue_core;
    s.dkim = std::make_unique<const dkim_signer>(dkim_signer::load_all(s.data_dir));
    s.smtp->dkim = s.dkim.get();
    if (s.dkim->size() > 0)
      std::printf("ringmail: outbound mail is DKIM-signed for %zu domain(s)\n", s.dkim->size());
  }

  std::printf("ringmail: data in %s, config %s, %u cores\n", s.data_dir.c_str(), cfg->source.c_str(), rt.cores());
  if (!cfg->store.backup_directory.empty())
    std::printf("ringmail: every durable record is copied to %s\n", cfg->store.backup_directory.c_str());
  std::printf("ringmail: demo line server on %s (STARTTLS) and %s (TLS)\n", options.demo_plain.c_str(),
              options.demo_tls.c_str());
  std::printf("ringmail: admin socket %s/%s\n", s.data_dir.c_str(), admin_socket_name);
  for (const char* name : {"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"})
    if (const listener_config* lc = cfg->listener(name); lc && lc->enabled)
      std::printf("ringmail: %s on %s (%s)\n", name, lc->address.to_string().c_str(), std::string(to_string(lc->tls)).c_str());
  print_client_settings(*cfg, s.data_dir);
  std::fflush(stdout);
  int code = rt.run([&s, &demo](kio::reactor& r) { return core_main(r, s, demo); }, [&s] { reload(s); });
  // Every session and commit driver has ended: drop the drivers before the
  // store, then leave a checkpoint so the next start replays little.
  s.pop3_listeners.reset();
  s.pop3.reset();
  s.imap_listeners.reset();
  s.imap.reset();
  s.smtp_listeners.reset();
  s.smtp.reset();
  s.events.reset();
  s.spam.reset();
  if (code == 0 && !s.failed) {
    if (auto cp = s.store->checkpoint(); !cp) s.log.error("store_checkpoint").kv("error", store::to_string(cp.error()));
  }
  s.store.reset();
  ::close(s.admin_fd);
  ::unlink((fs::path(s.data_dir) / admin_socket_name).c_str());
  ::close(lock_fd);
  if (s.failed) return 1;
  if (code != 0) {
    if (!rt.start_error().empty()) std::fprintf(stderr, "ringmail: %s\n", rt.start_error().c_str());
    return code;
  }
  std::printf("ringmail: stopped\n");
  return 0;
}

}  // namespace appliance
