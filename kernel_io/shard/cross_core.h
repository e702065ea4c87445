#pragma once
// run_on: run a function on another core and resume here with its result.
//
//   size_t n = co_await kio::run_on(rt.core(owner), [&] { return index.count(); });
//
// The function travels to the target as an IORING_OP_MSG_RING message, runs
// there between completions (it must not block), and its result comes back
// the same way. The awaiting frame holds the result: no shared state, no lock.

#include <coroutine>
#include <optional>
#include <type_traits>

#include "kernel_io/ring/reactor.h"

namespace kio {

template <class F>
class run_on_awaiter {
 public:
  using value_type = std::invoke_result_t<F&>;
  run_on_awaiter(reactor& target, F f) : _target(target), _f(std::move(f)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    reactor* origin = reactor::current();
    post(_target, [this, origin, h] {
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
  reactor& _target;
  F _f;
  std::optional<stored> _value;
};

template <class F>
run_on_awaiter<F> run_on(reactor& target, F f) {
  return run_on_awaiter<F>(target, std::move(f));
}

}  // namespace kio
