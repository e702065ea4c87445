#include "kernel_io/net/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "kernel_io/base/assert.h"
#include "kernel_io/ring/ops.h"

namespace kio {

connection::connection(reactor& r, int fd, const socket_address& peer, const connection_options& options)
    : _reactor(r), _fd(fd), _peer(peer), _options(options) {
  _recv.owner = this;
  _recv.on_cqe = &connection::on_recv;
  _idle.owner = this;
  _reactor.attach(this);
  arm_receive();
}

connection::~connection() {
  RM_ASSERT_MSG(!_recv_armed, "connection destroyed with its receive in flight: co_await close() first");
  RM_ASSERT_MSG(!_reader, "connection destroyed with a waiting reader");
  _reactor.disarm(_idle);
  if (!_closed) {
    release();
    for (const chunk& c : _queue) _reactor.buffers().recycle(c.buffer_id);
    _queue.clear();
    if (_fd >= 0) ::close(_fd);
  }
  _reactor.detach(this);
}

void connection::arm_receive() {
  _waiting_buffers = false;
  if (_recv_armed || _eof || _closed || _recv_error) return;
  io_uring_sqe* s = _reactor.sqe();
  io_uring_prep_recv_multishot(s, _fd, nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = buffer_ring::group_id;
  io_uring_sqe_set_data(s, static_cast<completion*>(&_recv));
  _recv_armed = true;
  _recv_cancel_sent = false;
}

void connection::pause_receive() {
  if (!_recv_armed || _recv_cancel_sent) return;
  io_uring_sqe* s = _reactor.sqe();
  io_uring_prep_cancel(s, static_cast<completion*>(&_recv), 0);
  io_uring_sqe_set_flags(s, IOSQE_CQE_SKIP_SUCCESS);
  io_uring_sqe_set_data(s, nullptr);
  _recv_cancel_sent = true;
}

void connection::maybe_resume_receive() {
  if (!_recv_armed && !_waiting_buffers && !queue_full()) arm_receive();
}

void connection::on_recv(completion* c, int32_t res, uint32_t flags) {
  connection* self = static_cast<recv_completion*>(c)->owner;
  if (!(flags & IORING_CQE_F_MORE)) self->_recv_armed = false;
  if (res > 0) {
    RM_ASSERT(flags & IORING_CQE_F_BUFFER);
    uint16_t id = uint16_t(flags >> IORING_CQE_BUFFER_SHIFT);
    self->_reactor.buffers().note_taken();
    if (self->_closed) {
      // Closing: the data cannot be used; give the buffer back.
      self->_reactor.buffers().recycle(id);
      self->_reactor.buffers_returned();
    } else {
      self->_queue.push_back({id, uint32_t(res)});
      self->_queued_bytes += uint32_t(res);
      self->_bytes_received += uint32_t(res);
      if (self->queue_full()) self->pause_receive();
    }
  } else if (res == 0) {
    self->_eof = true;
  } else if (res == -ENOBUFS) {
    self->_reactor.count_enobufs();
    self->_waiting_buffers = true;
    self->_reactor.wait_for_buffers(self);
  } else if (res != -ECANCELED) {
    self->_recv_error = -res;
  }
  if (!self->_recv_armed) {
    if (self->_closer) {
      self->_reactor.schedule(std::exchange(self->_closer, {}));
      return;
    }
    // A cancel for back-pressure, or the kernel ended the multishot receive
    // on its own: re-arm unless there is a reason not to.
    if (res > 0 || res == -ECANCELED) self->maybe_resume_receive();
  }
  if (self->_reader && (!self->_queue.empty() || self->_eof || self->_recv_error)) self->wake_reader(0);
}

bool connection::queue_full() const {
  // Each queued chunk holds a whole provided buffer, however few bytes it
  // carries: count it as full, or a client sending one byte a segment while
  // its session does not read would hold up to receive_limit_bytes buffers
  // (all of the core's, starving every other connection on it).
  return uint64_t(_queue.size()) * _reactor.buffers().size_bytes() >= _options.receive_limit_bytes;
}

void connection::wake_reader(int error) {
  _wake_error = error;
  _reactor.disarm(_idle);
  _reactor.schedule(std::exchange(_reader, {}));
}

void connection::on_idle_timeout(timer* t) {
  connection* self = static_cast<idle_timer*>(t)->owner;
  if (self->_reader) self->wake_reader(ETIMEDOUT);
}

bool connection::read_awaiter::await_ready() {
  _c.release();
  _c._wake_error = 0;
  if (!_c._queue.empty() || _c._eof || _c._recv_error || _c._closed) return true;
  if (_c._between_commands && _c._reactor.stopping()) {
    _c._wake_error = ESHUTDOWN;
    return true;
  }
  return false;
}

void connection::read_awaiter::await_suspend(std::coroutine_handle<> h) {
  RM_ASSERT_MSG(!_c._reader, "two readers on one connection");
  _c._reader = h;
  if (_timeout_ms > 0) _c._reactor.arm(_c._idle, monotonic_ns() + _timeout_ms * 1'000'000u);
}

result<std::span<std::byte>, sys_error> connection::read_awaiter::await_resume() {
  if (!_c._queue.empty()) {
    chunk ch = _c._queue.front();
    _c._queue.pop_front();
    _c._queued_bytes -= ch.length;
    _c._held_buffer = ch.buffer_id;
    _c.maybe_resume_receive();
    return _c._reactor.buffers().buffer(ch.buffer_id, ch.length);
  }
  if (_c._wake_error) return fail(sys_error{_c._wake_error});
  if (_c._recv_error) return fail(sys_error{_c._recv_error});
  if (_c._closed) return fail(sys_error{EBADF});
  return fail(sys_error{0});  // end of stream
}

void connection::release() {
  if (_held_buffer < 0) return;
  _reactor.buffers().recycle(uint16_t(_held_buffer));
  _held_buffer = -1;
  _reactor.buffers_returned();
}

bool connection::interrupt_read() {
  if (!_reader || !_queue.empty() || _eof || _recv_error) return false;
  wake_reader(EINTR);
  return true;
}

void connection::set_between_commands(bool yes) { _between_commands = yes; }

void connection::on_reactor_stop() {
  if (_reader && _between_commands && _queue.empty()) wake_reader(ESHUTDOWN);
}

void connection::abort() {
  // Shutting the socket down completes every operation on it: the receive
  // ends with 0 or an error and sends fail with EPIPE, so the session unwinds.
  if (!_closed) ::shutdown(_fd, SHUT_RDWR);
  if (_reader && _queue.empty()) wake_reader(ESHUTDOWN);
}

namespace {
// A send whose deadline cancels it. The timer sends an ASYNC_CANCEL for the
// send's user_data; the send's CQE then carries -ECANCELED.
class timed_send : resume_completion {
 public:
  timed_send(int fd, std::span<const std::byte> bytes, uint64_t timeout_ms, bool zerocopy)
      : _fd(fd), _bytes(bytes), _timeout_ms(timeout_ms), _zerocopy(zerocopy) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    waiter = h;
    on_cqe = &on_send;
    _timer.owner = this;
    reactor* r = reactor::current();
    io_uring_sqe* s = r->sqe();
    if (_zerocopy) io_uring_prep_send_zc(s, _fd, _bytes.data(), _bytes.size(), MSG_NOSIGNAL, 0);
    else io_uring_prep_send(s, _fd, _bytes.data(), _bytes.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data(s, static_cast<completion*>(this));
    if (_timeout_ms) r->arm(_timer, monotonic_ns() + _timeout_ms * 1'000'000u);
  }
  io_result await_resume() {
    if (_timed_out && res == -ECANCELED) return fail(sys_error{ETIMEDOUT});
    return to_io_result(res);
  }

 private:
  static void on_send(completion* c, int32_t res, uint32_t flags) {
    auto* self = static_cast<timed_send*>(c);
    if (flags & IORING_CQE_F_NOTIF) {
      // Zero-copy: the kernel is done with the buffer; now it may change.
      reactor::current()->schedule(self->waiter);
      return;
    }
    self->res = res;
    reactor::current()->disarm(self->_timer);
    if (!(flags & IORING_CQE_F_MORE)) reactor::current()->schedule(self->waiter);
  }
  struct deadline : timer {
    deadline() : timer(&fire) {}
    static void fire(timer* t) {
      auto* self = static_cast<deadline*>(t)->owner;
      self->_timed_out = true;
      io_uring_sqe* s = reactor::current()->sqe();
      io_uring_prep_cancel(s, static_cast<completion*>(self), 0);
      io_uring_sqe_set_flags(s, IOSQE_CQE_SKIP_SUCCESS);
      io_uring_sqe_set_data(s, nullptr);
    }
    timed_send* owner = nullptr;
  };
  int _fd;
  std::span<const std::byte> _bytes;
  uint64_t _timeout_ms;
  bool _zerocopy;
  bool _timed_out = false;
  deadline _timer;
};
}  // namespace

task<result<void, sys_error>> connection::write_all(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    if (_closed) co_return fail(sys_error{EBADF});
    bool zerocopy = _options.send_zerocopy_min_bytes > 0 && bytes.size() >= _options.send_zerocopy_min_bytes;
    auto sent = co_await timed_send(_fd, bytes, _options.send_timeout_ms, zerocopy);
    if (!sent) co_return fail(sent.error());
    if (*sent == 0) co_return fail(sys_error{EPIPE});
    _bytes_sent += *sent;
    bytes = bytes.subspan(*sent);
  }
  co_return result<void, sys_error>{};
}

namespace {
struct closer_awaiter {
  std::coroutine_handle<>* slot;
  bool ready;
  bool await_ready() const noexcept { return ready; }
  void await_suspend(std::coroutine_handle<> h) { *slot = h; }
  void await_resume() const noexcept {}
};
}  // namespace

task<void> connection::close() {
  if (_closed) co_return;
  _closed = true;
  release();
  if (_reader) wake_reader(EBADF);
  if (_recv_armed) {
    pause_receive();
    co_await closer_awaiter{&_closer, !_recv_armed};
  }
  for (const chunk& c : _queue) _reactor.buffers().recycle(c.buffer_id);
  _queue.clear();
  _queued_bytes = 0;
  _reactor.buffers_returned();
  ::close(_fd);
  _fd = -1;
}

}  // namespace kio
