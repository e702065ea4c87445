// Fixed-width integers in the classifier's file and record formats (token
// store, training deltas and snapshots): host byte order, which is little-
// endian on every target ringmail builds for (x86-64, aarch64).
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace filter::wire {

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

template <class T>
T get_at(std::string_view in, std::size_t at) {
  T v;
  std::memcpy(&v, in.data() + at, sizeof(T));
  return v;
}

}  // namespace filter::wire
