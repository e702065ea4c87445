#pragma once
// mailbox_events: "this account's mailbox changed" from the core that made
// the change durable (the account's owner core) to every session watching
// that account, on whatever core it lives. IMAP IDLE is push because of it:
// an SMTP delivery on core 0 for an account owned by core 1 is appended and
// flushed on core 1, which posts one message to each core that has an IMAP
// session of that account, and that core wakes the sessions' reads.
//
// Two halves, both per core and touched only by their core:
//  - on a session core, `local`: account -> the watchers (IMAP mailbox
//    services) living there; a notification walks this list.
//  - on an owner core, `remote`: account -> how many watchers each core has;
//    changed() posts to each core with a non-zero count (itself directly).
//
// Registration order. add() runs the owner-side count on the owner core and
// is awaited (kio::run_on) before the watcher reads any mailbox state, so no
// durable change after its first read can miss it. remove() is posted and
// not awaited: a notification crossing it finds no watcher and is dropped.
//
// Notifications carry the mailbox id; a watcher filters on what it shows.
// They are hints, never state: the watcher re-reads the mailbox.

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "kernel_io/ring/task.h"
#include "kernel_io/shard/runtime.h"
#include "store/message_store.h"

namespace appliance {

class mailbox_watcher {
 public:
  virtual ~mailbox_watcher() = default;
  // On the watcher's core, after a durable change of one of the account's
  // mailboxes (`mailbox` is the store's mailbox id).
  virtual void mailbox_changed(uint32_t mailbox) = 0;
};

class mailbox_events {
 public:
  // The store says which core owns an account (message_store::owner_of).
  mailbox_events(kio::runtime& rt, const store::message_store& store);

  // On the watcher's core. Awaits the owner core's registration.
  kio::task<void> add(uint64_t account, mailbox_watcher* watcher);
  // On the watcher's core; the watcher may be destroyed right after.
  void remove(uint64_t account, mailbox_watcher* watcher);

  // On the owner core of `account`, after the change is durable.
  void changed(uint64_t account, uint32_t mailbox);

  // Tests and metrics: watchers registered on this core for `account`.
  size_t local_watchers(unsigned core, uint64_t account) const;

 private:
  struct alignas(64) core_part {
    std::unordered_map<uint64_t, std::vector<mailbox_watcher*>> local;
    std::unordered_map<uint64_t, std::vector<uint32_t>> remote;  // account -> watchers per core
  };
  void count(unsigned owner, uint64_t account, unsigned core, int delta);
  void deliver(unsigned core, uint64_t account, uint32_t mailbox);

  kio::runtime& _rt;
  const store::message_store& _store;
  std::vector<std::unique_ptr<core_part>> _cores;
};

}  // namespace appliance
