#pragma once
// Runs coroutines on a reactor owned by the test's thread.
#include <gtest/gtest.h>

#include <memory>

#include "kernel_io/ring/reactor.h"
#include "kernel_io/ring/task.h"

namespace kio::test_support {

inline std::unique_ptr<reactor> make_reactor(unsigned buffers = 256, unsigned buffer_size = 4096) {
  reactor_config rc;
  rc.recv_buffer_count = buffers;
  rc.recv_buffer_size_bytes = buffer_size;
  auto r = reactor::create(rc);
  if (!r) ADD_FAILURE() << r.error();
  return r ? std::move(*r) : nullptr;
}

inline task<void> stop_after(task<void> body) {
  co_await body;
  reactor::current()->request_stop(0);
}

// Runs `body` to completion on `r` (and every task it spawned).
inline void run(reactor& r, task<void> body) {
  r.spawn(stop_after(std::move(body)));
  r.run();
}

}  // namespace kio::test_support
