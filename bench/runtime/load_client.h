#pragma once
// The load generator: one thread, edge-triggered epoll, N non-blocking
// connections, each with exactly one message in flight (a closed loop: a
// connection sends its next message only after the whole echo of the last
// one came back and matched byte for byte).
//
// Workloads:
//   echo       N connections opened (and TLS-handshaken) before the clock
//              starts; each sends `message_bytes`, waits for the echo, repeats.
//   handshake  each of N slots loops: connect, full TLS handshake (no
//              resumption), one line, echo, close_notify, close.
//
// Every loop is bounded: the measured phase ends at `seconds` (no new message
// starts after it) and the drain of messages in flight is cut at
// `drain_limit_seconds`, which marks the run failed.
//
// The client measures, over exactly the measured phase, its own thread's CPU
// time, the process's CPU time and the server thread's CPU clock, so the
// server's cost can be read as "process minus client" (which also counts any
// io_uring worker threads the runtime may have punted work to).

#include <time.h>

#include <cstdint>
#include <string>

#include <openssl/base.h>

namespace echo_bench {

enum class workload { echo, handshake };

struct load_spec {
  workload kind = workload::echo;
  bool tls = false;
  uint16_t port = 0;
  size_t message_bytes = 64;
  unsigned connections = 16;
  double seconds = 3.0;
  double drain_limit_seconds = 5.0;
  int cpu = 1;
  SSL_CTX* client_tls = nullptr;
  clockid_t server_clock{};
};

struct load_result {
  bool ok = false;
  std::string error;
  uint64_t operations = 0;      // round trips, or handshake+line+close cycles
  uint64_t echoed_bytes = 0;    // payload bytes that came back and matched
  double wall_seconds = 0;
  double client_cpu_seconds = 0;
  double process_cpu_seconds = 0;
  double server_thread_cpu_seconds = 0;
  std::string cipher;           // negotiated, for the report ("" in plaintext)
};

// Runs the workload on a new thread pinned to spec.cpu and returns its result.
load_result run_load(const load_spec& spec);

// A client SSL_CTX: TLS 1.2+, X25519, no verification (the bench trusts its
// own loopback server), no session cache, so every handshake is a full one.
SSL_CTX* make_client_tls_context();

}  // namespace echo_bench
