#pragma once
// Awaitables for single io_uring operations. Each awaiter lives in the
// awaiting coroutine's frame and is the operation's completion: no allocation
// per operation. They must be awaited on a reactor thread.
//
//   auto n = co_await kio::write_at(fd, bytes, offset);     // result<size_t, sys_error>
//   auto ok = co_await kio::write_then_fdatasync(fd, bytes, offset);  // linked pair
//   co_await kio::sleep_for(50);

#include <liburing.h>
#include <sys/uio.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>

#include "kernel_io/base/result.h"
#include "kernel_io/base/sys_error.h"
#include "kernel_io/ring/completion.h"
#include "kernel_io/ring/linked_pair.h"
#include "kernel_io/ring/reactor.h"

namespace kio {

using io_result = result<size_t, sys_error>;

inline io_result to_io_result(int32_t res) {
  if (res < 0) return fail(sys_error{-res});
  return size_t(res);
}

namespace detail {
inline void resume_on_cqe(completion* c, int32_t res, uint32_t flags) {
  auto* r = static_cast<resume_completion*>(c);
  r->res = res;
  r->flags = flags;
  reactor::current()->schedule(r->waiter);
}
}  // namespace detail

// One SQE, one CQE. `Prep` fills the SQE.
template <class Prep>
class [[nodiscard]] io_awaiter : resume_completion {
 public:
  explicit io_awaiter(Prep prep) : _prep(prep) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    waiter = h;
    on_cqe = &detail::resume_on_cqe;
    io_uring_sqe* s = reactor::current()->sqe();
    _prep(s);
    io_uring_sqe_set_data(s, static_cast<completion*>(this));
  }
  io_result await_resume() const { return to_io_result(res); }

 private:
  Prep _prep;
};

template <class Prep>
io_awaiter<Prep> make_op(Prep prep) {
  return io_awaiter<Prep>(prep);
}

inline auto nop() {
  return make_op([](io_uring_sqe* s) { io_uring_prep_nop(s); });
}
inline auto read_at(int fd, std::span<std::byte> into, uint64_t offset) {
  return make_op([=](io_uring_sqe* s) { io_uring_prep_read(s, fd, into.data(), unsigned(into.size()), offset); });
}
inline auto write_at(int fd, std::span<const std::byte> bytes, uint64_t offset) {
  return make_op([=](io_uring_sqe* s) { io_uring_prep_write(s, fd, bytes.data(), unsigned(bytes.size()), offset); });
}
inline auto writev_at(int fd, const iovec* iov, unsigned count, uint64_t offset) {
  return make_op([=](io_uring_sqe* s) { io_uring_prep_writev(s, fd, iov, count, offset); });
}
inline auto fdatasync(int fd) {
  return make_op([=](io_uring_sqe* s) { io_uring_prep_fsync(s, fd, IORING_FSYNC_DATASYNC); });
}
inline auto fsync(int fd) {
  return make_op([=](io_uring_sqe* s) { io_uring_prep_fsync(s, fd, 0); });
}
inline auto send(int fd, std::span<const std::byte> bytes) {
  return make_op([=](io_uring_sqe* s) { io_uring_prep_send(s, fd, bytes.data(), bytes.size(), MSG_NOSIGNAL); });
}
// Cancels every operation in flight on `fd` (their CQEs carry -ECANCELED).
inline auto cancel_fd(int fd) {
  return make_op([=](io_uring_sqe* s) { io_uring_prep_cancel_fd(s, fd, IORING_ASYNC_CANCEL_ALL); });
}

// Writes then fdatasyncs, as one linked pair: the sync starts only after the
// write succeeded, and one submission carries both. The result is the
// write's byte count once the data is durable, or the first error.
class [[nodiscard]] write_sync_awaiter {
 public:
  write_sync_awaiter(int fd, const iovec* iov, unsigned count, uint64_t offset)
      : _fd(fd), _iov(iov), _count(count), _offset(offset) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    _pair.arm(h);
    reactor* r = reactor::current();
    io_uring_sqe* w = r->sqe();
    io_uring_prep_writev(w, _fd, _use_single ? &_single : _iov, _count, _offset);
    io_uring_sqe_set_flags(w, IOSQE_IO_LINK);
    io_uring_sqe_set_data(w, static_cast<completion*>(&_pair.first));
    io_uring_sqe* f = r->sqe();
    io_uring_prep_fsync(f, _fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data(f, static_cast<completion*>(&_pair.second));
  }
  io_result await_resume() const {
    if (_pair.first.res < 0) return fail(sys_error{-_pair.first.res});
    if (_pair.second.res < 0) return fail(sys_error{-_pair.second.res});
    return size_t(_pair.first.res);
  }

 private:

  int _fd;
  const iovec* _iov;
  unsigned _count;
  uint64_t _offset;
  iovec _single{};  // the one-buffer case, so callers need not keep an iovec alive
  bool _use_single = false;
  linked_pair _pair;  // first: the write, second: the fdatasync

  friend write_sync_awaiter write_then_fdatasync(int, std::span<const std::byte>, uint64_t);
};

inline write_sync_awaiter writev_then_fdatasync(int fd, const iovec* iov, unsigned count, uint64_t offset) {
  return write_sync_awaiter(fd, iov, count, offset);
}
inline write_sync_awaiter write_then_fdatasync(int fd, std::span<const std::byte> bytes, uint64_t offset) {
  write_sync_awaiter a(fd, nullptr, 1, offset);
  a._single = iovec{const_cast<std::byte*>(bytes.data()), bytes.size()};
  a._use_single = true;
  return a;
}

// Suspends the coroutine for `ms` milliseconds (a reactor timer, no SQE).
class [[nodiscard]] sleep_awaiter {
 public:
  explicit sleep_awaiter(uint64_t ms) : _ms(ms) {}
  bool await_ready() const noexcept { return _ms == 0; }
  void await_suspend(std::coroutine_handle<> h) {
    _timer.waiter = h;
    reactor::current()->arm(_timer, monotonic_ns() + _ms * 1'000'000u);
  }
  void await_resume() const noexcept {}

 private:
  struct wake_timer : timer {
    wake_timer() : timer(&fire) {}
    static void fire(timer* t) { reactor::current()->schedule(static_cast<wake_timer*>(t)->waiter); }
    std::coroutine_handle<> waiter;
  };
  uint64_t _ms;
  wake_timer _timer;
};

inline sleep_awaiter sleep_for(uint64_t ms) { return sleep_awaiter(ms); }

}  // namespace kio
