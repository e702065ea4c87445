#include "kernel_io/ring/reactor.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "kernel_io/base/assert.h"
#include "kernel_io/net/connection.h"

namespace kio {

namespace {
thread_local reactor* t_current = nullptr;

// Opcodes the runtime cannot work without. Probed at start so an old kernel
// or a seccomp filter gives an actionable message instead of odd errors.
struct required_op {
  int op;
  const char* name;
};
constexpr required_op required_ops[] = {
    {IORING_OP_ACCEPT, "ACCEPT"},   {IORING_OP_RECV, "RECV"},     {IORING_OP_SEND, "SEND"},
    {IORING_OP_READ, "READ"},       {IORING_OP_WRITE, "WRITE"},   {IORING_OP_FSYNC, "FSYNC"},
    {IORING_OP_MSG_RING, "MSG_RING"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
    {IORING_OP_CONNECT, "CONNECT"}, {IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT"},
    {IORING_OP_TIMEOUT, "TIMEOUT"},
};
}  // namespace

reactor* reactor::current() noexcept { return t_current; }

reactor::reactor(const reactor_config& config) : _config(config) {}

result<std::unique_ptr<reactor>, std::string> reactor::create(const reactor_config& config) {
  std::unique_ptr<reactor> r(new reactor(config));
  if (auto ok = r->init(); !ok) return fail(ok.error());
  return r;
}

result<void, std::string> reactor::init() {
  if (_config.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(_config.cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);  // best effort: containers may forbid it
  }
  // Preferred: one issuer, task work deferred to our own wait (fewest
  // interrupts). Older kernels: cooperative task running. Oldest: plain.
  const unsigned flag_sets[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_COOP_TASKRUN,
      0,
  };
  int rc = -EINVAL;
  for (unsigned flags : flag_sets) {
    io_uring_params p{};
    p.flags = flags | IORING_SETUP_CQSIZE;
    p.cq_entries = _config.ring_entries * 4;
    rc = io_uring_queue_init_params(_config.ring_entries, &_ring, &p);
    if (rc == 0) {
      _defer_taskrun = (flags & IORING_SETUP_DEFER_TASKRUN) != 0;
      break;
    }
    if (rc == -EPERM || rc == -ENOMEM) break;
  }
  if (rc == -EPERM)
    return fail(std::string("io_uring is not permitted (sysctl kernel.io_uring_disabled, or a seccomp filter): "
                            "ringmail needs io_uring"));
  if (rc == -ENOMEM)
    return fail(std::string("io_uring_setup: out of locked memory; raise RLIMIT_MEMLOCK (ulimit -l) "
                            "or lower [runtime] ring_entries"));
  if (rc < 0) return fail("io_uring_setup failed: " + std::string(strerror(-rc)) + " (kernel 6.1+ needed)");
  _ring_ready = true;

  io_uring_probe* probe = io_uring_get_probe_ring(&_ring);
  if (!probe) return fail(std::string("cannot probe io_uring opcodes (kernel too old)"));
  std::string missing;
  for (const auto& op : required_ops)
    if (!io_uring_opcode_supported(probe, op.op)) missing += std::string(" ") + op.name;
  io_uring_free_probe(probe);
  if (!missing.empty()) return fail("the kernel's io_uring lacks required operations:" + missing);

  if (auto ok = _buffers.init(&_ring, _config.recv_buffer_count, _config.recv_buffer_size_bytes,
                                   _config.recv_buffer_window_min); !ok)
    return fail(ok.error());
  return {};
}

reactor::~reactor() {
  RM_ASSERT_MSG(_connections.empty(), "reactor destroyed with live connections");
  if (_ring_ready) {
    _buffers.~buffer_ring();
    new (&_buffers) buffer_ring();
    io_uring_queue_exit(&_ring);
  }
}

io_uring_sqe* reactor::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&_ring);
  while (!s) {
    // A full SQ means submit, never fail.
    _buffers.replenish();
    int rc = io_uring_submit(&_ring);
    ++_stats.submits;
    if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR) RM_ASSERT_MSG(false, strerror(-rc));
    if (rc == -EBUSY || rc == -EAGAIN) reap();  // CQ overflow back-pressure: drain first
    s = io_uring_get_sqe(&_ring);
  }
  return s;
}

detached reactor::run_detached(reactor* self, task<void> t) {
  co_await t;
  --self->_live_tasks;
}

void reactor::spawn(task<void> t) {
  ++_live_tasks;
  auto d = run_detached(this, std::move(t));
  schedule(d.handle);
}

void reactor::reap() {
  io_uring_cqe* cqe;
  unsigned head;
  unsigned seen = 0;
  io_uring_for_each_cqe(&_ring, head, cqe) {
    ++seen;
    auto* c = reinterpret_cast<completion*>(io_uring_cqe_get_data(cqe));
    if (c) c->on_cqe(c, cqe->res, cqe->flags);
  }
  io_uring_cq_advance(&_ring, seen);
  _stats.cqes += seen;
}

