#pragma once
// The appliance side of the SMTP session: smtp::session_services over the
// directory, the authenticator, the send rate limiter, quotas and the store.
//
// Cores. One smtp_services per core, used only by the sessions of that core
// (every session_services call is made on the session's core). The shared
// part (smtp_shared) holds one core_state per core, each touched only by its
// own core: the commit driver of that core's store shard, the accounts whose
// creation in the store is in flight, counters for ids.
//
// A message's path to "250 Ok":
//   1. the session core streams the bytes into a blob_writer (begin_blob,
//      append_chunk per write(): the store frames them straight into its
//      write buffer);
//   2. commit(): finish_blob, then the core's commit_driver flushes it (the
//      blob must be durable before any delivery may point at it), except
//      when every delivery is on this core and nothing is queued: then the
//      deliveries are appended behind the blob in the same log and one
//      flush covers both (store/README.md "A delivery in its blob's group
//      commit");
//   3. for each owner core of the recipients' accounts (store::owner_of):
//      a coroutine on that core creates the account in the store if it has
//      never received mail, re-checks the quota with the real size, and
//      appends one delivery record per distinct account (header prefix =
//      Delivered-To + the session's trace headers + filter headers), then
//      awaits that core's flush;
//   4. only when every ticket is durable does the session say 250.
// One message to N local recipients is one blob and N delivery records.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "appliance/accounts/authenticator.h"
#include "appliance/accounts/directory.h"
#include "appliance/accounts/send_rate_limiter.h"
#include "appliance/config/config.h"
#include "appliance/daemon/per_core.h"
#include "appliance/dns/ring_dns.h"
#include "appliance/msgauth/auth_filter.h"
#include "appliance/observe/log.h"
#include "appliance/observe/metrics.h"
#include "appliance/storage/mailbox_events.h"
#include "kernel_io/shard/runtime.h"
#include "protocols/smtp/session/services.h"
#include "store/commit_driver.h"
#include "store/message_store.h"

namespace appliance {

class spam_shared;
class dkim_signer;
namespace outbound {
class outbound_queue;
}

// What one core owns for SMTP. Touched only on that core.
struct smtp_core_state {
  std::unique_ptr<store::commit_driver> driver;
  // Accounts being created in the store (first mail ever): later deliveries
  // to the same account wait for the same ticket instead of creating twice.
  std::unordered_map<uint64_t, store::store_ticket> creating;
  // Accounts owned by this core whose quota warning was delivered but whose
  // directory flag may not be published yet: the warning goes out once.
  std::unordered_set<uint64_t> quota_warned;
  uint64_t sessions_started = 0;
  uint64_t messages_started = 0;
  // Message authentication's DNS on this core's ring (created at start when
  // msgauth.verify_inbound is on; destroyed on this core after the last
  // session has ended, with the commit driver).
  std::unique_ptr<dns::resolver> resolver;
  std::unique_ptr<ring_dns> msgauth_dns;
};

struct smtp_shared {
  smtp_shared(kio::runtime& rt, store::message_store& s, const per_core_snapshot<directory>& d,
              const per_core_snapshot<config>& c, authenticator& a, send_rate_limiter& l, const logger& g, metrics& m)
      : runtime(rt), store(s), directories(d), configs(c), auth(a), send_limits(l), log(g), stats(m) {
    for (unsigned i = 0; i < rt.cores(); ++i) cores.push_back(std::make_unique<smtp_core_state>());
  }
  kio::runtime& runtime;
  store::message_store& store;
  const per_core_snapshot<directory>& directories;
  const per_core_snapshot<config>& configs;
  authenticator& auth;
  send_rate_limiter& send_limits;
  const logger& log;
  metrics& stats;
  std::vector<std::unique_ptr<smtp_core_state>> cores;  // index = core
  // The spam filter's token stores (appliance/spam/spam_training.h). Null
  // or untrained: no filter.
  spam_shared* spam = nullptr;
  uint64_t started_ms = 0;  // part of every id, so ids differ across restarts
  // Records in the directory that an account got its quota warning (true)
  // or fell below the threshold again (false). Set by the daemon: it posts
  // the update to the directory's owner (core 0); callable on any core.
  std::function<void(const std::string& address, bool sent)> set_quota_warning_flag;
  msgauth_shared* msgauth = nullptr;  // SPF/DKIM/DMARC on the MX listener; null = off
  // DKIM keys for outbound signing (appliance/msgauth/dkim_keys.h); null = none.
  const dkim_signer* dkim = nullptr;
  // Set by the daemon: durable deliveries are announced here (IMAP IDLE).
  mailbox_events* events = nullptr;
  // The outbound queue (null when outbound.enabled is false) and its core.
  outbound::outbound_queue* outbound = nullptr;
  unsigned outbound_core = 0;
};

// On the owner core of `acc`: make sure the account exists in the store
// (created on its first mail or first login, with INBOX and the special-use
// folders) and is durable. Concurrent callers on that core share one
// creation (smtp_core_state::creating): SMTP and IMAP both call this.
kio::task<kio::result<void, store::errc>> ensure_store_account(smtp_shared& shared, unsigned core, const account& acc);

// "<started_ms hex>.<core>.<n>": unique for the daemon's life and, with the
// start time, across restarts.
std::string make_session_id(smtp_shared& shared, unsigned core);

class smtp_services final : public smtp::session_services {
 public:
  smtp_services(smtp_shared& shared, unsigned core) : _shared(shared), _core(core) {}

  kio::task<smtp::auth_result> authenticate(const smtp::session_info& info, std::string_view login,
                                            std::string_view password) override;
  kio::task<smtp::verdict> check_sender(const smtp::session_info& info, const smtp::path& sender,
                                        const smtp::mail_parameters& parameters) override;
  kio::task<smtp::verdict> check_recipient(const smtp::session_info& info, const smtp::envelope& env,
                                           smtp::recipient& rcpt) override;
  std::unique_ptr<smtp::message_sink> open_message(const smtp::session_info& info, const smtp::envelope& env) override;
  // The spam filter on the MX listener when [spam] is enabled and the token
  // store has been trained on both ham and spam (appliance/spam).
  std::unique_ptr<smtp::inbound_filter> open_filter(const smtp::session_info& info,
                                                    const smtp::envelope& env) override;

 private:
  smtp::verdict refuse(const smtp::session_info& info, std::string_view stage, uint16_t code, std::string enhanced,
                       std::string text);
  smtp::verdict rate_limited(const smtp::session_info& info, const account& acc, const send_rate_limiter::verdict& v);
  smtp_shared& _shared;
  unsigned _core;
};

// The postmaster address "<postmaster>" (no domain) and "postmaster@<local
// domain>" reach when no alias says otherwise: smtp.postmaster if set, else
// the first account of the directory (the lowest id: the operator's first
// account, the demo account on a default install). Null if no account.
const account* postmaster_account(const directory& dir, const config& cfg);

// Submission: may `acc` use `sender` as its envelope sender? Its own
// address or an alias that delivers to it (not a catch-all), with or without
// a +tag, in its domain or an alias domain of it.
bool sender_belongs_to(const directory& dir, const account& acc, std::string_view sender);

}  // namespace appliance
