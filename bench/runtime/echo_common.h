#pragma once
// Shared pieces of echo_bench: the echo protocols both servers speak, the
// ports they listen on, and small clock and pinning helpers.
//
// Two echo protocols, each on its own port, plain and implicit TLS:
//   line:  the client sends lines ending in LF; the server answers each with
//          the same text and LF (a command/reply session in miniature: the
//          runtime's line reader and reply buffer are exercised).
//   block: the server sends back every byte it receives, as it receives it
//          (bulk transfer: DATA in, FETCH/RETR out).

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <cstdint>

namespace echo_bench {

enum class echo_mode { line, block };

// The four listeners of one server, all on 127.0.0.1.
struct server_ports {
  uint16_t line_plain = 0;
  uint16_t line_tls = 0;
  uint16_t block_plain = 0;
  uint16_t block_tls = 0;

  uint16_t port(echo_mode mode, bool tls) const {
    if (mode == echo_mode::line) return tls ? line_tls : line_plain;
    return tls ? block_tls : block_plain;
  }
};

// Longest line either server accepts; the client sends far shorter ones.
inline constexpr size_t line_length_max = 1000;

inline double seconds_of(const timespec& ts) { return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9; }

inline double clock_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return seconds_of(ts);
}

inline double wall_seconds() { return clock_seconds(CLOCK_MONOTONIC); }

// Pins the calling thread. Best effort: a container may forbid it, and the
// bench still runs (the report prints the CPU each thread ended up on).
inline bool pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

}  // namespace echo_bench
