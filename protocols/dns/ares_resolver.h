#pragma once
// ares_resolver: dns::resolver over c-ares, driven by the core's io_uring.
//
// c-ares does the DNS work (query encoding, retries over the configured
// servers, TCP fallback on truncation, answer parsing); the runtime does the
// waiting. c-ares reports the sockets it wants watched through its
// socket-state callback; each one gets a one-shot IORING_OP_POLL_ADD whose
// completion calls ares_process_fd and re-arms. c-ares's own retry and
// timeout clock is one reactor timer set from ares_timeout() after every
// step. So a lookup costs no thread and no blocking call: the coroutine
// awaiting it sleeps until the answer's CQE.
//
// Lifecycle: one per core, created and destroyed on that core's reactor
// thread. Destroying it completes every lookup in flight with
// errc::shutting_down (c-ares calls their callbacks with ARES_EDESTRUCTION);
// polls still in the ring are removed and their CQEs are absorbed by watch
// objects that the resolver keeps until they arrive, so destroy it only
// while its reactor still runs.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernel_io/base/result.h"
#include "kernel_io/ring/timer.h"
#include "protocols/dns/resolver.h"

struct ares_channeldata;

namespace kio {
class reactor;
}

namespace dns {

struct resolver_options {
  // "127.0.0.1", "127.0.0.1:5353", "[::1]:53". Empty: the nameservers of
  // /etc/resolv.conf.
  std::vector<std::string> servers;
  uint32_t timeout_ms = 2000;  // per try; c-ares doubles it per round over the servers
  uint32_t attempts = 2;       // tries per server
};

class ares_resolver final : public resolver {
 public:
  static kio::result<std::unique_ptr<ares_resolver>, std::string> create(const resolver_options& options);
  ~ares_resolver() override;
  ares_resolver(const ares_resolver&) = delete;
  ares_resolver& operator=(const ares_resolver&) = delete;

  kio::task<lookup<std::vector<mx_record>>> mx(std::string name) override;
  kio::task<lookup<std::vector<ip_address>>> a(std::string name) override;
  kio::task<lookup<std::vector<ip_address>>> aaaa(std::string name) override;
  kio::task<lookup<std::vector<txt_record>>> txt(std::string name) override;
  kio::task<lookup<std::vector<std::string>>> ptr(ip_address address) override;

  struct socket_watch;  // one polled c-ares socket (ares_resolver.cpp)
  struct query;         // one query's answer, in the awaiting frame
  struct query_awaiter;

 private:
  ares_resolver();
  void on_socket_state(int fd, bool readable, bool writable);
  void arm_poll(socket_watch& w);
  void on_poll(socket_watch& w, int32_t res);
  void process(int read_fd, int write_fd);
  void reschedule_timer();
  static void on_timer(kio::timer* t);
  static void socket_state_callback(void* data, int fd, int readable, int writable);

  struct clock_timer : kio::timer {
    clock_timer() : kio::timer(&ares_resolver::on_timer) {}
    ares_resolver* owner = nullptr;
  };

  ares_channeldata* _channel = nullptr;
  kio::reactor* _reactor = nullptr;
  clock_timer _timer;
  std::unordered_map<int, std::unique_ptr<socket_watch>> _watches;
  // Watches whose socket c-ares has closed while their poll was in the ring:
  // kept until the poll's final CQE, which points at them.
  std::vector<std::unique_ptr<socket_watch>> _retired;
  bool _destroying = false;
};

}  // namespace dns
