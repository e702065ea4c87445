#include "appliance/imap/imap_services.h"

#include <algorithm>
#include <cctype>

#include "appliance/accounts/quota.h"
#include "appliance/smtp/cross_core.h"

namespace appliance {

namespace {

using imap::service_errc;
using imap::service_error;
template <class T>
using service_result = imap::service_result<T>;

// A failed store call as the session shows it.
service_error from_store(store::errc e) {
  switch (e) {
    case store::errc::unknown_mailbox:
    case store::errc::unknown_account: return {service_errc::no_such_mailbox, {}};
    case store::errc::mailbox_exists: return {service_errc::already_exists, {}};
    case store::errc::quota_exceeded: return {service_errc::over_quota, {}};
    case store::errc::too_large: return {service_errc::too_big, {}};
    case store::errc::bad_argument: return {service_errc::not_allowed, "Invalid mailbox name or operation"};
    case store::errc::not_found: return {service_errc::no_such_mailbox, "No such message"};
    case store::errc::no_space:
    case store::errc::file_too_large: return {service_errc::temporary, "Insufficient storage on the server"};
    default: break;
  }
  return {service_errc::temporary, std::string("Store error: ") + store::to_string(e)};
}

imap::special_use to_imap(store::special_use u) {
  switch (u) {
    case store::special_use::none: return imap::special_use::none;
    case store::special_use::inbox: return imap::special_use::inbox;
    case store::special_use::sent: return imap::special_use::sent;
    case store::special_use::drafts: return imap::special_use::drafts;
    case store::special_use::trash: return imap::special_use::trash;
    case store::special_use::junk: return imap::special_use::junk;
    case store::special_use::archive: return imap::special_use::archive;
  }
  return imap::special_use::none;
}

store::special_use to_store(imap::special_use u) {
  switch (u) {
    case imap::special_use::none: return store::special_use::none;
    case imap::special_use::inbox: return store::special_use::inbox;
    case imap::special_use::sent: return store::special_use::sent;
    case imap::special_use::drafts: return store::special_use::drafts;
    case imap::special_use::trash: return store::special_use::trash;
    case imap::special_use::junk: return store::special_use::junk;
    case imap::special_use::archive: return store::special_use::archive;
  }
  return store::special_use::none;
}

store::format::flags_op to_store(imap::flags_op op) {
  switch (op) {
    case imap::flags_op::add: return store::format::flags_op::add;
    case imap::flags_op::remove: return store::format::flags_op::remove;
    case imap::flags_op::replace: return store::format::flags_op::replace;
  }
  return store::format::flags_op::add;
}

// The special-use folders every account has (RFC 6154), by their default
// names. Outlook and Thunderbird for Android expect them from the start.
constexpr std::pair<const char*, store::special_use> special_folders[] = {
    {"Sent", store::special_use::sent},   {"Drafts", store::special_use::drafts},
    {"Trash", store::special_use::trash}, {"Junk", store::special_use::junk},
    {"Archive", store::special_use::archive}};

bool is_below(std::string_view name, std::string_view parent) {
  return name.size() > parent.size() && name.substr(0, parent.size()) == parent && name[parent.size()] == '/';
}

// Everything an owner-core call needs. Lives in the awaiting session's frame.
struct owner_call {
  imap_shared* shared;
  store::account_id account;
  store::message_store& store() const { return shared->base.store; }
  store::commit_driver& driver() const { return *shared->base.cores[kio::reactor::current()->id()]->driver; }
  const store::index::mailbox_state* find(std::string_view name) const {
    return shared->base.store.find_mailbox(account, name);
  }
  void changed(store::mailbox_id mailbox) const { shared->events.changed(account.get(), mailbox.get()); }
};

// Runs `make()` (a task) on core `target` and resumes here with its result.
template <class T, class Make>
kio::task<T> on_core(imap_shared& shared, unsigned target, Make make) {
  if (target == kio::reactor::current()->id()) {
    T v = co_await make();
    co_return v;
  }
  T v = co_await remote_task<T, Make>(shared.base.runtime.core(target), std::move(make));
  co_return v;
}

// ----------------------------------------------------------------- owner side
// Each function below runs on the account's owner core.

struct selected_mailbox {
  imap::mailbox_snapshot snapshot;
  uint32_t id = 0;
};

imap::message_info info_of(uint32_t uid, const store::index::message_entry& m) {
  imap::message_info info;
  info.uid = uid;
  info.flags = m.flags;
  info.keywords = m.keywords;
  info.internal_date_ms = m.internal_date_ms;
  info.size_bytes = m.size;
  info.modseq = m.modseq;
  return info;
}

kio::task<service_result<selected_mailbox>> select_on_owner(const owner_call* c, std::string_view name) {
  const auto* box = c->find(name);
  if (!box) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  selected_mailbox out;
  out.id = box->id.get();
  out.snapshot.uid_validity = box->uid_validity;
  out.snapshot.uid_next = box->uid_next;
  out.snapshot.highest_modseq = box->highest_modseq;
  out.snapshot.messages.reserve(box->messages.size());
  for (const auto& [uid, m] : box->messages) out.snapshot.messages.push_back(info_of(uid, m));
  co_return out;
}

struct changed_mailbox {
  imap::mailbox_changes changes;
  uint32_t id = 0;
};

// What changed since (uid_validity, highest_modseq): every change raises
// the mailbox's highest_modseq, changed and new messages carry a modseq
// above the known one, and the expunge history is ordered by modseq and
// never trimmed. An unchanged mailbox costs a few compares, not a copy.
kio::task<service_result<changed_mailbox>> changes_on_owner(const owner_call* c, std::string_view name,
                                                            uint32_t uid_validity, uint64_t modseq) {
  const auto* box = c->find(name);
  if (!box) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  changed_mailbox out;
  out.id = box->id.get();
  auto& snap = out.changes.snapshot;
  snap.uid_validity = box->uid_validity;
  snap.uid_next = box->uid_next;
  snap.highest_modseq = box->highest_modseq;
  if (box->uid_validity != uid_validity || modseq > box->highest_modseq) {
    // Another mailbox under the same name (or a snapshot we cannot place):
    // the whole of it.
    snap.messages.reserve(box->messages.size());
    for (const auto& [uid, m] : box->messages) snap.messages.push_back(info_of(uid, m));
    co_return out;
  }
  out.changes.full = false;
  if (box->highest_modseq == modseq) co_return out;
  for (auto uid : box->changed_since(modseq)) snap.messages.push_back(info_of(uid, box->messages.at(uid)));
  auto first = std::upper_bound(box->expunged.begin(), box->expunged.end(), modseq,
                                [](uint64_t m, const std::pair<uint32_t, uint64_t>& e) { return m < e.second; });
  for (auto it = first; it != box->expunged.end(); ++it) out.changes.expunged.push_back(it->first);
  std::sort(out.changes.expunged.begin(), out.changes.expunged.end());
  out.changes.expunged.erase(std::unique(out.changes.expunged.begin(), out.changes.expunged.end()),
                             out.changes.expunged.end());
  co_return out;
}

kio::task<service_result<std::vector<imap::mailbox_info>>> list_on_owner(const owner_call* c) {
  const auto* acct = c->store().account(c->account);
  if (!acct) co_return kio::fail(service_error{service_errc::temporary, "Account not ready"});
  std::vector<imap::mailbox_info> out;
  for (const auto& [id, box] : acct->mailboxes) {
    imap::mailbox_info info;
    info.name = box.name;
    info.use = to_imap(box.use);
    info.subscribed = box.subscribed;
    for (const auto& [other_id, other] : acct->mailboxes)
      if (is_below(other.name, box.name)) info.has_children = true;
    out.push_back(std::move(info));
  }
  // INBOX first, then by name: what clients show anyway.
  std::sort(out.begin(), out.end(), [](const imap::mailbox_info& a, const imap::mailbox_info& b) {
    bool ai = a.name == "INBOX", bi = b.name == "INBOX";
    if (ai != bi) return ai;
    return a.name < b.name;
  });
  co_return out;
}

// Reading messages. A message is its header prefix (in the owner core's
// index) + its blob, whose catalog belongs to the core that wrote it
// (blob_key.core): only that core may look a blob up (store/README,
// "Cross-core reads of a blob catalog"). So the owner reads the blobs it
// wrote itself and hands back where the others are; the session's core
// reads its own, and each other core reads its blobs in one call.
struct located_message {
  bool found = false;
  bool read = false;      // `message` is complete (the blob was the owner's)
  std::string message;    // header prefix (+ blob when `read`)
  store::blob_key key{};
};

kio::task<service_result<std::vector<located_message>>> locate_on_owner(const owner_call* c, std::string_view name,
                                                                        std::span<const uint32_t> uids) {
  const auto* box = c->find(name);
  if (!box) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  const unsigned here = kio::reactor::current()->id();
  std::vector<located_message> out(uids.size());
  for (std::size_t i = 0; i < uids.size(); ++i) {
    auto it = box->messages.find(uids[i]);
    if (it == box->messages.end()) continue;  // expunged meanwhile
    auto& m = out[i];
    m.found = true;
    m.key = it->second.key;
    m.message = it->second.header_prefix;
    if (m.key.core != here) continue;
    auto blob = c->store().read_blob(m.key);
    if (!blob) {
      m.found = false;
      continue;
    }
    m.message += *blob;
    m.read = true;
  }
  co_return out;
}

// On the blob's core: completes every located message whose blob is this
// core's.
kio::task<bool> read_blobs_here(store::message_store* store, std::vector<located_message>* messages) {
  const unsigned here = kio::reactor::current()->id();
  for (auto& m : *messages) {
    if (!m.found || m.read || m.key.core != here) continue;
    auto blob = store->read_blob(m.key);
    if (!blob) {
      m.found = false;
      continue;
    }
    m.message += *blob;
    m.read = true;
  }
  co_return true;
}

kio::task<service_result<imap::change_result>> store_flags_on_owner(const owner_call* c, std::string_view name,
                                                                    std::span<const uint32_t> uids,
                                                                    const imap::flags_change* change) {
  const auto* box = c->find(name);
  if (!box) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  store::mailbox_id id = box->id;
  std::vector<uint32_t> list(uids.begin(), uids.end());
  auto r = c->store().store_flags(c->account, id, list, to_store(change->op), change->flags, change->keywords,
                                  change->unchanged_since);
  if (!r) co_return kio::fail(from_store(r.error()));
  imap::change_result out;
  out.modseq = r->modseq;
  out.uids = r->uids;
  if (r->modseq == 0) co_return out;  // nothing changed, nothing written
  auto flushed = co_await c->driver().flush(r->ticket);
  if (!flushed) co_return kio::fail(from_store(flushed.error()));
  c->changed(id);
  co_return out;
}

kio::task<service_result<imap::change_result>> expunge_on_owner(const owner_call* c, std::string_view name,
                                                                std::span<const uint32_t> uids) {
  const auto* box = c->find(name);
  if (!box) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  store::mailbox_id id = box->id;
  std::vector<uint32_t> list(uids.begin(), uids.end());
  auto r = c->store().expunge(c->account, id, list);
  if (!r) co_return kio::fail(from_store(r.error()));
  imap::change_result out;
  out.modseq = r->modseq;
  out.uids = r->uids;
  if (r->uids.empty()) co_return out;
  auto flushed = co_await c->driver().flush(r->ticket);
  if (!flushed) co_return kio::fail(from_store(flushed.error()));
  c->changed(id);
  co_return out;
}

// Usage plus `incoming` against the directory's quota (0: unlimited).
bool over_quota(const owner_call* c, uint64_t quota_bytes, uint64_t incoming) {
  if (!quota_bytes) return false;
  return c->store().quota(c->account).used_bytes + incoming > quota_bytes;
}

kio::task<service_result<imap::append_result>> append_on_owner(const owner_call* c, std::string_view name,
                                                              const imap::append_request* request,
                                                              uint64_t quota_bytes) {
  const auto* box = c->find(name);
  if (!box) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  store::mailbox_id id = box->id;
  if (over_quota(c, quota_bytes, request->message.size()))
    co_return kio::fail(service_error{service_errc::over_quota, "Mailbox is full: the message was not added"});
  // The blob goes to this (the owner) core's log: one core, one writer, and
  // the delivery finds its blob in its own shard.
  unsigned core = kio::reactor::current()->id();
  auto blob = c->store().store_blob(store::core_id{core}, request->message);
  if (!blob) co_return kio::fail(from_store(blob.error()));
  auto blob_durable = co_await c->driver().flush(blob->ticket);
  if (!blob_durable) co_return kio::fail(from_store(blob_durable.error()));
  box = c->store().mailbox(c->account, id);  // the flush let others run
  if (!box) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  store::delivery_request d;
  d.account = c->account;
  d.mailbox = id;
  d.key = blob->key;
  d.blob_size = blob->size;
  d.internal_date_ms = request->internal_date_ms;
  d.flags = request->flags;
  d.keywords = request->keywords;
  d.ignore_quota = true;  // decided above with the directory's quota
  auto delivered = c->store().append_delivery(d);
  if (!delivered) co_return kio::fail(from_store(delivered.error()));
  auto durable = co_await c->driver().flush(delivered->ticket);
  if (!durable) co_return kio::fail(from_store(durable.error()));
  c->changed(id);
  box = c->store().mailbox(c->account, id);
  imap::append_result out;
  out.uid_validity = box ? box->uid_validity : 0;
  out.uid = delivered->uid;
  co_return out;
}

// What a move or copy between two folders teaches (nullopt: nothing, or no
// sink): the event without its messages.
std::optional<training_event> training_of(const owner_call* c, const store::index::mailbox_state& source,
                                          const store::index::mailbox_state& target, bool copy) {
  if (!c->shared->training) return std::nullopt;
  const auto* acct = c->store().account(c->account);
  if (!acct) return std::nullopt;
  std::vector<std::string> junk_names;
  for (const auto& [id, box] : acct->mailboxes)
    if (box.use == store::special_use::junk) junk_names.push_back(box.name);
  bool source_junk = is_junk_folder(source.name, source.use, junk_names);
  bool target_junk = is_junk_folder(target.name, target.use, junk_names);
  auto direction = classify_transfer(source_junk, target_junk, target.use);
  if (direction == training_direction::none) return std::nullopt;
  training_event e;
  e.verdict = direction == training_direction::spam ? training_verdict::spam : training_verdict::ham;
  e.account = c->account.get();
  e.source_mailbox = source.name;
  e.target_mailbox = target.name;
  e.copy = copy;
  return e;
}

void add_training_message(training_event& e, const store::index::message_entry& m) {
  e.blobs.push_back(m.key);
  e.header_prefixes.push_back(m.header_prefix);
  e.blob_sizes.push_back(m.blob_size);
}

kio::task<service_result<imap::copy_result>> copy_on_owner(const owner_call* c, std::string_view source_name,
                                                          std::span<const uint32_t> uids, std::string_view target_name,
                                                          bool move, uint64_t quota_bytes) {
  const auto* source = c->find(source_name);
  if (!source) co_return kio::fail(service_error{service_errc::no_such_mailbox, "Source mailbox does not exist"});
  const auto* target = c->find(target_name);
  if (!target) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  // A transfer that teaches the filter: its training is recorded in the
  // transfer's own group commit, so the sink gets ready first (it may
  // await), and the mailboxes are looked up again after.
  std::optional<training_event> training = training_of(c, *source, *target, !move);
  if (training) {
    co_await c->shared->training->prepare(c->account.get());
    source = c->find(source_name);
    if (!source) co_return kio::fail(service_error{service_errc::no_such_mailbox, "Source mailbox does not exist"});
    target = c->find(target_name);
    if (!target) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
    training = training_of(c, *source, *target, !move);
  }
  store::mailbox_id source_id = source->id, target_id = target->id;
  imap::copy_result out;
  out.uid_validity = target->uid_validity;
  std::vector<uint32_t> list(uids.begin(), uids.end());
  std::sort(list.begin(), list.end());
  if (move && source_id != target_id) {
    auto r = c->store().move(c->account, source_id, target_id, list);
    if (!r) co_return kio::fail(from_store(r.error()));
    if (r->uids.empty()) co_return out;
    store::store_ticket last = r->ticket;
    if (training) {
      // The index changes when the move is durable: the source still
      // lists the messages.
      for (uint32_t uid : r->uids)
        if (auto it = source->messages.find(uid); it != source->messages.end())
          add_training_message(*training, it->second);
      if (!training->blobs.empty())
        if (auto recorded = c->shared->training->record(*training)) last = *recorded;
    }
    auto flushed = co_await c->driver().flush(last);
    if (!flushed) co_return kio::fail(from_store(flushed.error()));
    out.source_uids = r->uids;
    out.target_uids = r->target_uids;
    c->changed(source_id);
    c->changed(target_id);
    if (training && !training->blobs.empty()) c->shared->training->train(*training);
    co_return out;
  }
  // COPY (or MOVE onto itself, which RFC 6851 lets us treat as a copy and
  // an expunge): one delivery per message pointing at the same blob.
  uint64_t bytes = 0;
  std::vector<store::delivery_request> requests;
  for (uint32_t uid : list) {
    auto it = source->messages.find(uid);
    if (it == source->messages.end()) continue;
    const auto& m = it->second;
    store::delivery_request d;
    d.account = c->account;
    d.mailbox = target_id;
    d.key = m.key;
    d.blob_size = m.blob_size;  // the blob may live in another core's shard: never read its catalog
    d.header_prefix = m.header_prefix;
    d.internal_date_ms = m.internal_date_ms;
    d.flags = m.flags;
    d.keywords = m.keywords;
    d.ignore_quota = true;
    bytes += m.size;
    requests.push_back(std::move(d));
    out.source_uids.push_back(uid);
  }
  if (requests.empty()) co_return out;
  if (over_quota(c, quota_bytes, bytes))
    co_return kio::fail(service_error{service_errc::over_quota, "Mailbox is full: the messages were not copied"});
  store::store_ticket last;
  for (const auto& d : requests) {
    auto r = c->store().append_delivery(d);
    if (!r) {
      // What was appended is still flushed below; the client sees a NO.
      if (!out.target_uids.empty()) {
        auto flushed = co_await c->driver().flush(last);
        if (flushed) c->changed(target_id);
      }
      co_return kio::fail(from_store(r.error()));
    }
    out.target_uids.push_back(r->uid);
    last = r->ticket;
  }
  if (training && !move) {
    for (uint32_t uid : out.source_uids)
      if (auto it = source->messages.find(uid); it != source->messages.end())
        add_training_message(*training, it->second);
    if (!training->blobs.empty())
      if (auto recorded = c->shared->training->record(*training)) last = *recorded;
  }
  auto flushed = co_await c->driver().flush(last);
  if (!flushed) co_return kio::fail(from_store(flushed.error()));
  c->changed(target_id);
  if (move) {
    // MOVE onto the same mailbox: the originals go.
    auto gone = c->store().expunge(c->account, source_id, out.source_uids);
    if (gone && !gone->uids.empty()) {
      auto done = co_await c->driver().flush(gone->ticket);
      if (!done) co_return kio::fail(from_store(done.error()));
    }
  }
  if (training && !move && !training->blobs.empty()) c->shared->training->train(*training);
  co_return out;
}

// Creates `name` and every missing parent ("a/b/c" makes "a" and "a/b").
kio::task<service_result<void>> create_on_owner(const owner_call* c, std::string_view name, store::special_use use) {
  if (name.empty() || name.front() == '/' || name.find("//") != std::string_view::npos)
    co_return kio::fail(service_error{service_errc::not_allowed, "Invalid mailbox name"});
  if (c->find(name)) co_return kio::fail(service_error{service_errc::already_exists, {}});
  if (name == "INBOX" || is_below(name, "INBOX"))
    co_return kio::fail(service_error{service_errc::not_allowed, "INBOX cannot have children here"});
  // Parents first; the flush of the last record covers them all (one core,
  // one log, in order).
  for (size_t slash = name.find('/'); slash != std::string_view::npos; slash = name.find('/', slash + 1)) {
    std::string_view parent = name.substr(0, slash);
    if (c->find(parent)) continue;
    auto r = c->store().create_mailbox(c->account, parent);
    if (!r && r.error() != store::errc::mailbox_exists) co_return kio::fail(from_store(r.error()));
  }
  auto r = c->store().create_mailbox(c->account, name, use);
  if (!r) co_return kio::fail(from_store(r.error()));
  auto flushed = co_await c->driver().flush(r->ticket);
  if (!flushed) co_return kio::fail(from_store(flushed.error()));
  co_return service_result<void>{};
}

kio::task<service_result<void>> rename_on_owner(const owner_call* c, std::string_view from, std::string_view to) {
  const auto* source = c->find(from);
  if (!source) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  if (c->find(to)) co_return kio::fail(service_error{service_errc::already_exists, {}});
  if (to == "INBOX" || to.empty() || to.front() == '/' || is_below(to, from))
    co_return kio::fail(service_error{service_errc::not_allowed, "Cannot rename to that name"});
  if (from == "INBOX") {
    // RFC 3501 6.3.5: renaming INBOX moves its messages to the new mailbox
    // and leaves INBOX empty.
    store::mailbox_id inbox = source->id;
    std::vector<uint32_t> uids;
    for (const auto& [uid, m] : source->messages) uids.push_back(uid);
    auto created = c->store().create_mailbox(c->account, to);
    if (!created) co_return kio::fail(from_store(created.error()));
    auto made = co_await c->driver().flush(created->ticket);
    if (!made) co_return kio::fail(from_store(made.error()));
    if (!uids.empty()) {
      auto moved = c->store().move(c->account, inbox, created->mailbox, uids);
      if (!moved) co_return kio::fail(from_store(moved.error()));
      auto done = co_await c->driver().flush(moved->ticket);
      if (!done) co_return kio::fail(from_store(done.error()));
      c->changed(inbox);
    }
    co_return service_result<void>{};
  }
  // The mailbox and everything below it, renamed in one batch.
  const auto* acct = c->store().account(c->account);
  if (!acct) co_return kio::fail(service_error{service_errc::temporary, {}});
  std::vector<std::pair<store::mailbox_id, std::string>> renames;
  for (const auto& [id, box] : acct->mailboxes) {
    if (box.name == from) renames.emplace_back(box.id, std::string(to));
    else if (is_below(box.name, from)) renames.emplace_back(box.id, std::string(to) + box.name.substr(from.size()));
  }
  for (const auto& [id, name] : renames)
    if (c->find(name)) co_return kio::fail(service_error{service_errc::already_exists, "A mailbox below it would clash"});
  store::store_ticket last;
  for (const auto& [id, name] : renames) {
    auto r = c->store().rename_mailbox(c->account, id, name);
    if (!r) co_return kio::fail(from_store(r.error()));
    last = *r;
  }
  // Missing parents of the new name ("a" -> "x/y" makes "x").
  for (size_t slash = to.find('/'); slash != std::string_view::npos; slash = to.find('/', slash + 1)) {
    std::string_view parent = to.substr(0, slash);
    if (c->find(parent)) continue;
    auto r = c->store().create_mailbox(c->account, parent);
    if (r) last = r->ticket;
  }
  auto flushed = co_await c->driver().flush(last);
  if (!flushed) co_return kio::fail(from_store(flushed.error()));
  for (const auto& [id, name] : renames) c->changed(id);
  co_return service_result<void>{};
}

kio::task<service_result<void>> remove_on_owner(const owner_call* c, std::string_view name) {
  if (name == "INBOX") co_return kio::fail(service_error{service_errc::not_allowed, "INBOX cannot be deleted"});
  const auto* box = c->find(name);
  if (!box) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  store::mailbox_id id = box->id;
  const auto* acct = c->store().account(c->account);
  if (acct)
    for (const auto& [other_id, other] : acct->mailboxes)
      if (is_below(other.name, name))
        co_return kio::fail(service_error{service_errc::has_children, "Delete the mailboxes below it first"});
  auto r = c->store().delete_mailbox(c->account, id);
  if (!r) co_return kio::fail(from_store(r.error()));
  auto flushed = co_await c->driver().flush(*r);
  if (!flushed) co_return kio::fail(from_store(flushed.error()));
  c->changed(id);
  co_return service_result<void>{};
}

kio::task<service_result<void>> subscribe_on_owner(const owner_call* c, std::string_view name, bool subscribed) {
  const auto* box = c->find(name);
  if (!box) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  if (box->subscribed == subscribed) co_return service_result<void>{};
  auto r = c->store().subscribe(c->account, box->id, subscribed);
  if (!r) co_return kio::fail(from_store(r.error()));
  auto flushed = co_await c->driver().flush(*r);
  if (!flushed) co_return kio::fail(from_store(flushed.error()));
  co_return service_result<void>{};
}

kio::task<service_result<imap::mailbox_status>> status_on_owner(const owner_call* c, std::string_view name) {
  const auto* box = c->find(name);
  if (!box) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  imap::mailbox_status s;
  s.messages = uint32_t(box->messages.size());
  s.uid_next = box->uid_next;
  s.uid_validity = box->uid_validity;
  s.highest_modseq = box->highest_modseq;
  for (const auto& [uid, m] : box->messages) {
    if (!(m.flags & store::message_flag::seen)) ++s.unseen;
    if (m.flags & store::message_flag::deleted) ++s.deleted;
    s.size_bytes += m.size;
  }
  co_return s;
}

// QRESYNC: the store keeps every expunge with its modseq, ascending.
kio::task<service_result<imap::expunged_uids>> expunged_on_owner(const owner_call* c, std::string_view name,
                                                                uint64_t modseq) {
  const auto* box = c->find(name);
  if (!box) co_return kio::fail(service_error{service_errc::no_such_mailbox, {}});
  imap::expunged_uids out;
  auto first = std::upper_bound(box->expunged.begin(), box->expunged.end(), modseq,
                                [](uint64_t m, const std::pair<uint32_t, uint64_t>& e) { return m < e.second; });
  for (auto it = first; it != box->expunged.end(); ++it) out.uids.push_back(it->first);
  std::sort(out.uids.begin(), out.uids.end());
  out.uids.erase(std::unique(out.uids.begin(), out.uids.end()), out.uids.end());
  out.complete = true;  // the store never trims the history
  co_return out;
}

kio::task<service_result<imap::quota_info>> quota_on_owner(const owner_call* c) {
  auto usage = c->store().quota(c->account);
  imap::quota_info q;
  q.used_bytes = usage.used_bytes;
  q.used_messages = usage.used_messages;
  co_return q;
}

// Login: the account exists in the store, with every special-use folder.
kio::task<service_result<void>> prepare_on_owner(imap_shared* shared, const account* acc) {
  unsigned core = kio::reactor::current()->id();
  auto made = co_await ensure_store_account(shared->base, core, *acc);
  if (!made) co_return kio::fail(from_store(made.error()));
  store::account_id sid{acc->id.get()};
  const auto* acct = shared->base.store.account(sid);
  if (!acct) co_return kio::fail(service_error{service_errc::temporary, "Mailboxes not available"});
  std::optional<store::store_ticket> last;
  for (const auto& [name, use] : special_folders) {
    bool present = false;
    for (const auto& [id, box] : acct->mailboxes) present = present || box.use == use;
    if (present || shared->base.store.find_mailbox(sid, name)) continue;
    auto r = shared->base.store.create_mailbox(sid, name, use);
    if (r) last = r->ticket;
  }
  if (last) {
    auto flushed = co_await shared->base.cores[core]->driver->flush(*last);
    if (!flushed) co_return kio::fail(from_store(flushed.error()));
  }
  co_return service_result<void>{};
}

}  // namespace

// ------------------------------------------------------------- authenticator

kio::task<imap::auth_result> imap_authenticator::authenticate(const imap::auth_request& request) {
  auth_request q;
  q.login = std::string(request.login);
  q.password = std::string(request.password);
  q.proto = protocol::imap;
  q.remote_ip = request.remote_ip;
  q.tls = request.tls;
  auth_result r = co_await _shared.base.auth.authenticate(std::move(q));
  imap::auth_result out;
  switch (r.status) {
    case auth_status::ok: break;
    case auth_status::bad_credentials:
      out.outcome = imap::auth_outcome::bad_credentials;
      out.text = r.message();
      co_return out;
    case auth_status::blocked:
      out.outcome = imap::auth_outcome::blocked;
      out.text = r.message();
      co_return out;
    case auth_status::tls_required:
      out.outcome = imap::auth_outcome::tls_required;
      out.text = r.message();
      co_return out;
    case auth_status::protocol_not_allowed: {
      out.outcome = imap::auth_outcome::protocol_not_allowed;
      // The "IMAP or POP3, not both" switch deserves a sentence a user can act on.
      std::shared_ptr<const directory> dir = _shared.base.directories.get(_core);
      std::string login = normalize_address(request.login).value_or(std::string(request.login));
      for (char& ch : login) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      const account* acc = dir->find_account(login);
      if (acc && acc->protocols.has(protocol::pop3))
        out.text = "This account is set up for POP3, not IMAP (an account uses one or the other): "
                   "use POP3 in your mail app, or ask your administrator to switch it to IMAP";
      else
        out.text = "IMAP is not enabled for this account; ask your administrator";
      co_return out;
    }
    case auth_status::disabled:
      out.outcome = imap::auth_outcome::bad_credentials;
      out.text = r.message();
      co_return out;
  }
  std::shared_ptr<const directory> dir = _shared.base.directories.get(_core);
  const account* acc = dir->find_account(r.account);
  if (!acc) {
    out.outcome = imap::auth_outcome::temporary_failure;
    out.text = "The account was just removed";
    co_return out;
  }
  unsigned owner = _shared.base.store.owner_of(store::account_id{acc->id.get()}).get();
  imap_shared* shared = &_shared;
  auto prepared = co_await on_core<service_result<void>>(_shared, owner, [shared, acc] {
    return prepare_on_owner(shared, acc);
  });
  if (!prepared) {
    _shared.base.log.error("imap_login").kv("account", acc->address).kv("error", prepared.error().text);
    out.outcome = imap::auth_outcome::temporary_failure;
    out.text = "Your mailboxes are not available right now: " + prepared.error().text;
    co_return out;
  }
  auto mailboxes = std::make_unique<account_mailboxes>(_shared, _core, acc->id, acc->address);
  co_await mailboxes->start_watching();
  out.outcome = imap::auth_outcome::ok;
  out.account = std::move(mailboxes);
  co_return out;
}

// ----------------------------------------------------------- account_mailboxes

account_mailboxes::account_mailboxes(imap_shared& shared, unsigned core, account_id account, std::string address)
    : _shared(shared),
      _core(core),
      _owner(shared.base.store.owner_of(store::account_id{account.get()}).get()),
      _account(account),
      _address(std::move(address)) {}

account_mailboxes::~account_mailboxes() {
  if (_registered) _shared.events.remove(_account.get(), this);
}

kio::task<void> account_mailboxes::start_watching() {
  co_await _shared.events.add(_account.get(), this);
  _registered = true;
}

uint64_t account_mailboxes::quota_bytes() const {
  std::shared_ptr<const directory> dir = _shared.base.directories.get(_core);
  const account* acc = dir->find_account(_account);
  return acc ? acc->quota_bytes : 0;
}

void account_mailboxes::mailbox_changed(uint32_t mailbox) {
  ++_notifications;
  if (_listener && mailbox == _selected_id) _listener->mailbox_changed();
}

void account_mailboxes::watch(std::string_view mailbox, imap::change_listener* listener) {
  _listener = listener;
  if (!listener) return;
  // A change noticed since the last snapshot of this mailbox (perhaps of
  // another one: a spurious refresh costs one snapshot) wakes IDLE at once.
  if (mailbox == _selected_name && _notifications != _notifications_at_select) listener->mailbox_changed();
}

kio::task<service_result<std::vector<imap::mailbox_info>>> account_mailboxes::list() {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  auto v = co_await on_core<service_result<std::vector<imap::mailbox_info>>>(_shared, _owner, [cp] {
    return list_on_owner(cp);
  });
  co_return v;
}

kio::task<service_result<imap::mailbox_snapshot>> account_mailboxes::select(std::string_view mailbox) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  uint64_t before = _notifications;
  auto v = co_await on_core<service_result<selected_mailbox>>(_shared, _owner, [cp, mailbox] {
    return select_on_owner(cp, mailbox);
  });
  if (!v) co_return kio::fail(v.error());
  _selected_name = std::string(mailbox);
  _selected_id = v->id;
  _notifications_at_select = before;
  co_return std::move(v->snapshot);
}

