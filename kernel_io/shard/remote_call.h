#pragma once
// remote_call_awaiter: run a function somewhere else — on another core, on
// the worker pool — and resume the awaiting coroutine on its own core with
// the result. The result lives in the awaiter (the suspended frame), so
// nothing is shared but the job itself; the way back is always the caller's
// ring (IORING_OP_MSG_RING through post()).
//
// `Dispatch` is how the job gets there: a callable taking std::function<void()>.

#include <coroutine>
#include <functional>
#include <optional>
#include <type_traits>

#include "kernel_io/ring/reactor.h"

namespace kio {

template <class F, class Dispatch>
class remote_call_awaiter {
 public:
  using value_type = std::invoke_result_t<F&>;
  remote_call_awaiter(Dispatch dispatch, F f) : _dispatch(std::move(dispatch)), _f(std::move(f)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    reactor* origin = reactor::current();
    _dispatch([this, origin, h] {
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
  Dispatch _dispatch;
  F _f;
  std::optional<stored> _value;
};

}  // namespace kio
