#pragma once
// sys_error: an errno from a system call or an io_uring completion, kept as
// a value. kernel_io reports failures this way; higher modules map them to
// their own errc where the distinction matters (ENOSPC -> store full).

#include <cstring>
#include <string>

namespace kio {

struct sys_error {
  int code = 0;  // positive errno

  constexpr bool operator==(const sys_error&) const = default;
  std::string message() const { return std::strerror(code); }
};

}  // namespace kio
