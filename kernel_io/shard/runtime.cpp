#include "kernel_io/shard/runtime.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

namespace kio {

namespace {
sigset_t handled_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  return signals;
}
}  // namespace

runtime::runtime(const runtime_config& config) : _config(config) {
  // Block the signals run() waits for before any thread exists: threads
  // inherit the mask, and a SIGTERM delivered to a worker thread that does
  // not block it would kill the process instead of stopping it gracefully.
  sigset_t signals = handled_signals();
  pthread_sigmask(SIG_BLOCK, &signals, &_old_mask);
  _cores = config.cores ? config.cores : unsigned(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  _workers = std::make_unique<worker_pool>(std::max(1u, config.worker_threads));
  _reactors.assign(_cores, nullptr);
}

runtime::~runtime() {
  for (auto& t : _threads)
    if (t.joinable()) t.join();
  _workers.reset();
  pthread_sigmask(SIG_SETMASK, &_old_mask, nullptr);
}

void runtime::request_stop() { _stop_requested = true; }

int runtime::run(core_main per_core_main, std::function<void()> on_reload) {
  // Signals are handled here with sigtimedwait, so every thread blocks them.
  sigset_t signals = handled_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  long cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  for (unsigned i = 0; i < _cores; ++i) {
    _threads.emplace_back([this, i, cpus, &per_core_main] {
      reactor_config rc = _config.reactor;
      rc.id = i;
      rc.cpu = _config.pin_threads ? int(i % unsigned(cpus)) : -1;
      auto created = reactor::create(rc);
      if (!created) {
        std::lock_guard lock(_error_mutex);
        _start_error = "core " + std::to_string(i) + ": " + created.error();
        _started.fetch_add(1);
        _finished.fetch_add(1);
        return;
      }
      std::unique_ptr<reactor> r = std::move(*created);
      _reactors[i] = r.get();
      _started.fetch_add(1);
      while (!_go.load()) std::this_thread::yield();
      if (!_start_error.empty()) {
        _finished.fetch_add(1);
        return;
      }
      r->spawn(per_core_main(*r));
      r->run();
      _finished.fetch_add(1);
      // Keep the reactor (and its ring fd) alive until every core is done, so
      // a late cross-core message never targets a closed ring.
      while (_finished.load() < _cores) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }
  while (_started.load() < _cores) std::this_thread::yield();
  _go = true;

  timespec tick{0, 50'000'000};  // how often to look at _stop_requested and _finished
  while (_finished.load() < _cores) {
    siginfo_t info;
    int sig = sigtimedwait(&signals, &info, &tick);
    if (sig == SIGHUP) {
      if (on_reload) on_reload();
    } else if (sig == SIGTERM || sig == SIGINT) {
      _stop_requested = true;
    }
    if (_stop_requested && !_stop_sent.exchange(true)) {
      uint64_t grace = _config.shutdown_grace_ms;
      for (reactor* r : _reactors)
        if (r) post(*r, [r, grace] { r->request_stop(grace); });
    }
  }
  for (auto& t : _threads) t.join();
  _threads.clear();
  return _start_error.empty() ? 0 : 1;
}

}  // namespace kio
