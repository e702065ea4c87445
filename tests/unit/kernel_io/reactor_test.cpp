#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

#include "kernel_io/ring/ops.h"
#include "kernel_io/shard/worker_pool.h"
#include "test_support.h"

using namespace kio;

TEST(reactor, runs_tasks_and_nested_awaits) {
  auto r = test_support::make_reactor();
  ASSERT_TRUE(r);
  int total = 0;
  auto leaf = [](int v) -> task<int> {
    auto n = co_await nop();
    EXPECT_TRUE(n);
    co_return v * 2;
  };
  auto body = [&]() -> task<void> {
    for (int i = 0; i < 1000; ++i) total += co_await leaf(i);
  };
  test_support::run(*r, body());
  EXPECT_EQ(total, 999 * 1000);
  EXPECT_EQ(r->live_tasks(), 0u);
}

TEST(reactor, sleep_for_fires_no_earlier_than_asked) {
  auto r = test_support::make_reactor();
  uint64_t elapsed_ms = 0;
  auto body = [&]() -> task<void> {
    uint64_t start = monotonic_ns();
    co_await sleep_for(30);
    elapsed_ms = (monotonic_ns() - start) / 1'000'000;
  };
  test_support::run(*r, body());
  EXPECT_GE(elapsed_ms, 30u);
}

TEST(reactor, spawned_tasks_all_finish_before_run_returns) {
  auto r = test_support::make_reactor();
  int finished = 0;
  auto worker = [&](int ms) -> task<void> {
    co_await sleep_for(ms);
    ++finished;
  };
  auto body = [&]() -> task<void> {
    for (int i = 0; i < 100; ++i) reactor::current()->spawn(worker(i % 10));
    co_return;
  };
  test_support::run(*r, body());
  EXPECT_EQ(finished, 100);
}

TEST(reactor, file_write_fdatasync_and_read_back) {
  auto r = test_support::make_reactor();
  char path[] = "/tmp/ringmail-kio-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text(10000, 'q');
  std::string back(10000, '\0');
  bool ok_write = false, ok_read = false;
  auto body = [&]() -> task<void> {
    auto w = co_await write_then_fdatasync(fd, std::as_bytes(std::span(text)), 4096);
    ok_write = w && *w == text.size();
    auto more = co_await write_at(fd, std::as_bytes(std::span("head", 4)), 0);
    EXPECT_TRUE(more);
    EXPECT_TRUE(co_await kio::fdatasync(fd));
    auto rd = co_await read_at(fd, std::as_writable_bytes(std::span(back)), 4096);
    ok_read = rd && *rd == back.size();
  };
  test_support::run(*r, body());
  EXPECT_TRUE(ok_write);
  EXPECT_TRUE(ok_read);
  EXPECT_EQ(back, text);
  char head[5] = {};
  EXPECT_EQ(pread(fd, head, 4, 0), 4);
  EXPECT_STREQ(head, "head");
  close(fd);
  unlink(path);
}

TEST(reactor, file_errors_are_values) {
  auto r = test_support::make_reactor();
  int error = 0;
  auto body = [&]() -> task<void> {
    auto w = co_await write_at(-1, std::as_bytes(std::span("x", 1)), 0);
    if (!w) error = w.error().code;
  };
  test_support::run(*r, body());
  EXPECT_EQ(error, EBADF);
}

TEST(reactor, worker_pool_result_comes_back_to_the_reactor_thread) {
  auto r = test_support::make_reactor();
  worker_pool pool(2);
  std::thread::id reactor_thread = std::this_thread::get_id(), worker_thread, resumed_on;
  long sum = 0;
  auto body = [&]() -> task<void> {
    sum = co_await pool.run([&] {
      worker_thread = std::this_thread::get_id();
      long s = 0;
      for (long i = 0; i < 1'000'000; ++i) s += i;
      return s;
    });
    resumed_on = std::this_thread::get_id();
  };
  test_support::run(*r, body());
  EXPECT_EQ(sum, 499999500000L);
  EXPECT_NE(worker_thread, reactor_thread);
  EXPECT_EQ(resumed_on, reactor_thread);
}
