#include "appliance/spam/filter_state_store.h"

#include <charconv>
#include <chrono>

#include "appliance/spam/training_intent.h"

namespace appliance {

namespace {

constexpr std::string_view account_prefix = "account/";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string store_error(std::string_view what, store::errc e) {
  return std::string(what) + ": " + store::to_string(e);
}

}  // namespace

store::account_id filter_system_account(const store::message_store& st, store::core_id core) {
  // owner_of mixes the id, so a few steps find every core; ids depend only
  // on the shard count, which the data directory fixes.
  for (std::uint64_t id = filter_system_account_min;; ++id)
    if (st.owner_of(store::account_id{id}) == core) return store::account_id{id};
}

std::string filter_mailbox_name(std::optional<std::uint64_t> account) {
  if (!account) return "global";
  return std::string(account_prefix) + std::to_string(*account);
}

store::account_id filter_state_owner(const store::message_store& st, std::optional<std::uint64_t> account) {
  store::core_id core = account ? st.owner_of(store::account_id{*account}) : store::core_id{0};
  return filter_system_account(st, core);
}

std::uint64_t filter_message_id(const store::blob_key& key) {
  std::uint64_t x = key.high ^ (key.low * 0x9e3779b97f4a7c15ull);
  return x ^ (x >> 31);
}

kio::result<loaded_filter_state, std::string> load_filter_state(const store::message_store& st,
                                                                 std::optional<std::uint64_t> account) {
  loaded_filter_state out;
  store::account_id system = filter_state_owner(st, account);
  const auto* box = st.find_mailbox(system, filter_mailbox_name(account));
  if (!box) return out;
  // The newest snapshot first, then the deltas after it, in UID order.
  std::uint32_t snapshot_uid = 0;
  for (auto it = box->messages.rbegin(); it != box->messages.rend(); ++it) {
    auto bytes = st.read_blob(it->second.key);
    if (!bytes) {
      out.problems.push_back("uid " + std::to_string(it->first) + ": " + store::to_string(bytes.error()));
      continue;
    }
    if (filter::training_blob_kind(*bytes) != filter::training_blob::snapshot) continue;
    auto snap = filter::training_state::decode_snapshot(*bytes);
    if (!snap) {
      out.problems.push_back("snapshot uid " + std::to_string(it->first) + ": " +
                             std::string(filter::store_errc_name(snap.error())));
      continue;
    }
    out.state = std::move(snap->state);
    out.applied_through = snap->applied_through;
    snapshot_uid = it->first;
    break;
  }
  std::uint64_t folded_through = out.applied_through;
  for (const auto& [uid, entry] : box->messages) {
    out.folded.push_back(uid);
    if (uid <= folded_through || uid == snapshot_uid) continue;
    auto bytes = st.read_blob(entry.key);
    if (!bytes) {
      out.problems.push_back("uid " + std::to_string(uid) + ": " + store::to_string(bytes.error()));
      continue;
    }
    if (filter::training_blob_kind(*bytes) != filter::training_blob::delta) continue;
    auto ops = filter::decode_delta(*bytes);
    if (!ops) {
      out.problems.push_back("delta uid " + std::to_string(uid) + ": " + std::string(filter::store_errc_name(ops.error())));
      continue;
    }
    for (const auto& op : *ops) out.state.apply(op);
    out.applied_through = uid;
    out.delta_bytes += bytes->size();
  }
  return out;
}

namespace {

kio::result<std::optional<store::mailbox_id>, std::string> ensure_system_mailbox(store::message_store& st,
                                                                                 store::account_id system,
                                                                                 const std::string& name,
                                                                                 store::store_ticket* last_ticket) {
  if (!st.account(system)) {
    auto made = st.create_account(system, "ringmail-filter-" + std::to_string(st.owner_of(system).get()), 0, 0);
    if (!made) return kio::fail(store_error("cannot create the filter's system account", made.error()));
    *last_ticket = *made;
    return std::optional<store::mailbox_id>{};
  }
  if (const auto* box = st.find_mailbox(system, name)) return std::optional{box->id};
  auto made = st.create_mailbox(system, name);
  if (!made) return kio::fail(store_error("cannot create filter mailbox " + name, made.error()));
  *last_ticket = made->ticket;
  return std::optional{made->mailbox};
}

}  // namespace

kio::result<std::optional<store::mailbox_id>, std::string> ensure_filter_mailbox(
    store::message_store& st, std::optional<std::uint64_t> account, store::store_ticket* last_ticket) {
  return ensure_system_mailbox(st, filter_state_owner(st, account), filter_mailbox_name(account), last_ticket);
}

kio::result<std::optional<store::mailbox_id>, std::string> ensure_intents_mailbox(store::message_store& st,
                                                                                  store::core_id core,
                                                                                  store::store_ticket* last_ticket) {
  return ensure_system_mailbox(st, filter_system_account(st, core), std::string(filter_intents_mailbox_name),
                               last_ticket);
}

kio::result<void, std::string> save_filter_snapshot_blocking(store::message_store& st,
                                                             std::optional<std::uint64_t> account,
                                                             const filter::training_state& state,
                                                             std::uint64_t applied_through,
                                                             const std::vector<std::uint32_t>& folded) {
  store::account_id system = filter_state_owner(st, account);
  store::core_id core = st.owner_of(system);
  store::store_ticket ticket;
  std::optional<store::mailbox_id> mailbox;
  for (int attempt = 0; attempt < 2 && !mailbox; ++attempt) {
    auto made = ensure_filter_mailbox(st, account, &ticket);
    if (!made) return kio::fail(made.error());
    mailbox = *made;
    if (auto f = st.flush(core); !f) return kio::fail(store_error("flush", f.error()));
  }
  if (!mailbox) return kio::fail(std::string("cannot create the filter's system account"));
  std::string bytes;
  state.encode_snapshot(applied_through, bytes);
  auto blob = st.store_blob(core, bytes);
  if (!blob) return kio::fail(store_error("cannot store the snapshot", blob.error()));
  if (auto f = st.flush(core); !f) return kio::fail(store_error("flush", f.error()));
  store::delivery_request d;
  d.account = system;
  d.mailbox = *mailbox;
  d.key = blob->key;
  d.blob_size = blob->size;
  d.internal_date_ms = now_ms();
  d.ignore_quota = true;
  auto delivered = st.append_delivery(d);
  if (!delivered) return kio::fail(store_error("cannot record the snapshot", delivered.error()));
  if (auto f = st.flush(core); !f) return kio::fail(store_error("flush", f.error()));
  if (!folded.empty()) {
    auto gone = st.expunge(system, *mailbox, folded);
    if (!gone) return kio::fail(store_error("cannot expunge folded training state", gone.error()));
    if (auto f = st.flush(core); !f) return kio::fail(store_error("flush", f.error()));
  }
  return {};
}

pending_training pending_training_of(const store::message_store& st, std::uint64_t account) {
  pending_training out;
  store::account_id system = filter_state_owner(st, account);
  const auto* box = st.find_mailbox(system, filter_intents_mailbox_name);
  if (!box) return out;
  for (const auto& [uid, entry] : box->messages) {
    auto bytes = st.read_blob(entry.key);
    if (!bytes) {
      out.problems.push_back("intent uid " + std::to_string(uid) + ": " + store::to_string(bytes.error()));
      continue;
    }
    auto intent = decode_training_intent(*bytes);
    if (!intent) {
      out.problems.push_back("intent uid " + std::to_string(uid) + ": " + std::string(intent_errc_name(intent.error())));
      continue;
    }
    if (intent->account != account) continue;
    out.messages += intent->blobs.size();
    ++out.intents;
  }
  return out;
}

std::vector<std::uint64_t> filter_state_accounts(const store::message_store& st, store::core_id core) {
  std::vector<std::uint64_t> out;
  const auto* acct = st.account(filter_system_account(st, core));
  if (!acct) return out;
  for (const auto& [id, box] : acct->mailboxes) {
    std::string_view name = box.name;
    if (!name.starts_with(account_prefix)) continue;
    name.remove_prefix(account_prefix.size());
    std::uint64_t v = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), v).ec == std::errc() && !box.messages.empty())
      out.push_back(v);
  }
  return out;
}

}  // namespace appliance
