#include "appliance/spam/spam_training.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "appliance/smtp/smtp_listeners.h"
#include "appliance/smtp/smtp_services.h"
#include "appliance/spam/filter_state_store.h"
#include "appliance/spam/token_store_file.h"
#include "filter/classifier/features.h"
#include "filter/tokenizer/message_tokenizer.h"
#include "kernel_io/ring/ops.h"
#include "kernel_io/shard/cross_core.h"

namespace appliance {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool trained_both(const filter::token_store& t) { return t.spam_messages() != 0 && t.ham_messages() != 0; }

}  // namespace

spam_shared::spam_shared(kio::runtime& runtime, store::message_store& store, const per_core_snapshot<config>& configs,
                         const logger& log)
    : _runtime(runtime), _store(store), _configs(configs), _log(log) {
  for (unsigned i = 0; i < runtime.cores(); ++i) _cores.push_back(std::make_unique<spam_core_state>());
}

bool spam_shared::bigrams() const {
  return _global && (_global->feature_flags() & filter::token_store::feature_bigrams) != 0;
}

bool spam_shared::case_tokens() const {
  return _global && (_global->feature_flags() & filter::token_store::feature_case) != 0;
}

void spam_shared::load(const config& cfg) {
  // Loaded even with the filter off: Junk training goes on, and a delta
  // or snapshot written over a state that was never loaded would hide the
  // stored one.
  auto report = [&](const std::string& what) {
    _log.warning("spam_store").kv("problem", what);
    std::printf("ringmail: spam filter: %s\n", what.c_str());
  };
  if (!cfg.spam.token_store.empty()) {
    auto loaded = load_token_store_file(cfg.spam.token_store, true);
    if (!loaded) {
      report("OFF: " + loaded.error());
    } else {
      _global = std::make_shared<const filter::token_store>(std::move(*loaded));
    }
  } else {
    auto loaded = load_filter_state(_store, std::nullopt);
    if (!loaded) {
      report("global store: " + loaded.error());
    } else {
      for (const auto& p : loaded->problems) report("global store: skipped " + p);
      _global = std::make_shared<const filter::token_store>(std::move(loaded->state.tokens));
    }
  }
  if (!_global) _global = std::make_shared<const filter::token_store>();
  _active = trained_both(*_global);
  std::size_t accounts = 0;
  for (unsigned core = 0; core < _cores.size(); ++core) {
    for (std::uint64_t account : filter_state_accounts(_store, store::core_id{core})) {
      auto loaded = load_filter_state(_store, account);
      if (!loaded) {
        report("account " + std::to_string(account) + ": " + loaded.error());
        continue;
      }
      for (const auto& p : loaded->problems) report("account " + std::to_string(account) + ": skipped " + p);
      account_filter_state a;
      a.state = std::move(loaded->state);
      a.applied_through = loaded->applied_through;
      a.stored_uids = std::move(loaded->folded);
      a.delta_bytes = loaded->delta_bytes;
      if (a.state.tokens.spam_messages() + _global->spam_messages() != 0 &&
          a.state.tokens.ham_messages() + _global->ham_messages() != 0)
        _active = true;
      _cores[core]->accounts.emplace(account, std::move(a));
      mark_store(account);
      ++accounts;
    }
  }
  _log.info("spam_store")
      .kv("ham", _global->ham_messages())
      .kv("spam", _global->spam_messages())
      .kv("tokens", uint64_t(_global->token_count()))
      .kv("accounts", uint64_t(accounts));
  std::printf("ringmail: spam filter: global store %llu ham, %llu spam, %zu tokens; %zu account stores\n",
              static_cast<unsigned long long>(_global->ham_messages()),
              static_cast<unsigned long long>(_global->spam_messages()), _global->token_count(), accounts);
}

const account_filter_state* spam_shared::account_state(std::uint64_t account) const {
  const auto& m = _cores[_store.owner_of(store::account_id{account}).get()]->accounts;
  auto it = m.find(account);
  return it == m.end() ? nullptr : &it->second;
}

