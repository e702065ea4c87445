#pragma once
// What the IMAP session needs from the rest of the appliance, as small
// interfaces: an `authenticator` (login -> an account's `mailbox_service`)
// and the `mailbox_service` itself. The appliance implements them over the
// store (store/message_store.h); protocols never include store/ (edges point
// down), so the types here are the session's own, shaped so each call maps
// onto one store operation:
//
//   list()          account(a) mailbox states + subscriptions
//   select()        mailbox(a, m) index view, copied into a snapshot
//   read_message()  read_message(a, m, uid)
//   store_flags()   store_flags(a, m, uids, op, flags, keywords, unchanged_since)
//   append()        store_blob + flush + append_delivery
//   copy()          append_delivery of the same blob keys (dedup) / move()
//   expunge()       expunge(a, m, uids)
//   create/rename/remove/subscribe   create_mailbox/rename_mailbox/delete_mailbox/subscribe
//   status(), quota()                mailbox(a, m) counters, quota(a)
//   expunged_since()                 mailbox(a, m).expunged (ordered by modseq)
//
// Added for the implementer (helper "imap", appliance/imap):
//   - expunged_since() (QRESYNC VANISHED): the store keeps every expunge
//     with its modseq in index::mailbox_state::expunged, ascending by
//     modseq; return the UIDs whose modseq is above the argument.
//   - auth_result::hidden_capabilities: the per-account "hide these
//     capabilities from this client" switch (config: a list of capability
//     names). The session neither advertises nor honours a hidden one.
//
// Calls that may wait (a group commit, a cross-core message) are
// kio::task<>. Every call runs on the session's core; the service owns the
// cross-core hop to the account's owner core.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"
#include "kernel_io/ring/task.h"

