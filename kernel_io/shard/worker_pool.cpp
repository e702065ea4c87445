#include "kernel_io/shard/worker_pool.h"

namespace kio {

worker_pool::worker_pool(unsigned threads) {
  for (unsigned i = 0; i < threads; ++i) _threads.emplace_back([this] { loop(); });
}

worker_pool::~worker_pool() {
  {
    std::lock_guard lock(_mutex);
    _stopping = true;
  }
  _cv.notify_all();
  for (auto& t : _threads) t.join();
}

void worker_pool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(_mutex);
    _jobs.push_back(std::move(job));
  }
  _cv.notify_one();
}

void worker_pool::loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(_mutex);
      _cv.wait(lock, [this] { return _stopping || !_jobs.empty(); });
      if (_jobs.empty()) return;  // stopping and drained
      job = std::move(_jobs.front());
      _jobs.pop_front();
    }
    job();
  }
}

}  // namespace kio