filter::spam_score spam_shared::classify_here(std::optional<std::uint64_t> account,
                                              std::span<const std::uint64_t> hashes) {
  const filter::token_store* own = nullptr;
  if (account)
    if (const auto* a = account_state(*account)) own = &a->state.tokens;
  // Synchronous on this core: its clue buffer is free.
  std::vector<double>& scratch = _cores[kio::reactor::current()->id()]->clue_scratch;
  return filter::classify(hashes, *_global, own, filter::classifier_options{}, scratch);
}

std::unique_ptr<filter::feature_scanner> spam_shared::take_scanner(const filter::tokenizer_options& options) {
  kio::reactor* here = kio::reactor::current();
  if (here == nullptr) return std::make_unique<filter::feature_scanner>(options);
  auto& idle = _cores[here->id()]->idle_scanners;
  while (!idle.empty()) {
    std::unique_ptr<filter::feature_scanner> s = std::move(idle.back());
    idle.pop_back();
    // Idle scanners were reset when they were given back.
    if (s->fits(options)) return s;
    // Built for settings since reloaded: dropped.
  }
  return std::make_unique<filter::feature_scanner>(options);
}

void spam_shared::give_back(std::unique_ptr<filter::feature_scanner> scanner) {
  kio::reactor* here = kio::reactor::current();
  if (here == nullptr || !scanner) return;  // off the cores (shutdown): freed
  auto& idle = _cores[here->id()]->idle_scanners;
  if (idle.size() >= idle_scanners_max) return;
  // Reset now, right after the verdict, while the scanner's feature set
  // and parser state are still in the cache, instead of when the next
  // message takes it: by then the core's socket and store work has
  // evicted them. Timed in the daemon (16 sessions, one core): the reset
  // cost ~0.65 µs a message in take_scanner, ~0.4 µs here. Also resets a
  // scanner given back mid-message (the client hung up during DATA).
  scanner->start();
  idle.push_back(std::move(scanner));
}

std::optional<filter::spam_score> spam_shared::classify_if_here(std::optional<std::uint64_t> account,
                                                             std::span<const std::uint64_t> hashes) {
  unsigned here = kio::reactor::current()->id();
  if (account && !may_have_store(*account)) account.reset();
  if (account && _store.owner_of(store::account_id{*account}).get() != here) return std::nullopt;
  return classify_here(account, hashes);
}

kio::task<filter::spam_score> spam_shared::classify_for(std::optional<std::uint64_t> account,
                                                        std::span<const std::uint64_t> hashes) {
  unsigned here = kio::reactor::current()->id();
  if (account && !may_have_store(*account)) account.reset();
  unsigned owner = account ? _store.owner_of(store::account_id{*account}).get() : here;
  if (owner == here) co_return classify_here(account, hashes);
  // The account's counts change on its owner core only: classify there.
  filter::spam_score score =
      co_await kio::run_on(_runtime.core(owner), [this, account, hashes] { return classify_here(account, hashes); });
  co_return score;
}

void spam_shared::enqueue(std::uint64_t account, const std::vector<store::blob_key>& blobs,
                          const std::vector<std::uint64_t>& sizes, bool spam) {
  unsigned core = kio::reactor::current()->id();
  spam_core_state& cs = *_cores[core];
  std::shared_ptr<const config> cfg = _configs.get(core);
  std::uint64_t dropped = 0, too_big = 0;
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    // Reading a huge blob is a blocking read of all of it on this core, and
    // only its first text_bytes_max of text would be tokenized anyway.
    if (i < sizes.size() && sizes[i] > cfg->spam.training_message_bytes_max) {
      ++too_big;
      continue;
    }
    if (cs.queue.size() >= cfg->spam.training_queue_max) {
      ++dropped;
      continue;
    }
    cs.queue.push_back({account, blobs[i], spam});
  }
  if (too_big != 0)
    _log.info("spam_training_skipped")
        .kv("account", account)
        .kv("messages", too_big)
        .kv("bytes_max", cfg->spam.training_message_bytes_max);
  if (dropped != 0) {
    cs.dropped += dropped;
    _log.warning("spam_training_dropped")
        .kv("account", account)
        .kv("messages", dropped)
        .kv("queue_max", cfg->spam.training_queue_max);
  }
  if (!cs.worker_running && !cs.queue.empty() && _smtp && _listeners) {
    cs.worker_running = true;
    kio::reactor::current()->spawn(worker(this, core));
  }
}