namespace imap {

// System flags as a bitmask; the same bits as the store's message_flag, so
// the appliance passes them through unchanged. \Recent is never stored.
namespace message_flag {
inline constexpr std::uint32_t seen = 1u << 0;
inline constexpr std::uint32_t answered = 1u << 1;
inline constexpr std::uint32_t flagged = 1u << 2;
inline constexpr std::uint32_t deleted = 1u << 3;
inline constexpr std::uint32_t draft = 1u << 4;
}  // namespace message_flag

// RFC 6154 special-use attributes (and INBOX, which has none on the wire).
enum class special_use : std::uint8_t { none, inbox, sent, drafts, trash, junk, archive };

// Why a service call failed. The session turns each into a tagged NO with
// the matching response code; `text` (if any) is shown to the user.
enum class service_errc : std::uint8_t {
  no_such_mailbox,  // NO [NONEXISTENT]
  already_exists,   // NO [ALREADYEXISTS]
  over_quota,       // NO [OVERQUOTA]
  too_big,          // NO [TOOBIG]
  not_allowed,      // NO [CANNOT] (delete INBOX, rename onto a special mailbox...)
  has_children,     // NO [HASCHILDREN]
  temporary,        // NO [UNAVAILABLE]: the store could not complete it now
  server_bug,       // NO [SERVERBUG]
};

struct service_error {
  service_errc code = service_errc::temporary;
  std::string text;
};

template <class T>
using service_result = kio::result<T, service_error>;

struct mailbox_info {
  std::string name;  // UTF-8, hierarchy separator '/', "INBOX" in capitals
  special_use use = special_use::none;
  bool subscribed = false;
  bool has_children = false;
};

// One message as SELECT/FETCH/SEARCH see it: index data only, no bytes.
struct message_info {
  std::uint32_t uid = 0;
  std::uint32_t flags = 0;                // message_flag bits
  std::vector<std::string> keywords;      // "$Junk", "$Forwarded", ...
  std::int64_t internal_date_ms = 0;      // milliseconds since the epoch, UTC
  std::uint64_t size_bytes = 0;           // RFC822.SIZE: the bytes read_message() returns
  std::uint64_t modseq = 0;               // RFC 7162
};

// A mailbox at one instant, messages ascending by UID (sequence number n is
// messages[n - 1]).
struct mailbox_snapshot {
  std::uint32_t uid_validity = 0;
  std::uint32_t uid_next = 1;
  std::uint64_t highest_modseq = 0;
  std::vector<message_info> messages;
};

// What changed in a mailbox since a snapshot the session holds (the refresh
// after every command). `full`: `snapshot` is the whole mailbox again (the
// default, and what a changed UIDVALIDITY needs). Otherwise `snapshot` has
// the new UIDNEXT / HIGHESTMODSEQ and in `messages` only those whose modseq
// is above the known HIGHESTMODSEQ (changed or new, ascending by UID), and
// `expunged` the UIDs expunged since then (ascending). An unchanged mailbox
// is an empty delta: nothing is copied.
struct mailbox_changes {
  bool full = true;
  mailbox_snapshot snapshot;
  std::vector<std::uint32_t> expunged;
};

struct mailbox_status {
  std::uint32_t messages = 0;
  std::uint32_t uid_next = 1;
  std::uint32_t uid_validity = 0;
  std::uint32_t unseen = 0;
  std::uint32_t deleted = 0;
  std::uint64_t size_bytes = 0;
  std::uint64_t highest_modseq = 0;
};

enum class flags_op : std::uint8_t { add, remove, replace };

struct flags_change {
  std::uint32_t flags = 0;
  std::vector<std::string> keywords;
  flags_op op = flags_op::add;
  std::optional<std::uint64_t> unchanged_since;  // CONDSTORE: skip messages modified after this
};

struct change_result {
  std::uint64_t modseq = 0;              // the new modseq; 0 when nothing changed
  std::vector<std::uint32_t> uids;       // the messages that changed (ascending)
};

struct append_request {
  std::uint32_t flags = 0;
  std::vector<std::string> keywords;
  std::int64_t internal_date_ms = 0;  // the session fills "now" when the client gave none
  std::string_view message;           // the literal, CRLF as sent; valid for the call
};

struct append_result {
  std::uint32_t uid_validity = 0;
  std::uint32_t uid = 0;
};

struct copy_result {
  std::uint32_t uid_validity = 0;             // of the target
  std::vector<std::uint32_t> source_uids;     // ascending, only those copied
  std::vector<std::uint32_t> target_uids;     // same order
};

// QRESYNC: what expunged_since() returns.
struct expunged_uids {
  std::vector<std::uint32_t> uids;  // ascending, no duplicates
  // false: the history does not reach back to the asked modseq (it was
  // trimmed); the session then reports as vanished every UID the client may
  // know that is not in the mailbox, which RFC 7162 3.2.5.2 allows.
  bool complete = true;
};

struct quota_info {
  std::uint64_t used_bytes = 0;
  std::uint64_t quota_bytes = 0;  // 0 = unlimited
  std::uint64_t used_messages = 0;
  std::uint64_t quota_messages = 0;
};

// The IDLE wake-up hook. The session registers one while it idles; the
// service calls mailbox_changed() (on the session's core) when another
// session or a delivery changed the watched mailbox. The session then
// re-reads its snapshot and sends the differences.
class change_listener {
 public:
  virtual ~change_listener() = default;
  virtual void mailbox_changed() = 0;
};

// One logged-in account's mailboxes. Lives as long as the session.
class mailbox_service {
 public:
  virtual ~mailbox_service() = default;

