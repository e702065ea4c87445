#include "kernel_io/net/listener.h"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace kio {

result<std::unique_ptr<listener>, sys_error> listener::bind(reactor& r, const socket_address& address, int backlog) {
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(sys_error{errno});
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
      ::bind(fd, address.get(), address.length()) < 0 || ::listen(fd, backlog) < 0) {
    int e = errno;
    ::close(fd);
    return fail(sys_error{e});
  }
  // Port 0 in config means "any": report the one the kernel picked.
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  std::unique_ptr<listener> l(new listener(r, fd, socket_address::from(reinterpret_cast<sockaddr*>(&bound), len)));
  l->_completion.owner = l.get();
  l->_completion.on_cqe = &listener::on_accept;
  l->_rearm.owner = l.get();
  l->arm();
  return l;
}

result<void, sys_error> listener::probe(const socket_address& address) {
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(sys_error{errno});
  int one = 1;
  // SO_REUSEADDR as the real bind has it: our own connections lingering
  // in TIME_WAIT after a restart do not count as "in use".
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = ::bind(fd, address.get(), address.length());
  int e = errno;
  ::close(fd);
  if (rc < 0) return fail(sys_error{e});
  return {};
}

listener::~listener() {
  RM_ASSERT_MSG(!_armed, "listener destroyed with its accept in flight");
  _reactor.disarm(_rearm);
  for (int fd : _ready) ::close(fd);
  if (_fd >= 0) ::close(_fd);
}

void listener::arm() {
  io_uring_sqe* s = _reactor.sqe();
  io_uring_prep_multishot_accept(s, _fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data(s, static_cast<completion*>(&_completion));
  _armed = true;
}

void listener::on_accept(completion* c, int32_t res, uint32_t flags) {
  listener* self = static_cast<accept_completion*>(c)->owner;
  if (!(flags & IORING_CQE_F_MORE)) self->_armed = false;
  if (res >= 0) {
    if (self->_closing) ::close(res);
    else self->_ready.push_back(res);
  } else if (!self->_closing && (res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS)) {
    // Out of descriptors: pause accepting briefly instead of spinning.
    if (!self->_armed) {
      self->_reactor.arm(self->_rearm, monotonic_ns() + 100'000'000u);
      return;
    }
  }
  if (!self->_armed) {
    if (self->_closing) self->_finished = true;
    else if (!self->_rearm.armed()) self->arm();
  }
  if (self->_waiter && (!self->_ready.empty() || self->_finished)) {
    self->_reactor.schedule(std::exchange(self->_waiter, {}));
  }
}

void listener::on_rearm_timer(timer* t) {
  listener* self = static_cast<rearm_timer*>(t)->owner;
  if (self->_closing) {
    self->_finished = true;
    if (self->_waiter) self->_reactor.schedule(std::exchange(self->_waiter, {}));
    return;
  }
  self->arm();
}

void listener::close() {
  if (_closing) return;
  _closing = true;
  if (_armed) {
    io_uring_sqe* s = _reactor.sqe();
    io_uring_prep_cancel(s, static_cast<completion*>(&_completion), 0);
    io_uring_sqe_set_flags(s, IOSQE_CQE_SKIP_SUCCESS);
    io_uring_sqe_set_data(s, nullptr);
  } else {
    _reactor.disarm(_rearm);
    _finished = true;
    if (_waiter) _reactor.schedule(std::exchange(_waiter, {}));
  }
}

result<accepted, sys_error> listener::accept_awaiter::await_resume() {
  if (!_l._ready.empty()) {
    int fd = _l._ready.front();
    _l._ready.pop_front();
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return accepted{fd, socket_address::from(reinterpret_cast<sockaddr*>(&peer), len)};
  }
  return fail(sys_error{ECANCELED});
}

}  // namespace kio