kio::task<std::optional<store::mailbox_id>> spam_shared::filter_mailbox(unsigned core, std::uint64_t account) {
  store::commit_driver& driver = *_smtp->cores[core]->driver;
  // Creating the system account takes one group commit before its mailbox
  // can be created (a record is visible once durable).
  for (int attempt = 0; attempt < 2; ++attempt) {
    store::store_ticket ticket;
    auto made = ensure_filter_mailbox(_store, account, &ticket);
    if (!made) {
      _log.error("spam_training").kv("account", account).kv("error", made.error());
      co_return std::nullopt;
    }
    if (ticket.ticket.lsn != 0) {
      auto durable = co_await driver.flush(ticket);
      if (!durable) co_return std::nullopt;
    }
    if (*made) co_return *made;
  }
  co_return std::nullopt;
}

kio::task<bool> spam_shared::write_delta(unsigned core, std::uint64_t account, std::string bytes) {
  store::commit_driver& driver = *_smtp->cores[core]->driver;
  auto mailbox = co_await filter_mailbox(core, account);
  if (!mailbox) co_return false;
  auto blob = _store.store_blob(store::core_id{core}, bytes);
  if (!blob) co_return false;
  auto durable_blob = co_await driver.flush(blob->ticket);
  if (!durable_blob) co_return false;
  store::delivery_request d;
  d.account = filter_state_owner(_store, account);
  d.mailbox = *mailbox;
  d.key = blob->key;
  d.blob_size = blob->size;
  d.internal_date_ms = now_ms();
  d.ignore_quota = true;
  auto delivered = _store.append_delivery(d);
  if (!delivered) co_return false;
  auto durable = co_await driver.flush(delivered->ticket);
  if (!durable) co_return false;
  auto& a = _cores[core]->accounts[account];
  a.applied_through = delivered->uid;
  a.stored_uids.push_back(delivered->uid);
  a.delta_bytes += bytes.size();
  co_return true;
}

kio::task<bool> spam_shared::write_snapshot(unsigned core, std::uint64_t account) {
  store::commit_driver& driver = *_smtp->cores[core]->driver;
  auto& a = _cores[core]->accounts[account];
  std::string bytes;
  a.state.encode_snapshot(a.applied_through, bytes);
  std::vector<std::uint32_t> folded = a.stored_uids;
  auto mailbox = co_await filter_mailbox(core, account);
  if (!mailbox) co_return false;
  auto blob = _store.store_blob(store::core_id{core}, bytes);
  if (!blob) co_return false;
  auto durable_blob = co_await driver.flush(blob->ticket);
  if (!durable_blob) co_return false;
  store::account_id system = filter_state_owner(_store, account);
  store::delivery_request d;
  d.account = system;
  d.mailbox = *mailbox;
  d.key = blob->key;
  d.blob_size = blob->size;
  d.internal_date_ms = now_ms();
  d.ignore_quota = true;
  auto delivered = _store.append_delivery(d);
  if (!delivered) co_return false;
  auto durable = co_await driver.flush(delivered->ticket);
  if (!durable) co_return false;
  // The snapshot holds everything up to applied_through: what it replaces
  // can go. (A crash before this expunge leaves both; loading skips the
  // deltas at or below applied_through.)
  auto& after = _cores[core]->accounts[account];
  after.stored_uids = {delivered->uid};
  after.delta_bytes = 0;
  if (!folded.empty()) {
    auto gone = _store.expunge(system, *mailbox, folded);
    if (!gone) co_return false;
    auto done = co_await driver.flush(gone->ticket);
    if (!done) co_return false;
  }
  _log.info("spam_snapshot").kv("account", account).kv("bytes", uint64_t(bytes.size())).kv("folded", uint64_t(folded.size()));
  co_return true;
}

