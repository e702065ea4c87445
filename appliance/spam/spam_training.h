#pragma once
// The daemon's token stores and their training.
//
// Stores. The global store is loaded from the message store at start
// (filter_state_store.h; or read from the file [spam] token_store when that
// is set) and is immutable while the cores run: every core reads it. A
// per-account store lives on the account's owner core and is changed there
// only, by training; the inline filter classifies a message for one account
// on that core (classify_for), adding the account's counts to the global
// ones.
//
// Training (IMAP moves into and out of Junk). The sink (spam_training_sink)
// runs on the account's owner core in the move's three steps
// (appliance/imap/junk_training.h): prepare() makes sure the core's
// "intents" mailbox exists (filter_state_store.h; once per data directory
// and core, one or two group commits); record() appends the move's
// training intent (training_intent.h: account, verdict, blob keys; one
// blob and one delivery per training_queue_max messages) right after the
// move's records, so the move's own group commit makes it durable: no
// extra fdatasync, and the client's OK comes after the intent is on disk;
// train() wakes the core's worker. Messages above [spam]
// training_message_bytes_max are left out unread (logged).
//
// One worker coroutine per core reads the intents in UID order, one at a
// time (the in-memory window: at most training_queue_max blob keys; the
// rest wait on disk, so a user moving 10,000 messages costs bounded
// memory and nothing is dropped), in batches of [spam]
// training_batch_messages: per message it reads the blob, tokenizes it and
// applies the train-on-error plan (filter::training_state), yielding to
// the reactor after each message; per batch and account it appends one
// delta blob to the account's filter mailbox and awaits its group commit;
// the intents the batch finished are expunged right after the batch's last
// delta, in its group commit (after it in the log: durable only with it).
// When the deltas since
// the last snapshot pass [spam] snapshot_every_bytes, it writes a snapshot
// and expunges what it folds.
//
// What survives what. An intent is removed only after every delta that
// applied it is durable; at start (start()) each core's worker replays the
// intents still there. Replaying one whose messages a delta already
// applied (an intent taken in part when the kill came, a batch whose
// earlier accounts' deltas were durable and whose last was not, a torn
// write that kept a delta and cut the expunge after it) changes nothing:
// the ledger knows the message is already trained so (a message's final
// class, and so the counts, depend only on its last verdict). So kill -9, a crash or a
// power cut loses no acknowledged move's training; a graceful stop drains
// until server.shutdown_grace_ms ends and leaves the rest on disk for the
// next start (logged). A move whose intent could not be appended (a
// store error: then the move's own flush usually fails too) is logged as
// not recorded.
//
// Cores: spam_shared is built before the cores start; per-core parts are
// touched only by their core.

#include <atomic>
#include <cstdint>
#include <span>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "appliance/config/config.h"
#include "appliance/daemon/per_core.h"
#include "appliance/imap/junk_training.h"
#include "appliance/observe/log.h"
#include "appliance/spam/training_intent.h"
#include "filter/classifier/classifier.h"
#include "filter/classifier/features.h"
#include "filter/classifier/training_state.h"
#include "kernel_io/ring/task.h"
#include "kernel_io/shard/runtime.h"
#include "store/message_store.h"

namespace appliance {

struct smtp_shared;
struct smtp_listeners_shared;

// One account's store on its owner core.
struct account_filter_state {
  filter::training_state state;
  std::uint64_t applied_through = 0;       // UID of the last delta written
  std::vector<std::uint32_t> stored_uids;  // its filter mailbox's UIDs (snapshot + deltas)
  std::uint64_t delta_bytes = 0;           // since the last snapshot
};

// Per core, touched only on that core.
struct spam_core_state {
  std::unordered_map<std::uint64_t, account_filter_state> accounts;  // owned by this core
  // Junk training: this core's intents mailbox (once it exists), and the
  // worker's window over it.
  std::optional<store::mailbox_id> intents_mailbox;
  bool preparing = false;              // prepare() is creating the mailbox
  bool worker_running = false;
  std::uint32_t cursor_uid = 0;        // the intent in the window (UID; 0: none yet)
  training_intent current;             // its items; next is the first not taken
  std::size_t next = 0;
  std::vector<std::uint32_t> finished; // intents wholly taken, removed once their deltas are durable
  std::uint64_t sequence = 0;          // last training_intent::sequence written
  std::uint64_t trained = 0;           // messages whose training changed a store
  // The inline filter's scanners, reused message after message: a message
  // takes one and gives it back (at most idle_scanners_max kept).
  std::vector<std::unique_ptr<filter::feature_scanner>> idle_scanners;
  std::vector<double> clue_scratch;  // classify_here's clue buffer
};

class spam_shared {
 public:
  spam_shared(kio::runtime& runtime, store::message_store& store, const per_core_snapshot<config>& configs,
              const logger& log);

