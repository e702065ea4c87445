#pragma once
// The spam filter's token stores, persisted through the message store.
//
// Where. One system account per store shard, with an id from a reserved
// range the directory never hands out (>= 2^62) chosen so that
// owner_of(id) is that shard's core. Its mailboxes hold filter state:
// "global" (in the system account of core 0) and "account/<id>" for a user
// account, in the system account of that account's owner core, so the
// owner core that trains an account also writes its state, with one log and
// one group commit. Users never see it (no directory entry names these
// ids); it is checkpointed, compacted and mirrored to the backup like mail.
//
// What. Each mailbox holds filter::training_state blobs as messages, in
// UID order: a snapshot and the deltas appended after it. Loading takes the
// newest snapshot and applies every delta whose UID is above the
// snapshot's applied_through (a crash between writing a snapshot and
// expunging the deltas it folded leaves both; the UIDs tell them apart).
// Writing a snapshot expunges the snapshots and deltas it replaces.
//
// Intents. Mailbox "intents" of each system account holds the Junk
// training that IMAP moves on that core asked for and no delta has applied
// yet (appliance/spam/training_intent.h: one blob per move, or per
// training_queue_max messages of it), in UID order; the training worker
// expunges them once the deltas that applied them are durable.
//
// Blocking functions here are for the offline CLI and for the daemon's
// start (before the cores serve); the daemon's cores write through
// spam_training (commit_driver, on the owner core).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "filter/classifier/training_state.h"
#include "kernel_io/base/result.h"
#include "store/message_store.h"

namespace appliance {

// The system account of `core`'s shard (deterministic for a shard count).
store::account_id filter_system_account(const store::message_store& st, store::core_id core);
inline constexpr std::uint64_t filter_system_account_min = 1ull << 62;

// The mailbox name of the global store and of an account's store.
std::string filter_mailbox_name(std::optional<std::uint64_t> account);
// Where that mailbox's system account lives: core 0 for the global store,
// the account's owner core otherwise.
store::account_id filter_state_owner(const store::message_store& st, std::optional<std::uint64_t> account);

// What was found in one filter mailbox.
struct loaded_filter_state {
  filter::training_state state;
  std::uint64_t applied_through = 0;   // UID of the last delta (or snapshot) applied
  std::vector<std::uint32_t> folded;   // UIDs a new snapshot replaces (all of them)
  std::uint64_t delta_bytes = 0;       // deltas since the snapshot (when to write the next one)
  std::vector<std::string> problems;   // blobs that could not be read or decoded (skipped)
};

// Reads the state of `account` (nullopt: the global store). An absent
// system account or mailbox is an empty state. Runs on the owner core of
// the system account (or on a single thread that drives every shard).
kio::result<loaded_filter_state, std::string> load_filter_state(const store::message_store& st,
                                                                 std::optional<std::uint64_t> account);

// Ensures the system account and the mailbox exist, appending what is
// missing: the mailbox id, or nullopt when the system account's creation
// was appended (it is visible only once durable: flush `last_ticket` and
// call again). A mailbox just created is usable once `last_ticket` is
// durable (the caller's next flush on that core covers it).
kio::result<std::optional<store::mailbox_id>, std::string> ensure_filter_mailbox(
    store::message_store& st, std::optional<std::uint64_t> account, store::store_ticket* last_ticket);

// The same for `core`'s intents mailbox.
inline constexpr std::string_view filter_intents_mailbox_name = "intents";
kio::result<std::optional<store::mailbox_id>, std::string> ensure_intents_mailbox(store::message_store& st,
                                                                                  store::core_id core,
                                                                                  store::store_ticket* last_ticket);

// Messages of `account` whose training is recorded (an intent) and not yet
// applied: what the daemon's next start trains. Blocking (CLI).
struct pending_training {
  std::uint64_t messages = 0;
  std::uint64_t intents = 0;
  std::vector<std::string> problems;  // intents that could not be read or decoded
};
pending_training pending_training_of(const store::message_store& st, std::uint64_t account);

// Blocking (CLI): writes `state` as a new snapshot and expunges the UIDs in
// `folded`, each step durable before the next.
kio::result<void, std::string> save_filter_snapshot_blocking(store::message_store& st,
                                                             std::optional<std::uint64_t> account,
                                                             const filter::training_state& state,
                                                             std::uint64_t applied_through,
                                                             const std::vector<std::uint32_t>& folded);

// The accounts with a state in the store on `core` (their mailboxes in that
// core's system account).
std::vector<std::uint64_t> filter_state_accounts(const store::message_store& st, store::core_id core);

// 64-bit message identity of a stored blob, for the training ledger.
std::uint64_t filter_message_id(const store::blob_key& key);

}  // namespace appliance
