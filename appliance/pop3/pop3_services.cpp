#include "appliance/pop3/pop3_services.h"

#include <algorithm>
#include <cctype>

#include "appliance/smtp/cross_core.h"

namespace appliance {

bool maildrop_locks::try_lock(uint64_t account) {
  std::lock_guard guard(_mutex);
  return _held.insert(account).second;
}

void maildrop_locks::unlock(uint64_t account) {
  std::lock_guard guard(_mutex);
  _held.erase(account);
}

std::string pop3_not_allowed_text(const account* acc) {
  if (acc && acc->protocols.has(protocol::imap))
    return "This account uses IMAP, not POP3 (an account may use IMAP or POP3, not both): set up your mail program "
           "with IMAP, or ask your administrator to switch the account to POP3";
  return "POP3 is not enabled for this account: ask your administrator";
}

namespace {

// Runs `make()` (a task) on core `target` and resumes here with its result.
template <class T, class Make>
kio::task<T> on_core(kio::runtime& runtime, unsigned target, Make make) {
  if (target == kio::reactor::current()->id()) {
    T v = co_await make();
    co_return v;
  }
  T v = co_await remote_task<T, Make>(runtime.core(target), std::move(make));
  co_return v;
}

pop3::service_error store_error(std::string_view what, store::errc e) {
  return {pop3::service_errc::temporary, std::string(what) + " (store: " + std::string(store::to_string(e)) + ")"};
}

// What a message number points at, read on the owner core.
struct located_message {
  bool found = false;
  std::string header_prefix;
  store::blob_key key;
};

// ---- on the owner core ------------------------------------------------------

// Fills *snap (in the awaiting frame) rather than returning it: GCC 12
// warned of a bogus free of the coroutine frame (-Wfree-nonheap-object)
// when the result<> of a vector travelled through on_core.
kio::task<bool> snapshot_on_owner(store::message_store* store, store::account_id account,
                                  pop3::maildrop_snapshot* snap) {
  // An account that never received mail has no store account yet: an
  // empty maildrop.
  if (const auto* box = store->find_mailbox(account, "INBOX")) {
    snap->uid_validity = box->uid_validity;
    snap->messages.reserve(box->messages.size());
    for (const auto& [uid, entry] : box->messages) snap->messages.push_back({uid, entry.size});
  }
  co_return true;
}

kio::task<located_message> locate_on_owner(store::message_store* store, store::account_id account,
                                           std::uint32_t uid) {
  located_message out;
  const auto* box = store->find_mailbox(account, "INBOX");
  if (!box) co_return out;
  auto it = box->messages.find(uid);
  if (it == box->messages.end()) co_return out;
  out.found = true;
  out.header_prefix = it->second.header_prefix;
  out.key = it->second.key;
  co_return out;
}

kio::task<pop3::service_result<void>> remove_on_owner(smtp_shared* shared, store::account_id account,
                                                      const std::vector<std::uint32_t>* uids) {
  const auto* box = shared->store.find_mailbox(account, "INBOX");
  if (!box) co_return kio::result<void, pop3::service_error>{};
  auto removed = shared->store.expunge(account, box->id, *uids);
  if (!removed) co_return kio::fail(store_error("Messages not removed", removed.error()));
  // Messages already gone (removed meanwhile) leave nothing to write.
  if (removed->uids.empty()) co_return kio::result<void, pop3::service_error>{};
  unsigned core = kio::reactor::current()->id();
  auto flushed = co_await shared->cores[core]->driver->flush(removed->ticket);
  if (!flushed) co_return kio::fail(store_error("Removal not durable", flushed.error()));
  co_return kio::result<void, pop3::service_error>{};
}

// ---- on the blob's core -----------------------------------------------------

kio::task<kio::result<std::string, store::errc>> read_blob_on_core(store::message_store* store, store::blob_key key) {
  auto blob = store->read_blob(key);
  co_return blob;
}

// The maildrop of one logged-in account, on the session's core.
class store_maildrop final : public pop3::maildrop {
 public:
  store_maildrop(pop3_shared& shared, account_id account) : _shared(shared), _account(account) {}
  ~store_maildrop() override { _shared.locks.unlock(_account.get()); }