  virtual kio::task<service_result<std::vector<mailbox_info>>> list() = 0;
  virtual kio::task<service_result<mailbox_snapshot>> select(std::string_view mailbox) = 0;
  // The changes since a snapshot of `mailbox` with these UIDVALIDITY and
  // HIGHESTMODSEQ (every change of a mailbox raises its HIGHESTMODSEQ:
  // flags, keywords, deliveries and expunges). The default selects again.
  virtual kio::task<service_result<mailbox_changes>> changes_since(std::string_view mailbox,
                                                                   std::uint32_t uid_validity,
                                                                   std::uint64_t highest_modseq) {
    (void)uid_validity;
    (void)highest_modseq;
    auto fresh = co_await select(mailbox);
    if (!fresh) co_return kio::fail(fresh.error());
    mailbox_changes out;
    out.snapshot = std::move(*fresh);
    co_return out;
  }
  // The whole message as stored (header prefix + blob).
  virtual kio::task<service_result<std::string>> read_message(std::string_view mailbox, std::uint32_t uid) = 0;
  // Several messages at once (FETCH, SEARCH, SORT over many): what
  // read_message() returns for each UID, in order; nullopt for one that
  // cannot be read (expunged meanwhile). The session bounds a batch (count
  // and bytes). The default reads them one by one.
  virtual kio::task<service_result<std::vector<std::optional<std::string>>>> read_messages(
      std::string_view mailbox, std::span<const std::uint32_t> uids) {
    std::vector<std::optional<std::string>> out;
    out.reserve(uids.size());
    for (auto uid : uids) {
      auto bytes = co_await read_message(mailbox, uid);
      if (bytes) out.emplace_back(std::move(*bytes));
      else out.emplace_back(std::nullopt);
    }
    co_return out;
  }
  virtual kio::task<service_result<change_result>> store_flags(std::string_view mailbox,
                                                               std::span<const std::uint32_t> uids,
                                                               const flags_change& change) = 0;
  virtual kio::task<service_result<append_result>> append(std::string_view mailbox,
                                                          const append_request& request) = 0;
  // COPY (move = false) or MOVE (the sources are expunged in the same step).
  virtual kio::task<service_result<copy_result>> copy(std::string_view source, std::span<const std::uint32_t> uids,
                                                      std::string_view target, bool move) = 0;
  virtual kio::task<service_result<change_result>> expunge(std::string_view mailbox,
                                                           std::span<const std::uint32_t> uids) = 0;
  virtual kio::task<service_result<void>> create(std::string_view mailbox, special_use use) = 0;
  virtual kio::task<service_result<void>> rename(std::string_view from, std::string_view to) = 0;
  virtual kio::task<service_result<void>> remove(std::string_view mailbox) = 0;
  virtual kio::task<service_result<void>> subscribe(std::string_view mailbox, bool subscribed) = 0;
  virtual kio::task<service_result<mailbox_status>> status(std::string_view mailbox) = 0;
  virtual kio::task<service_result<quota_info>> quota() = 0;
  // QRESYNC (RFC 7162 3.2.5 SELECT ... QRESYNC, 3.2.6 UID FETCH ...
  // VANISHED): the UIDs expunged from `mailbox` at a modseq greater than
  // `modseq`.
  virtual kio::task<service_result<expunged_uids>> expunged_since(std::string_view mailbox, std::uint64_t modseq) = 0;
  // Before an APPEND's literal of `size_bytes` is read: would the account
  // take it? A refusal (over_quota) is answered at the literal's {n} line,
  // so the client never sends the bytes; append() checks again. The default
  // has no quota to check.
  virtual kio::task<service_result<void>> check_append(std::uint64_t size_bytes) {
    (void)size_bytes;
    co_return service_result<void>{};
  }

  // IDLE: watch `mailbox` (nullptr stops watching). At most one listener per
  // service; the listener outlives the registration.
  virtual void watch(std::string_view mailbox, change_listener* listener) = 0;
};

enum class auth_outcome : std::uint8_t {
  ok,
  bad_credentials,       // NO [AUTHENTICATIONFAILED]
  blocked,               // too many failures from this address: BYE and close
  tls_required,          // NO [PRIVACYREQUIRED]
  protocol_not_allowed,  // the account may not use IMAP: NO [CONTACTADMIN]
  temporary_failure,     // NO [UNAVAILABLE]
};

struct auth_request {
  std::string_view login;
  std::string_view password;
  std::string remote_ip;
  bool tls = false;
};

struct auth_result {
  auth_outcome outcome = auth_outcome::bad_credentials;
  std::string text;                           // human text for refusals; empty: a default
  std::unique_ptr<mailbox_service> account;   // set when outcome == ok
  // The per-account switch for clients that mishandle an extension:
  // capability names as advertised ("COMPRESS=DEFLATE", "CONDSTORE",
  // "QRESYNC", "IMAP4rev2", "LITERAL+", ...; compared case-insensitively).
  // After login the session leaves them out of CAPABILITY and refuses
  // what they would enable (ENABLE ignores them, their commands get BAD),
  // as if the server did not have them. Hiding CONDSTORE hides QRESYNC too.
  std::vector<std::string> hidden_capabilities;
};

class authenticator {
 public:
  virtual ~authenticator() = default;
  virtual kio::task<auth_result> authenticate(const auth_request& request) = 0;
};

}  // namespace imap
