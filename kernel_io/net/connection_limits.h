#pragma once
// Limits on how many connections a core and a remote IP may hold.
//
// SO_REUSEPORT spreads one client IP's connections over every core, so the
// per-IP count must be shared across cores. It is a fixed table of atomic
// counters indexed by a hash of the IP: no lock, no allocation, and a hash
// collision can only make the limit stricter for the two colliding
// addresses, never looser. The per-core count is plain: one core, one owner.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernel_io/net/socket_address.h"

namespace kio {

class ip_connection_table {
 public:
  explicit ip_connection_table(size_t slots = 65536) : _slots(slots), _counts(new std::atomic<uint32_t>[slots]) {
    for (size_t i = 0; i < slots; ++i) _counts[i].store(0, std::memory_order_relaxed);
  }
  // Counts one more connection from `peer` unless it already has `limit`.
  bool try_acquire(const socket_address& peer, uint32_t limit) {
    auto& c = _counts[peer.ip_hash() % _slots];
    uint32_t now = c.load(std::memory_order_relaxed);
    do {
      if (now >= limit) return false;
    } while (!c.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
    return true;
  }
  void release(const socket_address& peer) { _counts[peer.ip_hash() % _slots].fetch_sub(1, std::memory_order_relaxed); }
  uint32_t count(const socket_address& peer) const { return _counts[peer.ip_hash() % _slots].load(std::memory_order_relaxed); }

 private:
  size_t _slots;
  std::unique_ptr<std::atomic<uint32_t>[]> _counts;
};

}  // namespace kio
