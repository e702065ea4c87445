#pragma once
// What the POP3 session needs from the rest of the appliance, as small
// interfaces: an `authenticator` (credentials -> the account's `maildrop`)
// and the `maildrop` itself, the account's Inbox. The appliance implements
// them over the directory and the store (store/message_store.h);
// protocols never include store/ (edges point down), so the types here are
// the session's own, shaped so each call maps onto one store operation:
//
//   open()            mailbox(a, INBOX): uid_validity + (uid, size) per message
//   read_message()    read_message(a, INBOX, uid)
//   remove()          expunge(a, INBOX, uids) + the owner core's group commit
//
// Calls that may wait (a group commit, a cross-core message) are
// kio::task<>. Every call runs on the session's core; the service owns the
// hop to the account's owner core.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"
#include "kernel_io/ring/task.h"

namespace pop3 {

// Why a maildrop call failed. `temporary` is -ERR [SYS/TEMP]; `gone` means
// the message vanished since the snapshot (expunged over IMAP by an
// operator tool): -ERR without a code.
enum class service_errc : std::uint8_t { temporary, gone };

struct service_error {
  service_errc code = service_errc::temporary;
  std::string text;  // shown to the user after the code; empty: a default
};

template <class T>
using service_result = kio::result<T, service_error>;

struct message_entry {
  std::uint32_t uid = 0;
  std::uint64_t size_bytes = 0;  // what read_message() returns
};

// The Inbox when the session entered the TRANSACTION state, ascending by
// UID (message number n is messages[n - 1]; RFC 1939 numbers never change
// during a session). uid_validity and uid are both durable in the store,
// so the UIDL built from them survives sessions and restarts.
struct maildrop_snapshot {
  std::uint32_t uid_validity = 0;
  std::vector<message_entry> messages;
};

// One logged-in account's Inbox. Lives as long as the session; while it
// lives, the account's maildrop is locked (RFC 1939 section 8: one POP3
// session per maildrop), and the destructor releases the lock.
class maildrop {
 public:
  virtual ~maildrop() = default;
  virtual kio::task<service_result<maildrop_snapshot>> open() = 0;
  // The whole message as stored (header prefix + blob), CRLF line ends.
  virtual kio::task<service_result<std::string>> read_message(std::uint32_t uid) = 0;
  // The UPDATE state: remove these messages for good. Completes only when
  // the removal is durable (the store's group commit), so the +OK to QUIT
  // means a crash cannot bring them back.
  virtual kio::task<service_result<void>> remove(std::span<const std::uint32_t> uids) = 0;
};

enum class auth_outcome : std::uint8_t {
  ok,
  bad_credentials,       // -ERR [AUTH]
  blocked,               // too many failures from this address or for this account: -ERR [SYS/TEMP], close
  tls_required,          // the account refuses plaintext logins: -ERR [AUTH] with the text
  protocol_not_allowed,  // POP3 is off for this account (e.g. "IMAP, not POP3"): -ERR [SYS/PERM]
  in_use,                // another POP3 session holds the maildrop: -ERR [IN-USE]
  temporary_failure,     // -ERR [SYS/TEMP]
};

struct auth_request {
  std::string_view login;
  std::string_view password;
  std::string remote_ip;
  bool tls = false;
};

struct auth_result {
  auth_outcome outcome = auth_outcome::bad_credentials;
  std::string text;                    // human text for refusals; empty: a default
  std::unique_ptr<maildrop> account;   // set when outcome == ok
};

class authenticator {
 public:
  virtual ~authenticator() = default;
  virtual kio::task<auth_result> authenticate(const auth_request& request) = 0;
};

}  // namespace pop3
