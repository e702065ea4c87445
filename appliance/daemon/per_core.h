#pragma once
// per_core_snapshot<T>: an immutable value (the directory, the config, the
// TLS context) that every core reads without a lock.
//
// Each core has its own slot holding a shared_ptr<const T>. A core reads
// only its own slot, and only that core ever writes it: publish() sends the
// new pointer to every core as a message (kio::post over IORING_OP_MSG_RING)
// and each core swaps its slot between completions. A session that holds the
// old pointer keeps a consistent old view until it lets go; the old value is
// freed on whichever core drops the last reference.
//
// Slots are cache-line aligned so one core's swap does not bounce another
// core's line.

#include <memory>
#include <vector>

#include "kernel_io/ring/reactor.h"
#include "kernel_io/shard/runtime.h"

namespace appliance {

template <class T>
class per_core_snapshot {
 public:
  per_core_snapshot(unsigned cores, std::shared_ptr<const T> initial) {
    for (unsigned i = 0; i < cores; ++i) _slots.push_back(std::make_unique<slot>(initial));
  }

  // On core `core` only (kio::reactor::current()->id()).
  const std::shared_ptr<const T>& get(unsigned core) const { return _slots[core]->value; }
  // On a reactor thread: that core's value.
  const std::shared_ptr<const T>& local() const { return get(kio::reactor::current()->id()); }

  // From any thread while the runtime runs.
  void publish(kio::runtime& rt, std::shared_ptr<const T> value) {
    for (unsigned i = 0; i < _slots.size(); ++i) {
      slot* s = _slots[i].get();
      kio::post(rt.core(i), [s, value] { s->value = value; });
    }
  }

  unsigned cores() const { return unsigned(_slots.size()); }

 private:
  struct alignas(64) slot {
    explicit slot(std::shared_ptr<const T> v) : value(std::move(v)) {}
    std::shared_ptr<const T> value;
  };
  std::vector<std::unique_ptr<slot>> _slots;
};

}  // namespace appliance
