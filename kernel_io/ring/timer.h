#pragma once
// timer and timer_heap: the reactor's deadlines (idle timeouts, sleeps, the
// shutdown grace period).
//
// Timers live in user space in an intrusive binary heap owned by one reactor:
// arming or disarming one is O(log n) with no allocation and no system call.
// The reactor's wait for completions is bounded by the earliest deadline
// (io_uring_submit_and_wait_timeout), so one kernel timeout per loop iteration
// serves every timer on the core, and no cancellation CQE ever has to be
// matched to a timer whose owner has gone.

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <vector>

#include "kernel_io/base/assert.h"

namespace kio {

inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

struct timer {
  static constexpr size_t not_armed = SIZE_MAX;
  using handler = void (*)(timer*);

  explicit timer(handler h) : on_fire(h) {}
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;
  bool armed() const { return heap_index != not_armed; }

  handler on_fire;
  uint64_t deadline_ns = 0;
  size_t heap_index = not_armed;
};

class timer_heap {
 public:
  void arm(timer& t, uint64_t deadline_ns) {
    if (t.armed()) disarm(t);
    t.deadline_ns = deadline_ns;
    t.heap_index = _heap.size();
    _heap.push_back(&t);
    sift_up(t.heap_index);
  }

  void disarm(timer& t) {
    if (!t.armed()) return;
    size_t i = t.heap_index;
    RM_ASSERT(i < _heap.size() && _heap[i] == &t);
    t.heap_index = timer::not_armed;
    timer* last = _heap.back();
    _heap.pop_back();
    if (i == _heap.size()) return;
    _heap[i] = last;
    last->heap_index = i;
    sift_down(i);
    sift_up(last->heap_index);
  }

  bool empty() const { return _heap.empty(); }
  size_t size() const { return _heap.size(); }
  uint64_t earliest_ns() const { return _heap.front()->deadline_ns; }

  // Fires every timer due at `now_ns`. A handler may arm or disarm timers.
  size_t expire(uint64_t now_ns) {
    size_t fired = 0;
    while (!_heap.empty() && _heap.front()->deadline_ns <= now_ns) {
      timer* t = _heap.front();
      disarm(*t);
      t->on_fire(t);
      ++fired;
    }
    return fired;
  }

 private:
  void place(size_t i, timer* t) {
    _heap[i] = t;
    t->heap_index = i;
  }
  void sift_up(size_t i) {
    timer* t = _heap[i];
    while (i > 0) {
      size_t parent = (i - 1) / 2;
      if (_heap[parent]->deadline_ns <= t->deadline_ns) break;
      place(i, _heap[parent]);
      i = parent;
    }
    place(i, t);
  }
  void sift_down(size_t i) {
    timer* t = _heap[i];
    size_t n = _heap.size();
    for (;;) {
      size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && _heap[child + 1]->deadline_ns < _heap[child]->deadline_ns) ++child;
      if (t->deadline_ns <= _heap[child]->deadline_ns) break;
      place(i, _heap[child]);
      i = child;
    }
    place(i, t);
  }

  std::vector<timer*> _heap;
};

}  // namespace kio
