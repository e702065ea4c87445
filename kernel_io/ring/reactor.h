#pragma once
// reactor: one per core. Owns one io_uring, the provided receive buffers, the
// core's timers, its run queue of ready coroutines and its detached tasks.
//
// Lifecycle: created by the runtime on the thread it will run on (the ring is
// SINGLE_ISSUER), run() until stop is requested and every detached task has
// finished, destroyed on that same thread. Everything reachable from a
// reactor belongs to its core; other threads reach it only with post().
//
// The loop (reap first, then run; never resume from inside the reap):
//   1. run every ready coroutine (they queue SQEs),
//   2. fire due timers,
//   3. submit and wait for at least one CQE, bounded by the next deadline,
//   4. reap every CQE: each one's completion schedules its coroutine.

#include <liburing.h>

#include <coroutine>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernel_io/base/result.h"
#include "kernel_io/ring/buffer_ring.h"
#include "kernel_io/ring/completion.h"
#include "kernel_io/ring/task.h"
#include "kernel_io/ring/timer.h"

namespace kio {

struct reactor_config {
  unsigned id = 0;                         // core index, 0..cores-1
  int cpu = -1;                            // CPU to pin to; -1 = not pinned
  unsigned ring_entries = 1024;            // SQ size; the CQ is 4x
  unsigned recv_buffer_count = 1024;       // provided buffers (power of two)
  unsigned recv_buffer_size_bytes = 16384; // each
  // Of those, how many at least are in the kernel's ring at once; the window
  // grows under load up to recv_buffer_count (buffer_ring.h: warm reuse).
  unsigned recv_buffer_window_min = 16;
};

// A unit of work sent to another core. It travels as the user_data of an
// IORING_OP_MSG_RING CQE and runs on the target core; run() owns and frees it.
struct message : completion {
  explicit message(std::function<void()> f) : work(std::move(f)) {}
  std::function<void()> work;
};

struct reactor_stats {
  uint64_t loops = 0;
  uint64_t cqes = 0;
  uint64_t submits = 0;
  uint64_t resumes = 0;
  uint64_t messages = 0;
  uint64_t recv_enobufs = 0;
};

class connection;  // kernel_io/net/connection.h

class reactor {
 public:
  static result<std::unique_ptr<reactor>, std::string> create(const reactor_config& config);
  ~reactor();
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;

  // The reactor of the calling thread, or nullptr off the reactor threads.
  static reactor* current() noexcept;

  unsigned id() const { return _config.id; }
  const reactor_config& config() const { return _config; }
  int ring_fd() const { return _ring.ring_fd; }
  io_uring* ring() { return &_ring; }
  buffer_ring& buffers() { return _buffers; }
  const reactor_stats& stats() const { return _stats; }
  bool setup_defer_taskrun() const { return _defer_taskrun; }

  // An SQE to fill; never null (a full SQ is submitted first).
  io_uring_sqe* sqe();

  void schedule(std::coroutine_handle<> h) { _ready.push_back(h); }
  // A message that arrived in this reap; run() executes it after the reap.
  void enqueue(message* m) { _inbox.push_back(m); }

  // Runs `t` to completion as a detached task of this reactor.
  void spawn(task<void> t);
  size_t live_tasks() const { return _live_tasks; }

  void arm(timer& t, uint64_t deadline_ns) { _timers.arm(t, deadline_ns); }
  void disarm(timer& t) { _timers.disarm(t); }

  // Runs the loop on the calling thread until stop was requested and no
  // detached task is left.
  void run();

  // Shutdown. request_stop() runs the stop hooks (listeners close, sessions
  // between commands are woken to say goodbye) and arms the grace deadline,
  // after which the abort hooks run (every connection is shut down).
  void request_stop(uint64_t grace_ms);
  bool stopping() const { return _stopping; }
  // When the grace period of a requested stop ends (monotonic_ns); 0 before.
  uint64_t stop_deadline_ns() const { return _stop_deadline_ns; }
  void on_stop(std::function<void()> hook) { _stop_hooks.push_back(std::move(hook)); }

  // Connections register so shutdown can reach them (kernel_io/net).
  void attach(connection* c);
  void detach(connection* c);
  size_t connection_count() const { return _connections.size(); }

  // Notifies connections waiting for receive buffers that some came back.
  void wait_for_buffers(connection* c) { _buffer_waiters.push_back(c); }
  void buffers_returned();
  void count_enobufs() {
    ++_stats.recv_enobufs;
    _buffers.note_starved();
  }

 private:
  explicit reactor(const reactor_config& config);
  result<void, std::string> init();
  void reap();
  // Before any submit: the kernel's ring topped up from the warmest free
  // buffers, and connections that ran out re-armed if it got some.
  void replenish_buffers() {
    if (_buffers.replenish() && !_buffer_waiters.empty()) buffers_returned();
  }
  static void on_grace_expired(timer* t);
  static detached run_detached(reactor* self, task<void> t);

  reactor_config _config;
  io_uring _ring{};
  bool _ring_ready = false;
  bool _defer_taskrun = false;
  buffer_ring _buffers;
  timer_heap _timers;
  std::deque<std::coroutine_handle<>> _ready;
  std::vector<message*> _inbox;
  size_t _live_tasks = 0;
  bool _stopping = false;
  uint64_t _stop_deadline_ns = 0;
  timer _grace_timer{&reactor::on_grace_expired};
  std::vector<std::function<void()>> _stop_hooks;
  std::vector<connection*> _connections;
  std::vector<connection*> _buffer_waiters;
  reactor_stats _stats;
};

// Sends `work` to run on `target`'s thread. Callable from any thread: from a
// reactor thread it goes through that reactor's ring (IORING_OP_MSG_RING);
// from any other thread (workers, the signal thread) through a small ring of
// the calling thread's own.
void post(reactor& target, std::function<void()> work);

}  // namespace kio
