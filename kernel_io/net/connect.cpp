#include "kernel_io/net/connect.h"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "kernel_io/ring/ops.h"

namespace kio {

namespace {
class connect_awaiter {
 public:
  connect_awaiter(int fd, const socket_address& address, uint64_t timeout_ms)
      : _fd(fd), _address(address), _ts{int64_t(timeout_ms / 1000), int64_t(timeout_ms % 1000) * 1'000'000} {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    _waiter = h;
    _connect.parent = this;
    _timeout.parent = this;
    _connect.on_cqe = &on_part;
    _timeout.on_cqe = &on_part;
    reactor* r = reactor::current();
    io_uring_sqe* c = r->sqe();
    io_uring_prep_connect(c, _fd, _address.get(), _address.length());
    io_uring_sqe_set_flags(c, IOSQE_IO_LINK);
    io_uring_sqe_set_data(c, static_cast<completion*>(&_connect));
    io_uring_sqe* t = r->sqe();
    io_uring_prep_link_timeout(t, &_ts, 0);
    io_uring_sqe_set_data(t, static_cast<completion*>(&_timeout));
  }
  result<void, sys_error> await_resume() const {
    if (_connect.res == -ECANCELED) return fail(sys_error{ETIMEDOUT});
    if (_connect.res < 0) return fail(sys_error{-_connect.res});
    return {};
  }

 private:
  struct part : completion {
    connect_awaiter* parent = nullptr;
    int32_t res = 0;
  };
  static void on_part(completion* c, int32_t res, uint32_t) {
    auto* p = static_cast<part*>(c);
    p->res = res;
    if (--p->parent->_pending == 0) reactor::current()->schedule(p->parent->_waiter);
  }
  int _fd;
  socket_address _address;
  __kernel_timespec _ts;
  int _pending = 2;
  std::coroutine_handle<> _waiter;
  part _connect, _timeout;
};
}  // namespace

task<result<int, sys_error>> connect_to(const socket_address& address, uint64_t timeout_ms,
                                        const socket_address* source) {
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) co_return fail(sys_error{errno});
  if (source && ::bind(fd, source->get(), source->length()) < 0) {
    int e = errno;
    ::close(fd);
    co_return fail(sys_error{e});
  }
  auto done = co_await connect_awaiter(fd, address, timeout_ms);
  if (!done) {
    ::close(fd);
    co_return fail(done.error());
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  co_return fd;
}

}  // namespace kio
