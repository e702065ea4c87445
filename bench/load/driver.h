#pragma once
// driver: runs a load generator's sessions on `threads` client reactors
// (kernel_io, one io_uring per thread), and shares what every generator
// needs: connecting (plain or implicit TLS, from a rotating list of loopback
// source addresses), the run's counters and the report.
//
// Lifecycle: run_sessions() creates the threads, each creates its reactor,
// spawns its share of the sessions (session i runs on thread i % threads) and
// stops when the last one has ended. Every session is bounded by its
// operation count, the run's deadline and the per-read timeout, so a run
// always ends.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/load/latency.h"
#include "kernel_io/net/connection.h"
#include "kernel_io/net/socket_address.h"
#include "kernel_io/ring/task.h"
#include "protocols/stream/session_stream.h"
#include "protocols/tls/context.h"

namespace bench_load {

enum class tls_mode { none, starttls, implicit };
std::optional<tls_mode> parse_tls_mode(const std::string& text);

struct common_options {
  std::string server = "127.0.0.1";
  uint16_t port = 0;
  tls_mode tls = tls_mode::none;
  unsigned connections = 16;
  unsigned threads = 1;
  double duration_seconds = 0;     // 0 = until every session did its count
  double time_limit_seconds = 600; // hard cap on the run
  uint64_t timeout_ms = 60'000;    // per read and per connect
  unsigned connecting_max = 0;     // connects + TLS handshakes under way per thread (0 = no limit)
  std::vector<std::string> sources;  // local addresses to connect from (round robin)
  std::string user;
  std::string password;
  std::string json_path;           // report also written here
};

// Per-thread counters, merged after the run.
struct thread_stats {
  uint64_t operations = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  uint64_t sessions_ok = 0;
  uint64_t sessions_failed = 0;
  uint64_t connections = 0;  // opened (connected, and through TLS if implicit)
  std::vector<std::string> error_samples;  // the first few, for the report
  std::vector<std::pair<std::string, latency_samples>> latencies;
  latency_samples& latency(const std::string& name);
  void error(std::string text);
};

// What a session gets: its index, its thread's stats, and helpers.
struct session_context {
  unsigned index;
  unsigned thread;
  thread_stats& stats;
  const common_options& options;
  std::shared_ptr<const tls::client_context> tls_client;
  uint64_t deadline_ns;  // no new operation starts after it
  bool past_deadline() const { return now_ns() >= deadline_ns; }
  bool ramp_held = false;  // the session holds a ramp slot: open_connection takes none
};

// The ramp (--connecting-max): at most that many sessions of a thread in
// their setup at once. open_connection() holds a slot for the connect and
// TLS handshake; a workload whose setup is longer (idle: until IDLE is
// answered) holds one from before the connect with a ramp_slot.
class ramp_slot {
 public:
  ramp_slot() = default;
  ~ramp_slot() { release(); }
  ramp_slot(const ramp_slot&) = delete;
  ramp_slot& operator=(const ramp_slot&) = delete;
  // Waits for a free slot (or the deadline) and takes it.
  kio::task<void> take(session_context& ctx);
  void release();

 private:
  session_context* _ctx = nullptr;
};

// An open connection with its stream (heap-allocated so the stream's reference
// to the connection stays valid).
struct client_connection {
  std::unique_ptr<kio::connection> conn;
  std::unique_ptr<proto::session_stream> stream;
};

// Connects to options.server:port (from the session's source address, if
// any) and does the implicit-TLS handshake when asked. Errors go to stats.
kio::task<std::optional<client_connection>> open_connection(session_context& ctx, size_t line_length_max);
// STARTTLS handshake on an open connection; false (and an error) on failure.
kio::task<bool> start_tls(session_context& ctx, client_connection& c);

using session_body = std::function<kio::task<void>(session_context&)>;

struct run_result {
  double wall_seconds = 0;
  double client_cpu_seconds = 0;
  thread_stats totals;
};

run_result run_sessions(const common_options& options, const session_body& body);

// {"wall_s":..,"client_cpu_s":..,"operations":..,...,"latency":{...}} plus
// `extra` fields (already JSON, without braces) from the generator.
std::string report_json(const std::string& generator, run_result& result, const std::string& extra);
void write_report(const common_options& options, const std::string& json);

}  // namespace bench_load
