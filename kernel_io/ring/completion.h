#pragma once
// completion: what an io_uring CQE's user_data points at.
//
// Every operation the runtime submits carries a pointer to a completion whose
// lifetime covers the operation: for single-shot operations the awaiter in the
// coroutine frame (the frame cannot go away while it is suspended on the
// operation), for multishot operations the object that owns the stream (a
// listener, a connection), which waits for the final CQE before it dies.
// No allocation per operation, and no virtual call: a plain function pointer.

#include <coroutine>
#include <cstdint>

namespace kio {

struct completion {
  using handler = void (*)(completion* self, int32_t res, uint32_t flags);
  handler on_cqe = nullptr;
};

// The common case: store the CQE's result and schedule the waiting coroutine.
struct resume_completion : completion {
  std::coroutine_handle<> waiter;
  int32_t res = 0;
  uint32_t flags = 0;
};

}  // namespace kio
