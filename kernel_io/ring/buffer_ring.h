#pragma once
// buffer_ring: the provided-buffer ring one reactor hands to the kernel for
// multishot receives.
//
// The kernel picks a free buffer for each receive completion and reports its
// id; the connection that got it owns it until it gives it back with
// recycle(). Memory for receives is therefore bounded per core (count x size)
// instead of per connection, which is what lets 10,000 idle connections cost
// next to nothing. liburing 2.3 has no io_uring_setup_buf_ring, so the ring
// memory is allocated page-aligned here and registered by hand.
// Lives on, and is used only from, its reactor's thread.
//
// Warm reuse. The kernel takes buffers from the ring in the order they were
// added, and a buffer can only be added at the tail (the kernel's head is not
// visible before 6.8, so the next-to-be-taken slot cannot be rewritten
// safely). Handing all `count` buffers to the kernel therefore cycles every
// receive through all of them: with 1,024 x 16 KB a core, nearly every read
// lands in memory that left the caches long ago. Instead, only a window of
// buffers is in the kernel's ring; the others wait on a stack, and the
// reactor tops the ring up from the top of the stack (the most recently
// freed, still warm) before each submit. The window starts at
// `published_min` and doubles (up to `count`) when the kernel ran out
// (ENOBUFS) or a single loop took more than three quarters of it; it halves
// again when, over 1,024 receives, the kernel never used more than half of
// it. Every buffer stays available under load; at rest the working set is
// the window plus the buffers sessions hold.

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernel_io/base/result.h"

namespace kio {

class buffer_ring {
 public:
  static constexpr uint16_t group_id = 0;

  buffer_ring() = default;
  buffer_ring(const buffer_ring&) = delete;
  buffer_ring& operator=(const buffer_ring&) = delete;
  ~buffer_ring();

  // count must be a power of two (a kernel requirement), at most 32768;
  // published_min is the smallest window (at least 1; more than count means
  // count).
  result<void, std::string> init(io_uring* ring, unsigned count, unsigned size_bytes, unsigned published_min);

  std::span<std::byte> buffer(uint16_t id, size_t length) {
    return {_memory + size_t(id) * _size_bytes, length};
  }
  // Takes a buffer back, on top of the free stack: it is the next one the
  // kernel gets at the next replenish(). Called as soon as a session has
  // consumed what the buffer held.
  void recycle(uint16_t id) {
    _stack.push_back(id);
    ++_free;
  }
  // The reactor, before each submit: adds buffers from the top of the stack
  // to the kernel's ring until the window is full. True if it added any.
  bool replenish() {
    if (_in_kernel >= _window && !_starved) return false;
    return top_up();
  }

  unsigned size_bytes() const { return _size_bytes; }
  unsigned count() const { return _count; }
  // Buffers no connection holds: in the kernel's ring or on the stack.
  unsigned free_count() const { return _free; }
  // Of those, in the kernel's ring (as far as the reaped CQEs tell).
  unsigned in_kernel() const { return _in_kernel; }
  unsigned window() const { return _window; }
  // A receive completion carried a buffer.
  void note_taken() {
    --_free;
    --_in_kernel;
    ++_taken_in_epoch;
  }
  // A receive ended with ENOBUFS: the window grows at the next replenish.
  void note_starved() { _starved = true; }

 private:
  bool top_up();   // adapts the window, then publish()
  bool publish();  // fills the window from the stack

  io_uring* _ring = nullptr;
  io_uring_buf_ring* _br = nullptr;
  std::byte* _memory = nullptr;
  unsigned _count = 0;
  unsigned _size_bytes = 0;
  unsigned _free = 0;
  unsigned _in_kernel = 0;
  unsigned _window = 0;
  unsigned _window_min = 0;
  unsigned _low = 0;  // fewest buffers left in the kernel's ring at a top-up, this epoch
  unsigned _taken_in_epoch = 0;
  bool _starved = false;
  std::vector<uint16_t> _stack;  // free buffers not in the ring; the top is the warmest
};

}  // namespace kio
