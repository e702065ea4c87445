#pragma once
// The echo server on ringmail's runtime: one reactor pinned to one CPU,
// multishot-accept listeners, a session_stream per connection — the same
// path a mail session takes (kernel_io connection, provided buffers, the
// line reader, the TLS engine over memory BIOs).
//
// Lifecycle: start() spawns the reactor thread and returns once its four
// listeners are bound; stop() asks the reactor to stop (listeners close,
// any session still open is shut after a short grace) and joins it.

#include <time.h>

#include <future>
#include <memory>
#include <string>
#include <thread>

#include "bench/runtime/echo_common.h"
#include "kernel_io/ring/reactor.h"
#include "protocols/tls/context.h"

namespace echo_bench {

class ringmail_echo_server {
 public:
  static std::unique_ptr<ringmail_echo_server> start(std::shared_ptr<const tls::server_context> tls, int cpu,
                                                     std::string& error);
  ~ringmail_echo_server();
  void stop();

  const server_ports& ports() const { return _ports; }
  // The reactor's counters (io_uring_enter calls, CQEs, resumes), copied on
  // the reactor's own thread: they are plain fields owned by that core.
  kio::reactor_stats stats();
  // The reactor thread's CPU clock, readable from any thread.
  clockid_t cpu_clock() const { return _cpu_clock; }

 private:
  ringmail_echo_server() = default;
  void thread_main(std::shared_ptr<const tls::server_context> tls, int cpu, std::promise<std::string>* started);

  std::thread _thread;
  kio::reactor* _reactor = nullptr;
  server_ports _ports;
  clockid_t _cpu_clock{};
  std::string _start_error;
  bool _stopped = false;
};

}  // namespace echo_bench
