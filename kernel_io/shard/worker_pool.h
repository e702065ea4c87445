#pragma once
// worker_pool: a few threads for CPU-heavy work that must never run on a
// reactor (Argon2id password hashing, big RSA keys, spam-filter training
// batches). A coroutine awaits pool.run(fn): fn runs on a worker, and the
// result comes back to the calling core through its ring (IORING_OP_MSG_RING),
// where the coroutine resumes. The queue lock is taken once per job, never on
// a reactor's hot path.

#include <condition_variable>
#include <coroutine>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "kernel_io/ring/reactor.h"

namespace kio {

class worker_pool {
 public:
  explicit worker_pool(unsigned threads);
  ~worker_pool();
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  void submit(std::function<void()> job);
  unsigned size() const { return unsigned(_threads.size()); }

  template <class F>
  class run_awaiter {
   public:
    using value_type = std::invoke_result_t<F&>;
    run_awaiter(worker_pool& pool, F f) : _pool(pool), _f(std::move(f)) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      reactor* origin = reactor::current();
      _pool.submit([this, origin, h] {
        if constexpr (std::is_void_v<value_type>) _f();
        else _value.emplace(_f());
        post(*origin, [origin, h] { origin->schedule(h); });
      });
    }
    value_type await_resume() {
      if constexpr (!std::is_void_v<value_type>) return std::move(*_value);
    }

   private:
    using stored = std::conditional_t<std::is_void_v<value_type>, int, value_type>;
    worker_pool& _pool;
    F _f;
    std::optional<stored> _value;
  };

  // co_await pool.run([&] { return argon2id_hash(...); });
  template <class F>
  run_awaiter<F> run(F f) {
    return run_awaiter<F>(*this, std::move(f));
  }

 private:
  void loop();
  std::mutex _mutex;
  std::condition_variable _cv;
  std::deque<std::function<void()>> _jobs;
  bool _stopping = false;
  std::vector<std::thread> _threads;
};

}  // namespace kio
