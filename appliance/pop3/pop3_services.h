#pragma once
// The appliance side of the POP3 session: pop3::authenticator over the one
// appliance authenticator (throttle, TLS policy, Argon2id, the per-account
// protocols) and pop3::maildrop over the store's INBOX of the account.
//
// Cores. The session and its maildrop live on the connection's core. The
// account's mailbox index lives on its owner core (store::owner_of) and a
// blob in the catalog of the core that received it (blob_key::core); every
// store call runs on the core that owns what it touches, reached with
// remote_task (appliance/smtp/cross_core.h). The removal in the UPDATE
// state is an expunge on the owner core followed by that core's group
// commit (the commit drivers are the SMTP wiring's, one per core).
//
// "POP3 or IMAP, not both". An account whose protocols lack pop3 is refused
// after the right password (the authenticator's order), with a text that
// says what to do: use IMAP when the account is set up for it.
//
// RFC 1939 section 8: one POP3 session per maildrop. The lock table is
// shared by the cores (a mutex around a set: logins are rare, and
// SO_REUSEPORT spreads one client's connections over every core); a
// maildrop holds its account's entry until it is destroyed.

#include <mutex>
#include <unordered_set>

#include "appliance/smtp/smtp_services.h"
#include "protocols/pop3/session/services.h"

namespace appliance {

class maildrop_locks {
 public:
  bool try_lock(uint64_t account);
  void unlock(uint64_t account);

 private:
  std::mutex _mutex;
  std::unordered_set<uint64_t> _held;
};

struct pop3_shared {
  explicit pop3_shared(smtp_shared& s) : smtp(s) {}
  smtp_shared& smtp;  // runtime, store, directory, config, authenticator, log, metrics, commit drivers
  maildrop_locks locks;
};

// One per daemon; authenticate() runs on the session's core.
class pop3_authenticator final : public pop3::authenticator {
 public:
  explicit pop3_authenticator(pop3_shared& shared) : _shared(shared) {}
  kio::task<pop3::auth_result> authenticate(const pop3::auth_request& request) override;

 private:
  pop3_shared& _shared;
};

// The refusal text for an account that may not use POP3.
std::string pop3_not_allowed_text(const account* acc);

}  // namespace appliance
