#pragma once
// Each core's io_uring runtime in Prometheus text, one series per core
// (label core="N"): the receive buffers (how many the core has, how many
// are in the kernel's ring now and the window it keeps there, how many
// connections hold unread) and how often a receive found none
// (ENOBUFS: the kernel had no buffer for data that arrived; the connection
// waits for one to come back). A core whose held buffers approach its count,
// or whose ENOBUFS count climbs, is starved of receive buffers: raise
// server.receive_buffers or lower the connections' receive limit.
//
// Read on each core (kernel_io::reactor is that core's plain data) and
// brought to the admin core by message, like the store's commit metrics.

#include <cstdint>
#include <string>
#include <vector>

namespace kio {
class reactor;
}

namespace appliance {

struct runtime_core_metrics {
  unsigned core = 0;
  uint64_t receive_buffers = 0;         // the core's provided buffers
  uint64_t receive_buffers_window = 0;  // how many the ring keeps in the kernel
  uint64_t receive_buffers_in_kernel = 0;
  uint64_t receive_buffers_held = 0;    // holding received bytes not read yet
  uint64_t receive_enobufs = 0;         // receives that found no buffer
  uint64_t loops = 0;                   // event-loop turns
};

// On the reactor's own thread.
runtime_core_metrics read_runtime_metrics(kio::reactor& r);

std::string render_runtime_metrics(const std::vector<runtime_core_metrics>& cores);

}  // namespace appliance
