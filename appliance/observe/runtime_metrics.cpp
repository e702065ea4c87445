#include "appliance/observe/runtime_metrics.h"

#include "kernel_io/ring/reactor.h"

namespace appliance {

runtime_core_metrics read_runtime_metrics(kio::reactor& r) {
  const kio::buffer_ring& b = r.buffers();
  runtime_core_metrics m;
  m.core = r.id();
  m.receive_buffers = b.count();
  m.receive_buffers_window = b.window();
  m.receive_buffers_in_kernel = b.in_kernel();
  m.receive_buffers_held = b.count() - b.free_count();
  m.receive_enobufs = r.stats().recv_enobufs;
  m.loops = r.stats().loops;
  return m;
}

std::string render_runtime_metrics(const std::vector<runtime_core_metrics>& cores) {
  std::string out;
  auto family = [&](const char* name, const char* type, uint64_t runtime_core_metrics::*field) {
    out += std::string("# TYPE ") + name + " " + type + "\n";
    for (const auto& c : cores)
      out += std::string(name) + "{core=\"" + std::to_string(c.core) + "\"} " + std::to_string(c.*field) + "\n";
  };
  family("ringmail_receive_buffers", "gauge", &runtime_core_metrics::receive_buffers);
  family("ringmail_receive_buffers_window", "gauge", &runtime_core_metrics::receive_buffers_window);
  family("ringmail_receive_buffers_in_kernel", "gauge", &runtime_core_metrics::receive_buffers_in_kernel);
  family("ringmail_receive_buffers_held", "gauge", &runtime_core_metrics::receive_buffers_held);
  family("ringmail_receive_enobufs_total", "counter", &runtime_core_metrics::receive_enobufs);
  family("ringmail_event_loops_total", "counter", &runtime_core_metrics::loops);
  return out;
}

}  // namespace appliance
