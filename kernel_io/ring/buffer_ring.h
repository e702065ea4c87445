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

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "kernel_io/base/result.h"

namespace kio {

class buffer_ring {
 public:
  static constexpr uint16_t group_id = 0;

  buffer_ring() = default;
  buffer_ring(const buffer_ring&) = delete;
  buffer_ring& operator=(const buffer_ring&) = delete;
  ~buffer_ring();

  // count must be a power of two (a kernel requirement), at most 32768.
  result<void, std::string> init(io_uring* ring, unsigned count, unsigned size_bytes);

  std::span<std::byte> buffer(uint16_t id, size_t length) {
    return {_memory + size_t(id) * _size_bytes, length};
  }
  // Gives a buffer back to the kernel. Called as soon as a session has
  // consumed what the buffer held.
  void recycle(uint16_t id);

  unsigned size_bytes() const { return _size_bytes; }
  unsigned count() const { return _count; }
  unsigned free_count() const { return _free; }
  void note_taken() { --_free; }

 private:
  io_uring* _ring = nullptr;
  io_uring_buf_ring* _br = nullptr;
  std::byte* _memory = nullptr;
  unsigned _count = 0;
  unsigned _size_bytes = 0;
  unsigned _free = 0;
};

}  // namespace kio
