#pragma once
// authenticator: the one place a login is decided, for IMAP, POP3 and SMTP
// submission alike.
//
//   auth_result r = co_await auth.authenticate({login, password, protocol::imap, peer_ip, stream.secure()});
//
// Order of checks, and why:
//  1. the brute-force throttle (blocked: refuse without hashing, so a block
//     also stops the CPU cost and the right password is refused too);
//  2. TLS: a plaintext connection when the account (or, for an unknown
//     login, the global default) requires TLS is refused before the password
//     is looked at, and does not count as a failure;
//  3. the password, Argon2id on the worker pool (never on the reactor); an
//     unknown login verifies against a dummy hash so timing does not reveal
//     which accounts exist; a failure waits the throttle's exponential delay
//     before answering;
//  4. only after the right password: disabled, then the allowed protocols
//     (a guesser learns nothing about them).
// Every outcome is one log line and a counter.
//
// Core: authenticate() runs on any reactor; it reads that core's directory
// and config snapshots. The throttle is shared (thread-safe). One
// authenticator serves every core.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "appliance/accounts/directory.h"
#include "appliance/accounts/login_throttle.h"
#include "appliance/accounts/protocols.h"
#include "appliance/config/config.h"
#include "appliance/daemon/per_core.h"
#include "appliance/observe/log.h"
#include "appliance/observe/metrics.h"
#include "kernel_io/ring/task.h"
#include "kernel_io/shard/worker_pool.h"

namespace appliance {

struct auth_request {
  std::string login;
  std::string password;  // wiped when the authenticator is done with it
  protocol proto = protocol::imap;
  std::string remote_ip;
  bool tls = false;
};

enum class auth_status {
  ok,
  bad_credentials,       // unknown login or wrong password (never says which)
  blocked,               // brute-force block; retry_after_ms says how long
  tls_required,          // plaintext connection, the account requires TLS
  protocol_not_allowed,  // e.g. POP3 for an IMAP-only account
  disabled,
};
std::string_view to_string(auth_status s);

struct auth_result {
  auth_status status = auth_status::bad_credentials;
  account_id account{};
  std::string address;          // canonical login when ok
  uint64_t retry_after_ms = 0;  // blocked
  // A sentence a session can put after its protocol's failure code.
  std::string message() const;
};

// The decision after the password check, shared with the offline CLI.
auth_status decide_login(const account* acc, bool password_ok, const auth_request& request, const auth_section& auth);
bool tls_required_for(const account* acc, const auth_section& auth);

class authenticator {
 public:
  authenticator(const per_core_snapshot<directory>& directory, const per_core_snapshot<config>& config,
                login_throttle& throttle, kio::worker_pool& workers, const logger& log, metrics& stats);

  kio::task<auth_result> authenticate(auth_request request);

 private:
  const per_core_snapshot<directory>& _directory;
  const per_core_snapshot<config>& _config;
  login_throttle& _throttle;
  kio::worker_pool& _workers;
  const logger& _log;
  metrics& _metrics;
  std::string _dummy_hash;  // verified for unknown logins: same cost, same timing
};

}  // namespace appliance