void reactor::run() {
  t_current = this;
  for (;;) {
    ++_stats.loops;
    if (!_inbox.empty()) {
      auto inbox = std::move(_inbox);
      _inbox.clear();
      for (message* m : inbox) {
        ++_stats.messages;
        auto work = std::move(m->work);
        delete m;
        work();
      }
    }
    while (!_ready.empty()) {
      auto h = _ready.front();
      _ready.pop_front();
      ++_stats.resumes;
      h.resume();
    }
    uint64_t now = monotonic_ns();
    _timers.expire(now);
    if (!_ready.empty() || !_inbox.empty()) continue;
    if (_stopping && _live_tasks == 0) break;

    replenish_buffers();
    int rc;
    if (_timers.empty()) {
      rc = io_uring_submit_and_wait(&_ring, 1);
    } else {
      uint64_t wait_ns = _timers.earliest_ns() > now ? _timers.earliest_ns() - now : 0;
      __kernel_timespec ts{.tv_sec = int64_t(wait_ns / 1'000'000'000u), .tv_nsec = int64_t(wait_ns % 1'000'000'000u)};
      io_uring_cqe* cqe = nullptr;
      rc = io_uring_submit_and_wait_timeout(&_ring, &cqe, 1, &ts, nullptr);
    }
    ++_stats.submits;
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
      RM_ASSERT_MSG(false, strerror(-rc));
    reap();
  }
  // Flush whatever the last tasks queued (close operations) before leaving.
  io_uring_submit(&_ring);
  t_current = nullptr;
}

void reactor::request_stop(uint64_t grace_ms) {
  if (_stopping) return;
  _stopping = true;
  auto hooks = std::move(_stop_hooks);
  for (auto& hook : hooks) hook();
  for (connection* c : std::vector<connection*>(_connections)) c->on_reactor_stop();
  _stop_deadline_ns = monotonic_ns() + grace_ms * 1'000'000u;
  _timers.arm(_grace_timer, _stop_deadline_ns);
}

void reactor::on_grace_expired(timer* t) {
  reactor* self = t_current;
  for (connection* c : std::vector<connection*>(self->_connections)) c->abort();
}

void reactor::attach(connection* c) { _connections.push_back(c); }

void reactor::detach(connection* c) {
  auto it = std::find(_connections.begin(), _connections.end(), c);
  if (it != _connections.end()) {
    *it = _connections.back();
    _connections.pop_back();
  }
  auto w = std::find(_buffer_waiters.begin(), _buffer_waiters.end(), c);
  if (w != _buffer_waiters.end()) _buffer_waiters.erase(w);
  if (_stopping && _connections.empty()) _timers.disarm(_grace_timer);
}

void reactor::buffers_returned() {
  if (_buffer_waiters.empty()) return;
  // Re-arm only as many receives as there are buffers to fill.
  while (!_buffer_waiters.empty() && _buffers.free_count() > 0) {
    connection* c = _buffer_waiters.back();
    _buffer_waiters.pop_back();
    c->arm_receive();
  }
}

// --- cross-thread posting ---------------------------------------------------

namespace {
// A thread that is not a reactor posts through a small ring of its own.
struct poster_ring {
  io_uring ring{};
  bool ready = false;
  poster_ring() { ready = io_uring_queue_init(64, &ring, 0) == 0; }
  ~poster_ring() {
    if (ready) io_uring_queue_exit(&ring);
  }
};
}  // namespace

void post(reactor& target, std::function<void()> work) {
  auto* m = new message(std::move(work));
  // Runs during the target's reap: only queue; the loop runs it afterwards.
  m->on_cqe = [](completion* c, int32_t, uint32_t) { reactor::current()->enqueue(static_cast<message*>(c)); };
  if (reactor* self = reactor::current()) {
    io_uring_sqe* s = self->sqe();
    io_uring_prep_msg_ring(s, target.ring_fd(), 0, reinterpret_cast<uint64_t>(static_cast<completion*>(m)), 0);
    io_uring_sqe_set_flags(s, IOSQE_CQE_SKIP_SUCCESS);
    io_uring_sqe_set_data(s, nullptr);
    return;
  }
  thread_local poster_ring poster;
  RM_ASSERT_MSG(poster.ready, "cannot create a posting ring");
  io_uring_sqe* s = io_uring_get_sqe(&poster.ring);
  while (!s) {
    io_uring_submit(&poster.ring);
    s = io_uring_get_sqe(&poster.ring);
  }
  io_uring_prep_msg_ring(s, target.ring_fd(), 0, reinterpret_cast<uint64_t>(static_cast<completion*>(m)), 0);
  io_uring_sqe_set_flags(s, IOSQE_CQE_SKIP_SUCCESS);
  io_uring_sqe_set_data(s, nullptr);
  io_uring_submit(&poster.ring);
  // Failures (target ring gone) post a CQE here; drain them so the ring never fills.
  io_uring_cqe* cqe;
  while (io_uring_peek_cqe(&poster.ring, &cqe) == 0) io_uring_cqe_seen(&poster.ring, cqe);
}

}  // namespace kio
