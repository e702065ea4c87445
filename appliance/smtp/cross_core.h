#pragma once
// remote_task: run a *coroutine* on another core and resume here with its
// result. kio::run_on runs a plain function there; the SMTP commit needs to
// await that core's group commit (commit_driver::flush resumes its waiter on
// the driver's core), so the work must be a task spawned on the owner core.
//
//   auto v = co_await remote_task<T, Make>(rt.core(owner), [p] { return work_on_owner(*p); });
//
// `make` is called on the target core and returns a kio::task<T>. Whatever it
// points at must outlive the await: the awaiting frame is suspended, so its
// locals qualify. The result travels back in the awaiter (in the awaiting
// frame), the wake-up through the origin's ring. If the kernel_io lead adds
// an async run_on, this file goes.

#include <coroutine>
#include <optional>

#include "kernel_io/ring/reactor.h"
#include "kernel_io/ring/task.h"

namespace appliance {

template <class T, class Make>
class remote_task {
 public:
  remote_task(kio::reactor& target, Make make) : _target(target), _make(std::move(make)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    kio::reactor* origin = kio::reactor::current();
    kio::reactor* target = &_target;
    kio::post(_target, [this, origin, target, h] { target->spawn(body(this, origin, h)); });
  }
  T await_resume() { return std::move(*_value); }

 private:
  // A named function, not a lambda coroutine: its parameters live in its
  // own frame.
  static kio::task<void> body(remote_task* self, kio::reactor* origin, std::coroutine_handle<> h) {
    T v = co_await self->_make();
    self->_value.emplace(std::move(v));
    kio::post(*origin, [origin, h] { origin->schedule(h); });
  }
  kio::reactor& _target;
  Make _make;
  std::optional<T> _value;
};

}  // namespace appliance
