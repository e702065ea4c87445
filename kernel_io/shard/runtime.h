#pragma once
// runtime: the process's reactors, one thread per core, plus the worker pool
// and the signal handling.
//
// run() starts `cores` threads; each creates its reactor on its own thread
// (the ring is single-issuer), runs `per_core_main(reactor)` as its first
// task, and loops until stopped. The calling thread waits for signals:
// SIGTERM and SIGINT start a graceful stop on every core (listeners close,
// idle sessions are told to say goodbye, the rest get `shutdown_grace_ms` to
// finish before their sockets are shut), SIGHUP calls `on_reload`. run()
// returns once every reactor has finished its tasks: 0, or 1 if a reactor
// could not start (its error is in start_error()).

#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kernel_io/ring/reactor.h"
#include "kernel_io/shard/worker_pool.h"

namespace kio {

struct runtime_config {
  unsigned cores = 0;            // 0 = every online CPU
  bool pin_threads = true;
  unsigned worker_threads = 1;
  uint64_t shutdown_grace_ms = 10'000;
  reactor_config reactor;        // id and cpu are set per core
};

class runtime {
 public:
  explicit runtime(const runtime_config& config);
  ~runtime();

  using core_main = std::function<task<void>(reactor&)>;
  int run(core_main per_core_main, std::function<void()> on_reload = {});

  // Starts a graceful stop; callable from any thread, any number of times.
  void request_stop();

  unsigned cores() const { return _cores; }
  reactor& core(unsigned i) { return *_reactors[i]; }
  worker_pool& workers() { return *_workers; }
  const std::string& start_error() const { return _start_error; }

 private:
  runtime_config _config;
  unsigned _cores;
  std::unique_ptr<worker_pool> _workers;
  std::vector<reactor*> _reactors;
  std::vector<std::thread> _threads;
  std::atomic<unsigned> _started{0};
  std::atomic<unsigned> _finished{0};
  std::atomic<bool> _stop_requested{false};
  std::atomic<bool> _stop_sent{false};
  std::atomic<bool> _go{false};
  std::string _start_error;
  sigset_t _old_mask{};  // restored when the runtime goes
  std::mutex _error_mutex;
};

}  // namespace kio
