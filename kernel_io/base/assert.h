#pragma once
// RM_ASSERT: a programmer error, kept on in release builds. An internal
// inconsistency (a broken invariant, an on-disk record that fails a check we
// just wrote) must stop the process with a core dump, not limp on.

#include <cstdio>
#include <cstdlib>

namespace kio::detail {
[[noreturn]] inline void assert_failed(const char* expr, const char* file, int line, const char* why) {
  std::fprintf(stderr, "ringmail: assertion failed: %s (%s) at %s:%d\n", expr, why ? why : "", file, line);
  std::abort();
}
}  // namespace kio::detail

#define RM_ASSERT(expr) \
  ((expr) ? (void)0 : ::kio::detail::assert_failed(#expr, __FILE__, __LINE__, nullptr))
#define RM_ASSERT_MSG(expr, why) \
  ((expr) ? (void)0 : ::kio::detail::assert_failed(#expr, __FILE__, __LINE__, (why)))