kio::task<service_result<imap::mailbox_changes>> account_mailboxes::changes_since(std::string_view mailbox,
                                                                                  std::uint32_t uid_validity,
                                                                                  std::uint64_t highest_modseq) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  uint64_t before = _notifications;
  auto v = co_await on_core<service_result<changed_mailbox>>(_shared, _owner, [cp, mailbox, uid_validity,
                                                                               highest_modseq] {
    return changes_on_owner(cp, mailbox, uid_validity, highest_modseq);
  });
  if (!v) co_return kio::fail(v.error());
  _selected_name = std::string(mailbox);
  _selected_id = v->id;
  _notifications_at_select = before;
  co_return std::move(v->changes);
}

kio::task<service_result<std::string>> account_mailboxes::read_message(std::string_view mailbox, std::uint32_t uid) {
  auto read = co_await read_messages(mailbox, std::span<const std::uint32_t>(&uid, 1));
  if (!read) co_return kio::fail(read.error());
  if (read->empty() || !read->front())
    co_return kio::fail(service_error{service_errc::no_such_mailbox, "No such message"});
  std::string message = std::move(*read->front());
  co_return message;
}

kio::task<service_result<std::vector<std::optional<std::string>>>> account_mailboxes::read_messages(
    std::string_view mailbox, std::span<const std::uint32_t> uids) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  auto located = co_await on_core<service_result<std::vector<located_message>>>(_shared, _owner,
                                                                               [cp, mailbox, uids] {
    return locate_on_owner(cp, mailbox, uids);
  });
  if (!located) co_return kio::fail(located.error());
  std::vector<located_message>* messages = &*located;
  store::message_store* store = &_shared.base.store;
  // This core's blobs first (no hop), then one call per other core.
  (void)co_await read_blobs_here(store, messages);
  for (unsigned core = 0; core < _shared.base.runtime.cores(); ++core) {
    if (core == _core) continue;
    bool wanted = false;
    for (const auto& m : *messages) wanted = wanted || (m.found && !m.read && m.key.core == core);
    if (!wanted) continue;
    (void)co_await on_core<bool>(_shared, core, [store, messages] { return read_blobs_here(store, messages); });
  }
  std::vector<std::optional<std::string>> out;
  out.reserve(messages->size());
  for (auto& m : *messages) {
    if (m.found && m.read) out.emplace_back(std::move(m.message));
    else out.emplace_back(std::nullopt);
  }
  co_return out;
}

