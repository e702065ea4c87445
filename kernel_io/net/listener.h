#pragma once
// listener: one core's listening socket for one port.
//
// Every core binds its own socket with SO_REUSEPORT, so the kernel spreads
// incoming connections over the cores and no accept ever crosses a core.
// Accepting is one multishot IORING_OP_ACCEPT: each new connection is one
// CQE, queued here until the accept loop takes it. The multishot operation is
// re-armed only when a CQE comes without IORING_CQE_F_MORE.
// Lifecycle: created and used on its reactor's thread; close() cancels the
// accept, and accept() then returns ECANCELED once the final CQE came in. The
// listener must outlive that final CQE (the accept loop awaits it).

#include <coroutine>
#include <deque>
#include <memory>

#include "kernel_io/base/result.h"
#include "kernel_io/base/sys_error.h"
#include "kernel_io/net/socket_address.h"
#include "kernel_io/ring/completion.h"
#include "kernel_io/ring/reactor.h"

namespace kio {

struct accepted {
  int fd;
  socket_address peer;
};

class listener {
 public:
  static result<std::unique_ptr<listener>, sys_error> bind(reactor& r, const socket_address& address, int backlog = 4096);
  // Whether `address` is free to listen on, asked before the cores bind:
  // SO_REUSEPORT would otherwise let a second daemon (same user) join an
  // address already in use and silently split its connections. The probe
  // binds without SO_REUSEPORT and closes at once; EADDRINUSE means taken.
  static result<void, sys_error> probe(const socket_address& address);
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  class accept_awaiter {
   public:
    explicit accept_awaiter(listener& l) : _l(l) {}
    bool await_ready() const noexcept { return !_l._ready.empty() || _l._finished; }
    void await_suspend(std::coroutine_handle<> h) { _l._waiter = h; }
    result<accepted, sys_error> await_resume();

   private:
    listener& _l;
  };
  // The next accepted connection; ECANCELED after close().
  accept_awaiter accept() { return accept_awaiter(*this); }
  void close();

  const socket_address& address() const { return _address; }
  int fd() const { return _fd; }

 private:
  listener(reactor& r, int fd, const socket_address& address) : _reactor(r), _fd(fd), _address(address) {}
  void arm();
  static void on_accept(completion* c, int32_t res, uint32_t flags);
  static void on_rearm_timer(timer* t);

  struct accept_completion : completion {
    listener* owner;
  };
  struct rearm_timer : timer {
    rearm_timer() : timer(&listener::on_rearm_timer) {}
    listener* owner = nullptr;
  };

  reactor& _reactor;
  int _fd;
  socket_address _address;
  accept_completion _completion{};
  rearm_timer _rearm;
  bool _armed = false;
  bool _closing = false;
  bool _finished = false;  // closed and the final CQE has arrived
  std::deque<int> _ready;
  std::coroutine_handle<> _waiter;
};

}  // namespace kio