kio::task<void> spam_shared::worker(spam_shared* self, unsigned core) {
  spam_core_state& cs = *self->_cores[core];
  filter::feature_collector features;
  // Like a session: the commit drivers stop only after every holder is
  // gone, and nothing new starts once they are stopping. One hold for the
  // whole queue: what is queued is a user's move, acknowledged and durable,
  // that nothing else will train, so a graceful stop drains the queue until
  // its grace period ends (an upgrade's restart used to drop it).
  if (!hold_commit_drivers(*self->_listeners)) {
    self->_log.warning("spam_training_dropped").kv("messages", uint64_t(cs.queue.size())).kv("reason", "shutdown");
    cs.queue.clear();
    cs.worker_running = false;
    co_return;
  }
  bool draining = false;
  while (!cs.queue.empty()) {
    kio::reactor& r = *kio::reactor::current();
    if (r.stopping() && !draining) {
      draining = true;
      self->_log.info("spam_training_draining").kv("messages", uint64_t(cs.queue.size()));
    }
    if (r.stopping() && kio::monotonic_ns() >= r.stop_deadline_ns()) {
      self->_log.warning("spam_training_dropped").kv("messages", uint64_t(cs.queue.size())).kv("reason", "shutdown");
      cs.queue.clear();
      break;
    }
    std::shared_ptr<const config> cfg = self->_configs.get(core);
    filter::tokenizer_options options;
    options.bigrams = self->bigrams();
    options.case_tokens = self->case_tokens();
    options.text_bytes_max = cfg->spam.text_bytes_max;
    // One batch: ops per account, in queue order.
    std::vector<std::pair<std::uint64_t, std::vector<filter::training_op>>> batch;
    std::size_t taken = 0;
    while (!cs.queue.empty() && taken < cfg->spam.training_batch_messages) {
      spam_training_item item = cs.queue.front();
      cs.queue.pop_front();
      ++taken;
      auto& account = cs.accounts[item.account];
      std::uint64_t id = filter_message_id(item.blob);
      auto op = account.state.plan(id, item.spam);
      if (!op) continue;  // already trained so
      auto bytes = self->_store.read_blob(item.blob);
      if (!bytes) {
        self->_log.warning("spam_training")
            .kv("account", item.account)
            .kv("blob", item.blob.to_hex())
            .kv("error", store::to_string(bytes.error()));
        continue;
      }
      features.clear();
      filter::message_tokenizer tokenizer(features, options);
      tokenizer.feed(*bytes);
      tokenizer.finish();
      op->tokens.assign(features.unique().begin(), features.unique().end());
      account.state.apply(*op);
      self->mark_store(item.account);
      ++cs.trained;
      if (account.state.tokens.spam_messages() + self->_global->spam_messages() != 0 &&
          account.state.tokens.ham_messages() + self->_global->ham_messages() != 0)
        self->_active.store(true, std::memory_order_relaxed);
      auto it = std::find_if(batch.begin(), batch.end(), [&](const auto& b) { return b.first == item.account; });
      if (it == batch.end()) {
        batch.emplace_back(item.account, std::vector<filter::training_op>{});
        it = batch.end() - 1;
      }
      it->second.push_back(std::move(*op));
      // Tokenizing is tens of microseconds a message: let the core serve
      // between messages.
      (void)co_await kio::nop();
    }
    for (auto& [account, ops] : batch) {
      std::string bytes;
      filter::encode_delta(ops, bytes);
      std::size_t messages = ops.size();
      ops.clear();
      ops.shrink_to_fit();
      bool ok = co_await self->write_delta(core, account, std::move(bytes));
      const auto& a = cs.accounts[account];
      self->_log.info("spam_trained")
          .kv("account", account)
          .kv("messages", uint64_t(messages))
          .kv("durable", ok)
          .kv("ham", a.state.tokens.ham_messages())
          .kv("spam", a.state.tokens.spam_messages())
          .kv("tokens", uint64_t(a.state.tokens.token_count()))
          .kv("queued", uint64_t(cs.queue.size()));
      if (ok && cs.accounts[account].delta_bytes >= cfg->spam.snapshot_every_bytes) {
        bool snap = co_await self->write_snapshot(core, account);
        if (!snap) self->_log.error("spam_snapshot").kv("account", account).kv("error", "not written");
      }
    }
    (void)co_await kio::nop();
  }
  release_commit_drivers(*self->_listeners);
  cs.worker_running = false;
}

}  // namespace appliance