kio::task<service_result<imap::change_result>> account_mailboxes::store_flags(std::string_view mailbox,
                                                                             std::span<const std::uint32_t> uids,
                                                                             const imap::flags_change& change) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  const imap::flags_change* ch = &change;
  auto v = co_await on_core<service_result<imap::change_result>>(_shared, _owner, [cp, mailbox, uids, ch] {
    return store_flags_on_owner(cp, mailbox, uids, ch);
  });
  co_return v;
}

kio::task<service_result<imap::append_result>> account_mailboxes::append(std::string_view mailbox,
                                                                        const imap::append_request& request) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  const imap::append_request* rq = &request;
  uint64_t quota = quota_bytes();
  auto v = co_await on_core<service_result<imap::append_result>>(_shared, _owner, [cp, mailbox, rq, quota] {
    return append_on_owner(cp, mailbox, rq, quota);
  });
  co_return v;
}

kio::task<service_result<imap::copy_result>> account_mailboxes::copy(std::string_view source,
                                                                    std::span<const std::uint32_t> uids,
                                                                    std::string_view target, bool move) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  uint64_t quota = quota_bytes();
  auto v = co_await on_core<service_result<imap::copy_result>>(_shared, _owner,
                                                               [cp, source, uids, target, move, quota] {
                                                                 return copy_on_owner(cp, source, uids, target, move,
                                                                                      quota);
                                                               });
  co_return v;
}

