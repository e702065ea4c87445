#pragma once
// named_type<T, Tag>: an id that cannot be swapped for another id of the same
// representation (a core_id is not a mailbox_id). Cheap: it is a T.

#include <compare>
#include <cstddef>
#include <functional>

namespace kio {

template <class T, class Tag>
class named_type {
 public:
  using value_type = T;
  constexpr named_type() = default;
  constexpr explicit named_type(T v) : _value(v) {}
  constexpr T get() const { return _value; }
  constexpr auto operator<=>(const named_type&) const = default;

 private:
  T _value{};
};

}  // namespace kio

template <class T, class Tag>
struct std::hash<kio::named_type<T, Tag>> {
  std::size_t operator()(const kio::named_type<T, Tag>& v) const noexcept { return std::hash<T>{}(v.get()); }
};
