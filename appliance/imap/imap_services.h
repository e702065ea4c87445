#pragma once
// The appliance side of the IMAP session: imap::authenticator over the one
// appliance authenticator, and imap::mailbox_service over the store.
//
// Cores. A session and its account_mailboxes live on the core that accepted
// the connection; the account's mailboxes live in the store shard of its
// owner core (store::message_store::owner_of). Every call of the service
// runs its store work as a coroutine on the owner core (remote_task, as the
// SMTP commit does), so that core's single writer orders all changes of the
// account, and a change is answered only after that core's group commit made
// it durable. Reads (SELECT snapshots, message bytes) run there too: the
// index is the owner core's.
//
// Notifications. After a durable change the owner core tells
// mailbox_events, which wakes the account's sessions on every core (IDLE);
// SMTP deliveries do the same. A service counts the notifications it got,
// so a change that lands between a snapshot and the start of IDLE still
// wakes it (watch() checks the count).
//
// Login. authenticate() asks the appliance authenticator (throttle, TLS
// policy, Argon2id, disabled, the account's protocols: "IMAP or POP3, not
// both" is refused here with a text that says so), then on the owner core
// creates the account in the store if it has none yet and any missing
// special-use folder (Sent, Drafts, Trash, Junk, Archive), and registers
// the session for notifications before any mailbox is read.

#include <cstdint>
#include <memory>
#include <string>

#include "appliance/imap/junk_training.h"
#include "appliance/smtp/smtp_services.h"
#include "appliance/storage/mailbox_events.h"
#include "protocols/imap/session/services.h"

namespace appliance {

struct imap_shared {
  imap_shared(smtp_shared& b, mailbox_events& e) : base(b), events(e) {}
  smtp_shared& base;                   // runtime, store, commit drivers, directory, config, auth, log, metrics
  mailbox_events& events;
  training_sink* training = nullptr;   // null: moves teach nothing
};

// One per core; used by that core's sessions.
class imap_authenticator final : public imap::authenticator {
 public:
  imap_authenticator(imap_shared& shared, unsigned core) : _shared(shared), _core(core) {}
  kio::task<imap::auth_result> authenticate(const imap::auth_request& request) override;

 private:
  imap_shared& _shared;
  unsigned _core;
};

// One logged-in account's mailboxes, for one session, on the session's core.
class account_mailboxes final : public imap::mailbox_service, public mailbox_watcher {
 public:
  account_mailboxes(imap_shared& shared, unsigned core, account_id account, std::string address);
  ~account_mailboxes() override;
  account_mailboxes(const account_mailboxes&) = delete;
  account_mailboxes& operator=(const account_mailboxes&) = delete;

  kio::task<imap::service_result<std::vector<imap::mailbox_info>>> list() override;
  kio::task<imap::service_result<imap::mailbox_snapshot>> select(std::string_view mailbox) override;
  kio::task<imap::service_result<imap::mailbox_changes>> changes_since(std::string_view mailbox,
                                                                      std::uint32_t uid_validity,
                                                                      std::uint64_t highest_modseq) override;
  kio::task<imap::service_result<std::string>> read_message(std::string_view mailbox, std::uint32_t uid) override;
  kio::task<imap::service_result<std::vector<std::optional<std::string>>>> read_messages(
      std::string_view mailbox, std::span<const std::uint32_t> uids) override;
  kio::task<imap::service_result<imap::change_result>> store_flags(std::string_view mailbox,
                                                                   std::span<const std::uint32_t> uids,
                                                                   const imap::flags_change& change) override;
  kio::task<imap::service_result<imap::append_result>> append(std::string_view mailbox,
                                                              const imap::append_request& request) override;
  kio::task<imap::service_result<imap::copy_result>> copy(std::string_view source, std::span<const std::uint32_t> uids,
                                                          std::string_view target, bool move) override;
  kio::task<imap::service_result<imap::change_result>> expunge(std::string_view mailbox,
                                                               std::span<const std::uint32_t> uids) override;
  kio::task<imap::service_result<void>> create(std::string_view mailbox, imap::special_use use) override;
  kio::task<imap::service_result<void>> rename(std::string_view from, std::string_view to) override;
  kio::task<imap::service_result<void>> remove(std::string_view mailbox) override;
  kio::task<imap::service_result<void>> subscribe(std::string_view mailbox, bool subscribed) override;
  kio::task<imap::service_result<imap::mailbox_status>> status(std::string_view mailbox) override;
  kio::task<imap::service_result<imap::quota_info>> quota() override;
  kio::task<imap::service_result<imap::expunged_uids>> expunged_since(std::string_view mailbox,
                                                                      std::uint64_t modseq) override;
  kio::task<imap::service_result<void>> check_append(std::uint64_t size_bytes) override;
  void watch(std::string_view mailbox, imap::change_listener* listener) override;

  // mailbox_watcher: on this core, after a durable change of the account.
  void mailbox_changed(uint32_t mailbox) override;

  // Registers with mailbox_events (awaited once, right after login).
  kio::task<void> start_watching();

 private:
  // The account's quota in bytes from this core's directory snapshot (0 =
  // unlimited); the usage comes from the store.
  uint64_t quota_bytes() const;

  imap_shared& _shared;
  unsigned _core;
  unsigned _owner;
  account_id _account;
  std::string _address;
  bool _registered = false;
  // IDLE bookkeeping (see the file comment).
  uint64_t _notifications = 0;
  uint64_t _notifications_at_select = 0;
  std::string _selected_name;
  uint32_t _selected_id = 0;
  imap::change_listener* _listener = nullptr;
};

}  // namespace appliance
