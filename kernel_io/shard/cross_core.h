#pragma once
// run_on: run a function on another core and resume here with its result.
//
//   size_t n = co_await kio::run_on(rt.core(owner), [&] { return index.count(); });
//
// The function travels to the target as an IORING_OP_MSG_RING message, runs
// there between completions (it must not block), and its result comes back
// the same way. The awaiting frame holds the result: no shared state, no lock.

#include "kernel_io/shard/remote_call.h"

namespace kio {

struct post_to_core {
  reactor* target;
  void operator()(std::function<void()> job) const { post(*target, std::move(job)); }
};

template <class F>
remote_call_awaiter<F, post_to_core> run_on(reactor& target, F f) {
  return remote_call_awaiter<F, post_to_core>(post_to_core{&target}, std::move(f));
}

}  // namespace kio
