#include "kernel_io/ring/buffer_ring.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace kio {

namespace {
constexpr unsigned epoch_receives = 1024;
}

result<void, std::string> buffer_ring::init(io_uring* ring, unsigned count, unsigned size_bytes,
                                            unsigned published_min) {
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768)
    return fail(std::string("receive buffer count must be a power of two between 1 and 32768"));
  if (published_min == 0) return fail(std::string("the receive buffers' smallest window must be at least 1"));
  published_min = std::min(published_min, count);  // a small ring is all window
  _ring = ring;
  _count = count;
  _size_bytes = size_bytes;
  void* ring_mem = nullptr;
  if (posix_memalign(&ring_mem, 4096, count * sizeof(io_uring_buf)) != 0)
    return fail(std::string("out of memory for the receive buffer ring"));
  _br = static_cast<io_uring_buf_ring*>(ring_mem);
  io_uring_buf_ring_init(_br);
  void* data = nullptr;
  if (posix_memalign(&data, 4096, size_t(count) * size_bytes) != 0)
    return fail(std::string("out of memory for receive buffers"));
  _memory = static_cast<std::byte*>(data);

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(_br);
  reg.ring_entries = count;
  reg.bgid = group_id;
  int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0)
    return fail("cannot register the receive buffer ring (kernel 5.19+ needed): " + std::string(strerror(-rc)));
  // Buffer 0 on top: the first window is buffers 0, 1, 2...
  _stack.reserve(count);
  for (unsigned i = count; i-- > 0;) _stack.push_back(uint16_t(i));
  _free = count;
  _window = _window_min = published_min;
  _low = _window;
  publish();
  return {};
}

bool buffer_ring::top_up() {
  // _in_kernel is where the kernel's share fell to since the last top-up.
  _low = std::min(_low, _in_kernel);
  if (_starved || _in_kernel * 4 < _window) {
    _window = std::min(_window * 2, _count);
    _starved = false;
    _low = _window;
    _taken_in_epoch = 0;
  } else if (_taken_in_epoch >= epoch_receives) {
    if (_low > _window / 2 && _window > _window_min) _window = std::max(_window / 2, _window_min);
    _low = _window;
    _taken_in_epoch = 0;
  }
  return publish();
}

bool buffer_ring::publish() {
  const int mask = io_uring_buf_ring_mask(_count);
  int added = 0;
  while (_in_kernel + unsigned(added) < _window && !_stack.empty()) {
    const uint16_t id = _stack.back();
    _stack.pop_back();
    io_uring_buf_ring_add(_br, _memory + size_t(id) * _size_bytes, _size_bytes, id, mask, added);
    ++added;
  }
  if (added == 0) return false;
  io_uring_buf_ring_advance(_br, added);
  _in_kernel += unsigned(added);
  return true;
}

buffer_ring::~buffer_ring() {
  if (_ring && _br) io_uring_unregister_buf_ring(_ring, group_id);
  free(_br);
  free(_memory);
}

}  // namespace kio
