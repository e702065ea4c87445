#pragma once
// The baseline: a minimal, competent epoll echo server. One thread pinned to
// one CPU, non-blocking sockets, edge-triggered epoll, one read buffer per
// thread, output buffered per connection only when the socket is full. TLS
// is BoringSSL on the socket itself (SSL_set_fd), from the very same
// SSL_CTX ringmail uses, so both servers negotiate the same cipher with the
// same certificate.
//
// It speaks the same two protocols as ringmail_echo_server (echo_common.h)
// and has no limits or timeouts beyond the line cap: it is the cost floor of
// "a readiness loop plus the system calls", not a production server.
//
// Lifecycle: start() returns once the listeners are bound; stop() wakes the
// loop through an eventfd, closes everything and joins.

#include <time.h>

#include <memory>
#include <string>
#include <thread>

#include "bench/runtime/echo_common.h"
#include "protocols/tls/context.h"

namespace echo_bench {

class epoll_echo_server {
 public:
  static std::unique_ptr<epoll_echo_server> start(std::shared_ptr<const tls::server_context> tls, int cpu,
                                                  size_t read_buffer_bytes, std::string& error);
  ~epoll_echo_server();
  void stop();

  // System calls the loop made, for "syscalls per operation". Inside TLS a
  // read or write call is one SSL_read/SSL_write, which is one socket call
  // in the common case.
  struct counters {
    uint64_t waits = 0;
    uint64_t reads = 0;
    uint64_t writes = 0;
  };
  counters stats() const;

  const server_ports& ports() const { return _ports; }
  clockid_t cpu_clock() const { return _cpu_clock; }

 private:
  struct state;
  epoll_echo_server() = default;

  std::unique_ptr<state> _state;
  std::thread _thread;
  server_ports _ports;
  clockid_t _cpu_clock{};
  int _wake_fd = -1;
  bool _stopped = false;
};

}  // namespace echo_bench
