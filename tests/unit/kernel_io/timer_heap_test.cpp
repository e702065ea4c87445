#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kernel_io/ring/timer.h"

namespace {
std::vector<int> fired;
struct tagged : kio::timer {
  explicit tagged(int id) : kio::timer(&on), id(id) {}
  static void on(kio::timer* t) { fired.push_back(static_cast<tagged*>(t)->id); }
  int id;
};
}  // namespace

TEST(timer_heap, fires_in_deadline_order_and_skips_disarmed) {
  std::mt19937 rng(42);
  std::vector<std::unique_ptr<tagged>> timers;
  kio::timer_heap heap;
  std::vector<std::pair<uint64_t, int>> expected;
  for (int i = 0; i < 1000; ++i) {
    timers.push_back(std::make_unique<tagged>(i));
    uint64_t deadline = rng() % 10000;
    heap.arm(*timers.back(), deadline);
    expected.push_back({deadline, i});
  }
  // Disarm every third, re-arm every fifth with a new deadline.
  for (int i = 0; i < 1000; ++i) {
    if (i % 3 == 0) {
      heap.disarm(*timers[i]);
      expected.erase(std::find_if(expected.begin(), expected.end(), [i](auto& e) { return e.second == i; }));
    } else if (i % 5 == 0) {
      uint64_t deadline = rng() % 10000;
      heap.arm(*timers[i], deadline);
      std::find_if(expected.begin(), expected.end(), [i](auto& e) { return e.second == i; })->first = deadline;
    }
  }
  fired.clear();
  heap.expire(5000);
  for (size_t k = 1; k < fired.size(); ++k)
    EXPECT_LE(timers[fired[k - 1]]->deadline_ns, timers[fired[k]]->deadline_ns);
  size_t due = std::count_if(expected.begin(), expected.end(), [](auto& e) { return e.first <= 5000; });
  EXPECT_EQ(fired.size(), due);
  heap.expire(UINT64_MAX);
  EXPECT_EQ(fired.size(), expected.size());
  EXPECT_TRUE(heap.empty());
  for (auto& t : timers) EXPECT_FALSE(t->armed());
}