  // Before the cores start: the global store and every account's store.
  // Problems (unreadable blobs) are logged and printed; the daemon serves.
  void load(const config& cfg);
  // Wiring, before the cores start: the commit drivers and their holders.
  void attach(smtp_shared& smtp, smtp_listeners_shared& listeners) {
    _smtp = &smtp;
    _listeners = &listeners;
  }

  // Immutable while the cores run; null or untrained: no global counts.
  const std::shared_ptr<const filter::token_store>& global() const { return _global; }
  // Whether any store (global or an account's) was trained on both classes
  // when the daemon started, i.e. whether the filter has anything to say.
  bool active() const { return _active.load(std::memory_order_relaxed); }
  bool bigrams() const;
  bool case_tokens() const;  // the global store's feature flags

  // On any core: the score of a message (its unique token hashes) for one
  // account (nullopt: global counts only), computed on the account's owner
  // core. `hashes` must stay alive until the task completes.
  kio::task<filter::spam_score> classify_for(std::optional<std::uint64_t> account,
                                             std::span<const std::uint64_t> hashes);
  // On a core: the same score when it is computed on this core (global
  // counts only, or the account's owner is this core), without a task;
  // nullopt when classify_for() has to hop to the owner core.
  std::optional<filter::spam_score> classify_if_here(std::optional<std::uint64_t> account,
                                                     std::span<const std::uint64_t> hashes);

  // On a core: a scanner built for `options`, ready for a message: one of
  // this core's idle ones when one fits (allocation-free once warm);
  // give_back() when the message is done, or abandoned (on any core: it is
  // reset and joins that core's idle ones).
  std::unique_ptr<filter::feature_scanner> take_scanner(const filter::tokenizer_options& options);
  void give_back(std::unique_ptr<filter::feature_scanner> scanner);
  static constexpr std::size_t idle_scanners_max = 16;

  // Junk training, on the account's owner core (spam_training_sink).
  kio::task<void> prepare(std::uint64_t account);
  std::optional<store::store_ticket> record(const training_event& event);
  void wake();
  // On each core once it serves (its commit driver runs): replays the
  // intents left by the last run.
  void start();

  // On the owner core (tests, stats): the account's store, or null.
  const account_filter_state* account_state(std::uint64_t account) const;

 private:
  static kio::task<void> worker(spam_shared* self, unsigned core);
  bool load_next_intent(unsigned core);
  std::size_t intents_left(unsigned core) const;
  kio::task<std::optional<store::mailbox_id>> filter_mailbox(unsigned core, std::uint64_t account);
  // `intents_done` (may be null): intents to expunge in the delta's group
  // commit (the expunge after the delivery: durable only with it).
  kio::task<bool> write_delta(unsigned core, std::uint64_t account, std::string bytes,
                              const std::vector<std::uint32_t>* intents_done);
  kio::task<bool> write_snapshot(unsigned core, std::uint64_t account);
  filter::spam_score classify_here(std::optional<std::uint64_t> account, std::span<const std::uint64_t> hashes);

  kio::runtime& _runtime;
  store::message_store& _store;
  const per_core_snapshot<config>& _configs;
  const logger& _log;
  smtp_shared* _smtp = nullptr;
  smtp_listeners_shared* _listeners = nullptr;
  std::shared_ptr<const filter::token_store> _global;
  std::atomic<bool> _active{false};  // set at load, and by training on any core
  // Which accounts may have a store of their own: a bit per hash of the
  // account id, set (never cleared) on the owner core when a store appears.
  // A message for an account whose bit is clear is scored on the session's
  // core with the global counts, without a hop to the owner core; a false
  // positive only costs that hop.
  static constexpr std::size_t store_bits = 1u << 16;
  std::unique_ptr<std::atomic<std::uint64_t>[]> _has_store{new std::atomic<std::uint64_t>[store_bits / 64]{}};
  static std::size_t store_bit(std::uint64_t account) {
    return static_cast<std::size_t>((account * 0x9e3779b97f4a7c15ull) >> 48);
  }
  void mark_store(std::uint64_t account) {
    _has_store[store_bit(account) / 64].fetch_or(1ull << (store_bit(account) % 64), std::memory_order_relaxed);
  }
  bool may_have_store(std::uint64_t account) const {
    return (_has_store[store_bit(account) / 64].load(std::memory_order_relaxed) >> (store_bit(account) % 64)) & 1;
  }
  std::vector<std::unique_ptr<spam_core_state>> _cores;
};

// The IMAP service's training hook (appliance/imap/junk_training.h): logs
// each event (`junk_training`), records its intent in the move's group
// commit and wakes the owner core's worker.
class spam_training_sink final : public training_sink {
 public:
  spam_training_sink(spam_shared& shared, const logger& log) : _shared(shared), _logging(log) {}
  kio::task<void> prepare(uint64_t account) override { return _shared.prepare(account); }
  std::optional<store::store_ticket> record(const training_event& event) override { return _shared.record(event); }
  void train(const training_event& event) override {
    _logging.train(event);
    _shared.wake();
  }

 private:
  spam_shared& _shared;
  logging_training_sink _logging;
};

}  // namespace appliance
