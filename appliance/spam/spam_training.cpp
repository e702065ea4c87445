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

kio::task<void> spam_shared::prepare(std::uint64_t account) {
  unsigned core = kio::reactor::current()->id();
  spam_core_state& cs = *_cores[core];
  // Two sessions must not both create the mailbox (a creation is visible
  // only once durable): the second waits for the first.
  while (cs.preparing) co_await kio::sleep_for(1);
  if (cs.intents_mailbox || !_smtp) co_return;
  cs.preparing = true;
  store::commit_driver& driver = *_smtp->cores[core]->driver;
  // The system account's creation takes one group commit before its
  // mailbox can be created.
  for (int attempt = 0; attempt < 2; ++attempt) {
    store::store_ticket ticket;
    auto made = ensure_intents_mailbox(_store, store::core_id{core}, &ticket);
    if (!made) {
      _log.error("spam_training").kv("account", account).kv("error", made.error());
      break;
    }
    if (ticket.ticket.lsn != 0) {
      auto durable = co_await driver.flush(ticket);
      if (!durable) {
        _log.error("spam_training").kv("account", account).kv("error", store::to_string(durable.error()));
        break;
      }
    }
    if (*made) {
      cs.intents_mailbox = *made;
      break;
    }
  }
  cs.preparing = false;
}

std::optional<store::store_ticket> spam_shared::record(const training_event& event) {
  unsigned core = kio::reactor::current()->id();
  spam_core_state& cs = *_cores[core];
  std::shared_ptr<const config> cfg = _configs.get(core);
  auto not_recorded = [&](std::string_view why, std::uint64_t messages) {
    _log.error("spam_training_not_recorded")
        .kv("account", event.account)
        .kv("messages", messages)
        .kv("error", why);
  };
  if (!cs.intents_mailbox) {
    not_recorded("no intents mailbox", event.blobs.size());
    return std::nullopt;
  }
  training_intent intent;
  intent.account = event.account;
  intent.spam = event.verdict == training_verdict::spam;
  std::uint64_t too_big = 0;
  for (std::size_t i = 0; i < event.blobs.size(); ++i) {
    // Reading a huge blob is a blocking read of all of it on this core, and
    // only its first text_bytes_max of text would be tokenized anyway.
    if (i < event.blob_sizes.size() && event.blob_sizes[i] > cfg->spam.training_message_bytes_max) {
      ++too_big;
      continue;
    }
    intent.blobs.push_back(event.blobs[i]);
  }
  if (too_big != 0)
    _log.info("spam_training_skipped")
        .kv("account", event.account)
        .kv("messages", too_big)
        .kv("bytes_max", cfg->spam.training_message_bytes_max);
  const store::account_id system = filter_system_account(_store, store::core_id{core});
  const std::size_t per_intent = std::max<std::uint64_t>(1, cfg->spam.training_queue_max);
  std::optional<store::store_ticket> last;
  std::string bytes;
  for (std::size_t from = 0; from < intent.blobs.size(); from += per_intent) {
    training_intent part;
    part.account = intent.account;
    part.spam = intent.spam;
    std::size_t to = std::min(intent.blobs.size(), from + per_intent);
    part.blobs.assign(intent.blobs.begin() + std::ptrdiff_t(from), intent.blobs.begin() + std::ptrdiff_t(to));
    part.sequence = cs.sequence = std::max<std::uint64_t>(cs.sequence + 1, std::uint64_t(now_ms()) << 20);
    bytes.clear();
    encode_training_intent(part, bytes);
    // The intent's blob and its delivery share the move's group commit
    // (store/README.md "A delivery in its blob's group commit": same core,
    // the delivery after the blob, blob_size given).
    auto blob = _store.store_blob(store::core_id{core}, bytes);
    if (!blob || _store.state(blob->ticket) == store::log::ticket_state::failed) {
      not_recorded(blob ? "log failed" : store::to_string(blob.error()), intent.blobs.size() - from);
      return last;
    }
    store::delivery_request d;
    d.account = system;
    d.mailbox = *cs.intents_mailbox;
    d.key = blob->key;
    d.blob_size = blob->size;
    d.internal_date_ms = now_ms();
    d.ignore_quota = true;
    auto delivered = _store.append_delivery(d);
    if (!delivered) {
      not_recorded(store::to_string(delivered.error()), intent.blobs.size() - from);
      return last;
    }
    last = delivered->ticket;
  }
  return last;
}

void spam_shared::wake() {
  unsigned core = kio::reactor::current()->id();
  spam_core_state& cs = *_cores[core];
  if (cs.worker_running || !_smtp || !_listeners) return;
  cs.worker_running = true;
  kio::reactor::current()->spawn(worker(this, core));
}

