#include "appliance/accounts/authenticator.h"

#include <string.h>

#include "appliance/accounts/password.h"
#include "kernel_io/ring/ops.h"

namespace appliance {

std::string_view to_string(auth_status s) {
  switch (s) {
    case auth_status::ok: return "ok";
    case auth_status::bad_credentials: return "bad_credentials";
    case auth_status::blocked: return "blocked";
    case auth_status::tls_required: return "tls_required";
    case auth_status::protocol_not_allowed: return "protocol_not_allowed";
    case auth_status::disabled: return "disabled";
  }
  return "?";
}

std::string auth_result::message() const {
  switch (status) {
    case auth_status::ok: return "Logged in";
    case auth_status::bad_credentials: return "Authentication failed: wrong address or password";
    case auth_status::blocked:
      return "Too many failed logins: try again in " + std::to_string((retry_after_ms + 59'999) / 60'000) + " minute(s)";
    case auth_status::tls_required: return "Login over an unencrypted connection is not allowed: use TLS (STARTTLS or the TLS port)";
    case auth_status::protocol_not_allowed: return "This account may not log in with this protocol";
    case auth_status::disabled: return "This account is disabled";
  }
  return "Authentication failed";
}

bool tls_required_for(const account* acc, const auth_section& auth) {
  if (acc && acc->require_tls) return *acc->require_tls;
  return auth.require_tls;
}

auth_status decide_login(const account* acc, bool password_ok, const auth_request& request, const auth_section& auth) {
  if (!request.tls && tls_required_for(acc, auth)) return auth_status::tls_required;
  if (!acc || !password_ok) return auth_status::bad_credentials;
  if (acc->disabled) return auth_status::disabled;
  if (!acc->protocols.has(request.proto)) return auth_status::protocol_not_allowed;
  return auth_status::ok;
}

authenticator::authenticator(const per_core_snapshot<directory>& directory, const per_core_snapshot<config>& config,
                             login_throttle& throttle, kio::worker_pool& workers, const logger& log, metrics& stats)
    : _directory(directory), _config(config), _throttle(throttle), _workers(workers), _log(log), _metrics(stats) {
  // Hashed once at start with the configured parameters (off the reactors:
  // the authenticator is built before the runtime runs).
  _dummy_hash = hash_password("ringmail dummy password for unknown logins", config.get(0)->auth.argon2).encoded;
}

kio::task<auth_result> authenticator::authenticate(auth_request request) {
  const unsigned core = kio::reactor::current()->id();
  const uint64_t started_ms = monotonic_ms();
  // Hold this core's snapshots for the whole login: a publish during the
  // hash must not change the account under our feet.
  std::shared_ptr<const directory> dir = _directory.get(core);
  std::shared_ptr<const config> cfg = _config.get(core);
  std::string login = normalize_address(request.login).value_or(request.login.substr(0, address_length_max));
  for (char& c : login) c = char(std::tolower(static_cast<unsigned char>(c)));
  const char* proto = to_string(request.proto).data();

  auth_result result;
  auto finish = [&](auth_status s) {
    result.status = s;
    explicit_bzero(request.password.data(), request.password.size());
    _metrics.observe(core, histogram::auth_duration_ms, monotonic_ms() - started_ms);
  };

  auto verdict = _throttle.check(login, request.remote_ip, started_ms);
  if (!verdict.allowed) {
    result.retry_after_ms = verdict.retry_after_ms;
    _metrics.add(core, counter::logins_blocked);
    _log.warning("auth_blocked").kv("proto", proto).kv("account", login).kv("ip", request.remote_ip)
        .kv("by", verdict.blocked_by).kv("retry_after_ms", verdict.retry_after_ms);
    finish(auth_status::blocked);
    co_return result;
  }

  const account* acc = dir->find_account(login);
  if (!request.tls && tls_required_for(acc, cfg->auth)) {
    _metrics.add(core, counter::logins_refused_policy);
    _log.info("auth_refused").kv("proto", proto).kv("account", login).kv("ip", request.remote_ip)
        .kv("reason", "tls_required");
    finish(auth_status::tls_required);
    co_return result;
  }

  const std::string& hash = acc ? acc->password_hash : _dummy_hash;
  const std::string& password = request.password;
  bool password_ok = co_await _workers.run([&hash, &password] { return verify_password(password, hash); });
  auth_status status = decide_login(acc, password_ok && acc != nullptr, request, cfg->auth);

  if (status == auth_status::bad_credentials) {
    uint64_t now = monotonic_ms();
    auto failure = _throttle.record_failure(login, request.remote_ip, now);
    _metrics.add(core, counter::logins_failed);
    _log.info("auth_failed").kv("proto", proto).kv("account", login).kv("ip", request.remote_ip)
        .kv("tls", request.tls).kv("account_failures", failure.account_failures)
        .kv("ip_failures", failure.ip_failures).kv("delay_ms", failure.delay_ms);
    if (failure.account_blocked_now || failure.ip_blocked_now)
      _log.warning("auth_block").kv("account", login).kv("ip", request.remote_ip)
          .kv("by", failure.account_blocked_now ? "account" : "ip").kv("block_ms", cfg->auth.throttle.block_ms);
    finish(status);
    // The delay is the throttle's teeth: the guesser waits, the reactor does not.
    co_await kio::sleep_for(failure.delay_ms);
    co_return result;
  }

  _throttle.record_success(login, monotonic_ms());
  if (status != auth_status::ok) {
    _metrics.add(core, counter::logins_refused_policy);
    _log.info("auth_refused").kv("proto", proto).kv("account", login).kv("ip", request.remote_ip)
        .kv("reason", to_string(status));
    finish(status);
    co_return result;
  }
  result.account = acc->id;
  result.address = acc->address;
  _metrics.add(core, counter::logins_ok);
  _log.info("auth_ok").kv("proto", proto).kv("account", acc->address).kv("ip", request.remote_ip)
      .kv("tls", request.tls);
  finish(status);
  co_return result;
}

}  // namespace appliance