  kio::task<pop3::service_result<pop3::maildrop_snapshot>> open() override {
    store::message_store* store = &_shared.smtp.store;
    store::account_id account = sid();
    pop3::maildrop_snapshot snap;
    pop3::maildrop_snapshot* out = &snap;
    (void)co_await on_core<bool>(_shared.smtp.runtime, owner(),
                                 [store, account, out] { return snapshot_on_owner(store, account, out); });
    co_return snap;
  }

  kio::task<pop3::service_result<std::string>> read_message(std::uint32_t uid) override {
    store::message_store* store = &_shared.smtp.store;
    store::account_id account = sid();
    located_message where = co_await on_core<located_message>(
        _shared.smtp.runtime, owner(), [store, account, uid] { return locate_on_owner(store, account, uid); });
    if (!where.found) co_return kio::fail(pop3::service_error{pop3::service_errc::gone, "Message was removed meanwhile"});
    store::blob_key key = where.key;
    auto blob = co_await on_core<kio::result<std::string, store::errc>>(
        _shared.smtp.runtime, key.core, [store, key] { return read_blob_on_core(store, key); });
    if (!blob) co_return kio::fail(store_error("Message cannot be read", blob.error()));
    std::string message = std::move(where.header_prefix);
    message += *blob;
    co_return message;
  }

  kio::task<pop3::service_result<void>> remove(std::span<const std::uint32_t> uids) override {
    smtp_shared* shared = &_shared.smtp;
    store::account_id account = sid();
    std::vector<std::uint32_t> list(uids.begin(), uids.end());
    const std::vector<std::uint32_t>* listed = &list;
    auto removed = co_await on_core<pop3::service_result<void>>(
        _shared.smtp.runtime, owner(), [shared, account, listed] { return remove_on_owner(shared, account, listed); });
    if (removed)
      _shared.smtp.log.info("pop3_update").kv("account", _account.get()).kv("removed", uint64_t(list.size()));
    co_return removed;
  }

 private:
  store::account_id sid() const { return store::account_id{_account.get()}; }
  unsigned owner() const { return _shared.smtp.store.owner_of(sid()).get(); }

  pop3_shared& _shared;
  account_id _account;
};

}  // namespace

kio::task<pop3::auth_result> pop3_authenticator::authenticate(const pop3::auth_request& request) {
  auth_request a;
  a.login = std::string(request.login);
  a.password = std::string(request.password);
  a.proto = protocol::pop3;
  a.remote_ip = request.remote_ip;
  a.tls = request.tls;
  auth_result checked = co_await _shared.smtp.auth.authenticate(std::move(a));
  pop3::auth_result out;
  switch (checked.status) {
    case auth_status::ok: break;
    case auth_status::bad_credentials:
      out.outcome = pop3::auth_outcome::bad_credentials;
      out.text = checked.message();
      co_return out;
    case auth_status::blocked:
      out.outcome = pop3::auth_outcome::blocked;
      out.text = checked.message();
      co_return out;
    case auth_status::tls_required:
      out.outcome = pop3::auth_outcome::tls_required;
      out.text = checked.message();
      co_return out;
    case auth_status::disabled:
      out.outcome = pop3::auth_outcome::protocol_not_allowed;
      out.text = checked.message();
      co_return out;
    case auth_status::protocol_not_allowed: {
      out.outcome = pop3::auth_outcome::protocol_not_allowed;
      unsigned core = kio::reactor::current()->id();
      std::shared_ptr<const directory> dir = _shared.smtp.directories.get(core);
      std::string login = normalize_address(request.login).value_or(std::string(request.login));
      for (char& c : login) c = char(std::tolower(static_cast<unsigned char>(c)));
      out.text = pop3_not_allowed_text(dir->find_account(login));
      co_return out;
    }
  }
  if (!_shared.locks.try_lock(checked.account.get())) {
    out.outcome = pop3::auth_outcome::in_use;
    out.text = "Another POP3 session is using this maildrop; try again when it has ended";
    co_return out;
  }
  out.outcome = pop3::auth_outcome::ok;
  out.account = std::make_unique<store_maildrop>(_shared, checked.account);
  co_return out;
}

}  // namespace appliance
