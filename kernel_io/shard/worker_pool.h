#pragma once
// worker_pool: a few threads for CPU-heavy work that must never run on a
// reactor (Argon2id password hashing, big RSA keys, spam-filter training
// batches). A coroutine awaits pool.run(fn): fn runs on a worker, and the
// result comes back to the calling core through its ring (IORING_OP_MSG_RING),
// where the coroutine resumes. The queue lock is taken once per job, never on
// a reactor's hot path.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "kernel_io/ring/reactor.h"
#include "kernel_io/shard/remote_call.h"

namespace kio {

class worker_pool {
 public:
  explicit worker_pool(unsigned threads);
  ~worker_pool();
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  void submit(std::function<void()> job);
  unsigned size() const { return unsigned(_threads.size()); }

  struct submit_to_pool {
    worker_pool* pool;
    void operator()(std::function<void()> job) const { pool->submit(std::move(job)); }
  };

  // co_await pool.run([&] { return argon2id_hash(...); });
  template <class F>
  remote_call_awaiter<F, submit_to_pool> run(F f) {
    return remote_call_awaiter<F, submit_to_pool>(submit_to_pool{this}, std::move(f));
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
