#include "kernel_io/ring/buffer_ring.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace kio {

result<void, std::string> buffer_ring::init(io_uring* ring, unsigned count, unsigned size_bytes) {
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768)
    return fail(std::string("receive buffer count must be a power of two between 1 and 32768"));
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
  for (unsigned i = 0; i < count; ++i)
    io_uring_buf_ring_add(_br, _memory + size_t(i) * size_bytes, size_bytes, uint16_t(i),
                          io_uring_buf_ring_mask(count), int(i));
  io_uring_buf_ring_advance(_br, int(count));
  _free = count;
  return {};
}

void buffer_ring::recycle(uint16_t id) {
  io_uring_buf_ring_add(_br, _memory + size_t(id) * _size_bytes, _size_bytes, id, io_uring_buf_ring_mask(_count), 0);
  io_uring_buf_ring_advance(_br, 1);
  ++_free;
}

buffer_ring::~buffer_ring() {
  if (_ring && _br) io_uring_unregister_buf_ring(_ring, group_id);
  free(_br);
  free(_memory);
}

}  // namespace kio
