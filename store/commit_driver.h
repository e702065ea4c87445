#pragma once
// commit_driver: group commit on a reactor. One per shard, created and run
// on that shard's core; lives as long as the store.
//
// Writers append through message_store (appended, in memory) and then
// `co_await driver.flush(ticket)`. The driver's loop (run(), spawned once on
// the core's reactor) takes everything appended as one batch, writes each
// segment's bytes with a linked io_uring write+fdatasync (fsync of the
// segments directory too when a segment is new), completes the batch in the
// store (which applies it to the indexes: durable before visible) and
// resumes exactly the writers whose tickets that batch covered. Whatever is
// appended while a batch is in flight waits for the next one: one fdatasync
// serves everyone who arrived during the previous one. The backup mirror is
// written the same way, after the writers are resumed, so backup never
// delays an acknowledgement.

#include <coroutine>
#include <vector>

#include "kernel_io/ring/task.h"
#include "store/message_store.h"

namespace store {

class commit_driver {
 public:
  commit_driver(message_store& store, core_id core);
  ~commit_driver();
  commit_driver(const commit_driver&) = delete;
  commit_driver& operator=(const commit_driver&) = delete;

  class flush_awaiter {
   public:
    bool await_ready() const;
    void await_suspend(std::coroutine_handle<> h);
    kio::result<void, errc> await_resume() const;

   private:
    friend class commit_driver;
    flush_awaiter(commit_driver& d, store_ticket t) : _driver(d), _ticket(t) {}
    commit_driver& _driver;
    store_ticket _ticket;
  };
  // Completes once the ticket's record is durable (ok) or its batch failed
  // (the error: no_space, file_too_large, io_error).
  flush_awaiter flush(store_ticket ticket) { return flush_awaiter(*this, ticket); }

  kio::task<void> run();
  // run() returns once nothing is pending.
  void stop();
  std::uint64_t backup_errors() const { return _backup_errors; }

 private:
  struct idle_awaiter {
    commit_driver& driver;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept { driver._idle = h; }
    void await_resume() const noexcept {}
  };
  struct waiter {
    store_ticket ticket;
    std::coroutine_handle<> handle;
  };
  void wake_loop();
  kio::task<kio::result<void, errc>> write_and_sync(int fd, std::string_view bytes, std::uint64_t offset);
  kio::task<void> mirror(const log::commit_batch& batch);

  message_store& _store;
  core_id _core;
  int _directory_fd = -1;
  std::vector<waiter> _waiters;
  std::coroutine_handle<> _idle;
  bool _stopping = false;
  std::uint64_t _backup_errors = 0;
};

}  // namespace store
