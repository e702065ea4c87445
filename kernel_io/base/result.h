#pragma once
// result<T, E>: the value of an operation that can fail in the normal course
// of things (a peer hung up, a disk is full, input is malformed). Shaped like
// C++23 std::expected so code can move to it later; errors are values, never
// exceptions, on the data path. Each module names its own `enum class errc`.

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace kio {

template <class E>
struct failure {
  E error;
};

// `return fail(errc::too_long);` reads better than constructing a result.
template <class E>
constexpr failure<std::decay_t<E>> fail(E&& e) {
  return {std::forward<E>(e)};
}

template <class T, class E>
class [[nodiscard]] result {
 public:
  using value_type = T;
  using error_type = E;

  template <class U = T>
    requires std::is_constructible_v<T, U&&>
  constexpr result(U&& v) : _state(std::in_place_index<0>, std::forward<U>(v)) {}
  template <class G>
  constexpr result(failure<G> f) : _state(std::in_place_index<1>, E(std::move(f.error))) {}

  constexpr bool has_value() const noexcept { return _state.index() == 0; }
  constexpr explicit operator bool() const noexcept { return has_value(); }

  constexpr T& value() & { assert(has_value()); return std::get<0>(_state); }
  constexpr const T& value() const& { assert(has_value()); return std::get<0>(_state); }
  constexpr T&& value() && { assert(has_value()); return std::get<0>(std::move(_state)); }
  constexpr T& operator*() & { return value(); }
  constexpr const T& operator*() const& { return value(); }
  constexpr T&& operator*() && { return std::move(*this).value(); }
  constexpr T* operator->() { return &value(); }
  constexpr const T* operator->() const { return &value(); }

  constexpr const E& error() const { assert(!has_value()); return std::get<1>(_state); }

 private:
  std::variant<T, E> _state;
};

// result<void, E>: success carries nothing.
template <class E>
class [[nodiscard]] result<void, E> {
 public:
  constexpr result() = default;
  template <class G>
  constexpr result(failure<G> f) : _error(E(std::move(f.error))), _ok(false) {}

  constexpr bool has_value() const noexcept { return _ok; }
  constexpr explicit operator bool() const noexcept { return _ok; }
  constexpr void value() const { assert(_ok); }
  constexpr const E& error() const { assert(!_ok); return _error; }

 private:
  E _error{};
  bool _ok = true;
};

}  // namespace kio
