#include "kernel_io/net/connect.h"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "kernel_io/ring/linked_pair.h"
#include "kernel_io/ring/ops.h"

namespace kio {

namespace {
class connect_awaiter {
 public:
  connect_awaiter(int fd, const socket_address& address, uint64_t timeout_ms)
      : _fd(fd), _address(address), _ts{int64_t(timeout_ms / 1000), int64_t(timeout_ms % 1000) * 1'000'000} {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    _pair.arm(h);
    reactor* r = reactor::current();
    io_uring_sqe* c = r->sqe();
    io_uring_prep_connect(c, _fd, _address.get(), _address.length());
    io_uring_sqe_set_flags(c, IOSQE_IO_LINK);
    io_uring_sqe_set_data(c, static_cast<completion*>(&_pair.first));
    io_uring_sqe* t = r->sqe();
    io_uring_prep_link_timeout(t, &_ts, 0);
    io_uring_sqe_set_data(t, static_cast<completion*>(&_pair.second));
  }
  result<void, sys_error> await_resume() const {
    if (_pair.first.res == -ECANCELED) return fail(sys_error{ETIMEDOUT});
    if (_pair.first.res < 0) return fail(sys_error{-_pair.first.res});
    return {};
  }

 private:
  int _fd;
  socket_address _address;
  __kernel_timespec _ts;
  linked_pair _pair;  // first: the connect, second: its link timeout
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