kio::task<service_result<imap::change_result>> account_mailboxes::expunge(std::string_view mailbox,
                                                                         std::span<const std::uint32_t> uids) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  auto v = co_await on_core<service_result<imap::change_result>>(_shared, _owner, [cp, mailbox, uids] {
    return expunge_on_owner(cp, mailbox, uids);
  });
  co_return v;
}

kio::task<service_result<void>> account_mailboxes::create(std::string_view mailbox, imap::special_use use) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  store::special_use su = to_store(use);
  auto v = co_await on_core<service_result<void>>(_shared, _owner, [cp, mailbox, su] {
    return create_on_owner(cp, mailbox, su);
  });
  co_return v;
}

kio::task<service_result<void>> account_mailboxes::rename(std::string_view from, std::string_view to) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  auto v = co_await on_core<service_result<void>>(_shared, _owner, [cp, from, to] {
    return rename_on_owner(cp, from, to);
  });
  co_return v;
}

kio::task<service_result<void>> account_mailboxes::remove(std::string_view mailbox) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  auto v = co_await on_core<service_result<void>>(_shared, _owner, [cp, mailbox] {
    return remove_on_owner(cp, mailbox);
  });
  co_return v;
}

kio::task<service_result<void>> account_mailboxes::subscribe(std::string_view mailbox, bool subscribed) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  auto v = co_await on_core<service_result<void>>(_shared, _owner, [cp, mailbox, subscribed] {
    return subscribe_on_owner(cp, mailbox, subscribed);
  });
  co_return v;
}

