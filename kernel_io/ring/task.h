#pragma once
// task<T>: the coroutine type every session and store writer is written in.
//
// Lazy: a task starts when it is awaited (or handed to spawn()), runs on the
// thread that resumes it, and when it finishes transfers control straight
// back to its awaiter (symmetric transfer: no stack growth however long a
// chain of co_awaits gets). Exceptions are not part of the data path: an
// exception escaping a task is a programmer error and terminates.
//
// spawn(task) detaches a top-level task on the current reactor; the reactor
// counts live detached tasks so shutdown can wait for them to finish.

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

namespace kio {

template <class T>
class task;

namespace detail {

struct final_awaiter {
  bool await_ready() const noexcept { return false; }
  template <class Promise>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) noexcept {
    auto next = h.promise().continuation;
    return next ? next : std::noop_coroutine();
  }
  void await_resume() const noexcept {}
};

struct promise_base {
  std::coroutine_handle<> continuation;
  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }
  [[noreturn]] void unhandled_exception() const noexcept { std::terminate(); }
};

template <class T>
struct task_promise : promise_base {
  std::optional<T> value;
  task<T> get_return_object() noexcept;
  template <class U>
  void return_value(U&& v) { value.emplace(std::forward<U>(v)); }
};

template <>
struct task_promise<void> : promise_base {
  task<void> get_return_object() noexcept;
  void return_void() const noexcept {}
};

}  // namespace detail

template <class T = void>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  task() = default;
  explicit task(handle_type h) : _handle(h) {}
  task(task&& other) noexcept : _handle(std::exchange(other._handle, {})) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      if (_handle) _handle.destroy();
      _handle = std::exchange(other._handle, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (_handle) _handle.destroy();
  }

  bool await_ready() const noexcept { return !_handle || _handle.done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    _handle.promise().continuation = awaiter;
    return _handle;
  }
  T await_resume() {
    if constexpr (!std::is_void_v<T>) return std::move(*_handle.promise().value);
  }

  handle_type release() noexcept { return std::exchange(_handle, {}); }
  bool done() const noexcept { return _handle && _handle.done(); }

 private:
  handle_type _handle;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
}  // namespace detail

// A self-destroying coroutine that owns one task and runs it to completion.
// It calls on_done (the reactor's live-task counter) when the task ends.
struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    [[noreturn]] void unhandled_exception() const noexcept { std::terminate(); }
  };
  std::coroutine_handle<promise_type> handle;
};

}  // namespace kio
