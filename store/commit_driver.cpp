#include "store/commit_driver.h"

#include <fcntl.h>
#include <unistd.h>

#include <span>

#include "kernel_io/base/assert.h"
#include "kernel_io/ring/ops.h"
#include "kernel_io/ring/reactor.h"

namespace store {

commit_driver::commit_driver(message_store& store, core_id core) : _store(store), _core(core) {
  _directory_fd = ::open((store.options().data_directory + "/segments").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  RM_ASSERT_MSG(_directory_fd >= 0, "the segments directory opened by message_store::open is gone");
}

commit_driver::~commit_driver() {
  RM_ASSERT(_waiters.empty());
  if (_directory_fd >= 0) ::close(_directory_fd);
}

bool commit_driver::flush_awaiter::await_ready() const {
  return _driver._store.state(_ticket) != log::ticket_state::pending;
}
void commit_driver::flush_awaiter::await_suspend(std::coroutine_handle<> h) {
  RM_ASSERT(_ticket.core == _driver._core);
  _driver._waiters.push_back({_ticket, h});
  _driver.wake_loop();
}
kio::result<void, errc> commit_driver::flush_awaiter::await_resume() const {
  errc why{};
  const auto st = _driver._store.state(_ticket, &why);
  RM_ASSERT(st != log::ticket_state::pending);
  if (st == log::ticket_state::durable) return {};
  return kio::fail(why);
}

void commit_driver::wake_loop() {
  if (_idle) {
    auto h = std::exchange(_idle, {});
    kio::reactor::current()->schedule(h);
  }
}

void commit_driver::stop() {
  _stopping = true;
  wake_loop();
}

kio::task<kio::result<void, errc>> commit_driver::write_and_sync(int fd, std::string_view bytes,
                                                                  std::uint64_t offset) {
  std::size_t done = 0;
  int cancelled = 0;
  while (done < bytes.size()) {
    auto r = co_await kio::write_then_fdatasync(fd, std::as_bytes(std::span(bytes.data() + done, bytes.size() - done)),
                                                offset + done);
    if (!r) {
      // A short write breaks the link and cancels the fdatasync; writing the
      // same bytes at the same offset again is harmless and finds the real
      // error (ENOSPC, EFBIG) or finishes the job.
      if (r.error().code == ECANCELED && ++cancelled < 4) continue;
      co_return kio::fail(errc_from_errno(r.error().code));
    }
    if (*r == 0) co_return kio::fail(errc::no_space);
    done += *r;
  }
  co_return kio::result<void, errc>{};
}

kio::task<void> commit_driver::mirror(const log::commit_batch& batch) {
  for (const auto& w : batch.writes) {
    auto fd = _store.backup_fd(_core, w.segment);
    if (!fd) {
      ++_backup_errors;
      continue;
    }
    auto r = co_await write_and_sync(*fd, w.bytes, w.offset);
    if (!r) ++_backup_errors;
  }
}

kio::task<void> commit_driver::run() {
  for (;;) {
    if (!_store.has_pending(_core)) {
      if (_stopping && _waiters.empty()) co_return;
      co_await idle_awaiter{*this};
      continue;
    }
    log::commit_batch batch;
    _store.take_batch(_core, batch);
    kio::result<void, errc> outcome;
    bool new_file = false;
    for (const auto& w : batch.writes) {
      if (outcome) outcome = co_await write_and_sync(w.fd, w.bytes, w.offset);
      new_file = new_file || w.new_file;
    }
    if (outcome && new_file) {
      auto r = co_await kio::fsync(_directory_fd);
      if (!r) outcome = kio::fail(errc_from_errno(r.error().code));
    }
    _store.complete_batch(_core, batch, outcome, /*mirror_backup=*/false);
    // Resume exactly the writers this batch decided.
    auto* reactor = kio::reactor::current();
    std::size_t kept = 0;
    for (auto& w : _waiters) {
      if (_store.state(w.ticket) != log::ticket_state::pending)
        reactor->schedule(w.handle);
      else
        _waiters[kept++] = w;
    }
    _waiters.resize(kept);
    if (outcome && _store.has_backup()) co_await mirror(batch);
  }
}

}  // namespace store