kio::task<service_result<imap::mailbox_status>> account_mailboxes::status(std::string_view mailbox) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  auto v = co_await on_core<service_result<imap::mailbox_status>>(_shared, _owner, [cp, mailbox] {
    return status_on_owner(cp, mailbox);
  });
  co_return v;
}

kio::task<service_result<imap::quota_info>> account_mailboxes::quota() {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  auto v = co_await on_core<service_result<imap::quota_info>>(_shared, _owner, [cp] { return quota_on_owner(cp); });
  if (v) v->quota_bytes = quota_bytes();
  co_return v;
}

kio::task<service_result<imap::expunged_uids>> account_mailboxes::expunged_since(std::string_view mailbox,
                                                                                 std::uint64_t modseq) {
  owner_call c{&_shared, store::account_id{_account.get()}};
  const owner_call* cp = &c;
  auto v = co_await on_core<service_result<imap::expunged_uids>>(_shared, _owner, [cp, mailbox, modseq] {
    return expunged_on_owner(cp, mailbox, modseq);
  });
  co_return v;
}

kio::task<service_result<void>> account_mailboxes::check_append(std::uint64_t size_bytes) {
  uint64_t limit = quota_bytes();
  if (!limit) co_return service_result<void>{};
  auto q = co_await quota();
  if (!q) co_return service_result<void>{};  // the append itself decides
  if (q->used_bytes + size_bytes > limit)
    co_return kio::fail(service_error{service_errc::over_quota, "Mailbox is full (" + format_size(q->used_bytes) +
                                                                    " of " + format_size(limit) +
                                                                    " used): the message was not added"});
  co_return service_result<void>{};
}

}  // namespace appliance
