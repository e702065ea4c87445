#include "appliance/storage/mailbox_events.h"

#include <algorithm>

#include "kernel_io/shard/cross_core.h"

namespace appliance {

mailbox_events::mailbox_events(kio::runtime& rt, const store::message_store& store) : _rt(rt), _store(store) {
  for (unsigned i = 0; i < rt.cores(); ++i) _cores.push_back(std::make_unique<core_part>());
}

void mailbox_events::count(unsigned owner, uint64_t account, unsigned core, int delta) {
  auto& per_core = _cores[owner]->remote[account];
  if (per_core.size() < _rt.cores()) per_core.resize(_rt.cores(), 0);
  if (delta > 0) ++per_core[core];
  else if (per_core[core] > 0) --per_core[core];
  if (std::all_of(per_core.begin(), per_core.end(), [](uint32_t n) { return n == 0; }))
    _cores[owner]->remote.erase(account);
}

kio::task<void> mailbox_events::add(uint64_t account, mailbox_watcher* watcher) {
  unsigned core = kio::reactor::current()->id();
  _cores[core]->local[account].push_back(watcher);
  unsigned owner = _store.owner_of(store::account_id{account}).get();
  if (owner == core) {
    count(owner, account, core, +1);
    co_return;
  }
  mailbox_events* self = this;
  co_await kio::run_on(_rt.core(owner), [self, owner, account, core] { self->count(owner, account, core, +1); });
}

void mailbox_events::remove(uint64_t account, mailbox_watcher* watcher) {
  unsigned core = kio::reactor::current()->id();
  auto it = _cores[core]->local.find(account);
  if (it == _cores[core]->local.end()) return;
  auto& list = it->second;
  auto w = std::find(list.begin(), list.end(), watcher);
  if (w == list.end()) return;
  list.erase(w);
  if (list.empty()) _cores[core]->local.erase(it);
  unsigned owner = _store.owner_of(store::account_id{account}).get();
  if (owner == core) {
    count(owner, account, core, -1);
    return;
  }
  mailbox_events* self = this;
  kio::post(_rt.core(owner), [self, owner, account, core] { self->count(owner, account, core, -1); });
}

void mailbox_events::changed(uint64_t account, uint32_t mailbox) {
  unsigned owner = kio::reactor::current()->id();
  auto it = _cores[owner]->remote.find(account);
  if (it == _cores[owner]->remote.end()) return;
  const std::vector<uint32_t>& per_core = it->second;
  for (unsigned core = 0; core < per_core.size(); ++core) {
    if (per_core[core] == 0) continue;
    if (core == owner) {
      deliver(core, account, mailbox);
      continue;
    }
    mailbox_events* self = this;
    kio::post(_rt.core(core), [self, core, account, mailbox] { self->deliver(core, account, mailbox); });
  }
}

void mailbox_events::deliver(unsigned core, uint64_t account, uint32_t mailbox) {
  auto it = _cores[core]->local.find(account);
  if (it == _cores[core]->local.end()) return;
  // A copy: a watcher may unregister (or another register) while notified.
  std::vector<mailbox_watcher*> watchers = it->second;
  for (mailbox_watcher* w : watchers) {
    auto now = _cores[core]->local.find(account);
    if (now == _cores[core]->local.end()) return;
    if (std::find(now->second.begin(), now->second.end(), w) != now->second.end()) w->mailbox_changed(mailbox);
  }
}

size_t mailbox_events::local_watchers(unsigned core, uint64_t account) const {
  auto it = _cores[core]->local.find(account);
  return it == _cores[core]->local.end() ? 0 : it->second.size();
}

}  // namespace appliance