void spam_shared::start() {
  unsigned core = kio::reactor::current()->id();
  spam_core_state& cs = *_cores[core];
  const auto* box = _store.find_mailbox(filter_system_account(_store, store::core_id{core}), filter_intents_mailbox_name);
  if (!box) return;
  cs.intents_mailbox = box->id;
  if (box->messages.empty()) return;
  _log.info("spam_training_replay").kv("intents", uint64_t(box->messages.size()));
  wake();
}

std::size_t spam_shared::intents_left(unsigned core) const {
  const spam_core_state& cs = *_cores[core];
  if (!cs.intents_mailbox) return 0;
  const auto* box = _store.mailbox(filter_system_account(_store, store::core_id{core}), *cs.intents_mailbox);
  if (!box) return 0;
  return static_cast<std::size_t>(std::distance(box->messages.upper_bound(cs.cursor_uid), box->messages.end()));
}

bool spam_shared::load_next_intent(unsigned core) {
  spam_core_state& cs = *_cores[core];
  if (!cs.intents_mailbox) return false;
  store::account_id system = filter_system_account(_store, store::core_id{core});
  const auto* box = _store.mailbox(system, *cs.intents_mailbox);
  if (!box) return false;
  auto it = box->messages.upper_bound(cs.cursor_uid);
  if (it == box->messages.end()) return false;
  cs.cursor_uid = it->first;
  cs.current = training_intent{};
  cs.next = 0;
  auto bytes = _store.read_blob(it->second.key);
  std::string problem;
  if (!bytes) {
    problem = store::to_string(bytes.error());
  } else if (auto decoded = decode_training_intent(*bytes); !decoded) {
    problem = intent_errc_name(decoded.error());
  } else {
    cs.current = std::move(*decoded);
  }
  // An intent that cannot be read now never will be: it is removed (with
  // the batch it was taken in) rather than tried at every start.
  if (!problem.empty())
    _log.error("spam_training_intent").kv("uid", uint64_t(it->first)).kv("error", problem);
  if (cs.current.blobs.empty()) cs.finished.push_back(cs.cursor_uid);
  return true;
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

kio::task<bool> spam_shared::write_delta(unsigned core, std::uint64_t account, std::string bytes,
                                         const std::vector<std::uint32_t>* intents_done) {
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
  store::store_ticket last = delivered->ticket;
  if (intents_done && !intents_done->empty() && _cores[core]->intents_mailbox) {
    // After the delta in the same log: durable only if the delta is.
    auto gone = _store.expunge(d.account, *_cores[core]->intents_mailbox, *intents_done);
    if (!gone) co_return false;
    last = gone->ticket;
  }
  auto durable = co_await driver.flush(last);
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
  // gone, and nothing new starts once they are stopping. One hold while
  // intents are left: a graceful stop drains them until its grace period
  // ends; what is left then stays on disk for the next start.
  if (!hold_commit_drivers(*self->_listeners)) {
    self->_log.info("spam_training_deferred").kv("intents", uint64_t(self->intents_left(core))).kv("reason", "shutdown");
    cs.worker_running = false;
    co_return;
  }
  {
    // [spam] training_delay_ms: wait before the first batch (more moves
    // join it; tests use it to stop the daemon before anything trains).
    std::uint64_t delay = self->_configs.get(core)->spam.training_delay_ms;
    std::uint64_t until = kio::monotonic_ns() + delay * 1'000'000;
    while (delay != 0 && kio::monotonic_ns() < until && !kio::reactor::current()->stopping())
      co_await kio::sleep_for(std::min<std::uint64_t>(50, (until - kio::monotonic_ns()) / 1'000'000 + 1));
  }
  bool draining = false;
  while (true) {
    kio::reactor& r = *kio::reactor::current();
    if (r.stopping() && !draining) {
      draining = true;
      self->_log.info("spam_training_draining")
          .kv("queued", uint64_t(cs.current.blobs.size() - std::min(cs.next, cs.current.blobs.size())))
          .kv("intents", uint64_t(self->intents_left(core)));
    }
    if (r.stopping() && kio::monotonic_ns() >= r.stop_deadline_ns()) {
      // Not lost: the intents are on disk and the next start replays them
      // (an intent half taken is replayed whole; the ledger makes what it
      // already applied a no-op).
      self->_log.warning("spam_training_deferred")
          .kv("intents", uint64_t(self->intents_left(core) + (cs.next < cs.current.blobs.size() ? 1 : 0)))
          .kv("reason", "shutdown");
      break;
    }
    std::shared_ptr<const config> cfg = self->_configs.get(core);
    filter::tokenizer_options options;
    options.bigrams = self->bigrams();
    options.case_tokens = self->case_tokens();
    options.text_bytes_max = cfg->spam.text_bytes_max;
    // One batch: ops per account, in intent order.
    std::vector<std::pair<std::uint64_t, std::vector<filter::training_op>>> batch;
    std::size_t taken = 0;
    while (taken < cfg->spam.training_batch_messages) {
      if (cs.next >= cs.current.blobs.size()) {
        if (!self->load_next_intent(core)) break;
        continue;
      }
      const std::uint64_t account_id = cs.current.account;
      const bool spam = cs.current.spam;
      const store::blob_key blob = cs.current.blobs[cs.next++];
      if (cs.next == cs.current.blobs.size()) cs.finished.push_back(cs.cursor_uid);
      ++taken;
      auto& account = cs.accounts[account_id];
      std::uint64_t id = filter_message_id(blob);
      auto op = account.state.plan(id, spam);
      if (!op) continue;  // already trained so (a replay, or a second move)
      auto bytes = self->_store.read_blob(blob);
      if (!bytes) {
        self->_log.warning("spam_training")
            .kv("account", account_id)
            .kv("blob", blob.to_hex())
            .kv("error", store::to_string(bytes.error()));
        continue;
      }
      features.clear();
      filter::message_tokenizer tokenizer(features, options);
      tokenizer.feed(*bytes);
      tokenizer.finish();
      op->tokens.assign(features.unique().begin(), features.unique().end());
      account.state.apply(*op);
      self->mark_store(account_id);
      ++cs.trained;
      if (account.state.tokens.spam_messages() + self->_global->spam_messages() != 0 &&
          account.state.tokens.ham_messages() + self->_global->ham_messages() != 0)
        self->_active.store(true, std::memory_order_relaxed);
      auto it = std::find_if(batch.begin(), batch.end(), [&](const auto& b) { return b.first == account_id; });
      if (it == batch.end()) {
        batch.emplace_back(account_id, std::vector<filter::training_op>{});
        it = batch.end() - 1;
      }
      it->second.push_back(std::move(*op));
      // Tokenizing is tens of microseconds a message: let the core serve
      // between messages.
      (void)co_await kio::nop();
    }
    if (taken == 0 && cs.finished.empty()) break;
    // The intents this batch finished go once every delta that applied
    // them is durable: in the last delta's group commit, or on their own
    // when the batch wrote none (a replay); a delta that failed leaves them
    // for the next start. [spam] training_keep_intents (tests) keeps them,
    // as a kill between the delta and the expunge would.
    std::vector<std::uint32_t> finished = std::move(cs.finished);
    cs.finished.clear();
    const bool remove = !finished.empty() && !cfg->spam.training_keep_intents;
    bool all_durable = true;
    bool removed = false;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& [account, ops] = batch[i];
      std::string bytes;
      filter::encode_delta(ops, bytes);
      std::size_t messages = ops.size();
      ops.clear();
      ops.shrink_to_fit();
      const std::vector<std::uint32_t>* with = nullptr;
      if (remove && all_durable && i + 1 == batch.size()) with = &finished;
      bool ok = co_await self->write_delta(core, account, std::move(bytes), with);
      all_durable = all_durable && ok;
      removed = removed || (ok && with != nullptr);
      const auto& a = cs.accounts[account];
      self->_log.info("spam_trained")
          .kv("account", account)
          .kv("messages", uint64_t(messages))
          .kv("durable", ok)
          .kv("ham", a.state.tokens.ham_messages())
          .kv("spam", a.state.tokens.spam_messages())
          .kv("tokens", uint64_t(a.state.tokens.token_count()))
          .kv("queued", uint64_t(cs.current.blobs.size() - std::min(cs.next, cs.current.blobs.size())))
          .kv("intents", uint64_t(self->intents_left(core)));
      if (ok && cs.accounts[account].delta_bytes >= cfg->spam.snapshot_every_bytes) {
        bool snap = co_await self->write_snapshot(core, account);
        if (!snap) self->_log.error("spam_snapshot").kv("account", account).kv("error", "not written");
      }
    }
    if (remove && all_durable && !removed) {
      store::account_id system = filter_system_account(self->_store, store::core_id{core});
      auto gone = self->_store.expunge(system, *cs.intents_mailbox, finished);
      if (gone) {
        auto durable = co_await self->_smtp->cores[core]->driver->flush(gone->ticket);
        removed = bool(durable);
      }
    }
    if (remove) self->_log.info("spam_training_intents_done").kv("intents", uint64_t(finished.size())).kv("durable", removed);
    (void)co_await kio::nop();
  }
  release_commit_drivers(*self->_listeners);
  cs.worker_running = false;
}

}  // namespace appliance
