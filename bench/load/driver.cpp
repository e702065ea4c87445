#include "bench/load/driver.h"

#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "kernel_io/net/connect.h"
#include "kernel_io/ring/ops.h"
#include "kernel_io/ring/reactor.h"

namespace bench_load {

std::optional<tls_mode> parse_tls_mode(const std::string& text) {
  if (text == "none" || text == "plain") return tls_mode::none;
  if (text == "starttls") return tls_mode::starttls;
  if (text == "implicit" || text == "tls") return tls_mode::implicit;
  return std::nullopt;
}

latency_samples& thread_stats::latency(const std::string& name) {
  for (auto& [n, s] : latencies)
    if (n == name) return s;
  latencies.emplace_back(name, latency_samples{});
  return latencies.back().second;
}

void thread_stats::error(std::string text) {
  ++errors;
  if (error_samples.size() < 5) error_samples.push_back(std::move(text));
}

namespace {

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out;
}

// One session, counted: the thread stops when its last session ends.
kio::task<void> counted_session(const session_body& body, session_context ctx, size_t& live) {
  co_await body(ctx);
  if (--live == 0) kio::reactor::current()->request_stop(0);
}

}  // namespace

namespace {
thread_local unsigned ramp_under_way = 0;  // this thread's sessions holding a ramp slot
}  // namespace

kio::task<void> ramp_slot::take(session_context& ctx) {
  release();
  // A ramp: 10,000 connects and logins at once overflow a server's accept
  // queue or its process spawning, which measures those queues, not an
  // idle connection's cost.
  while (ctx.options.connecting_max && ramp_under_way >= ctx.options.connecting_max && !ctx.past_deadline())
    co_await kio::sleep_for(2);
  ++ramp_under_way;
  ctx.ramp_held = true;
  _ctx = &ctx;
}

void ramp_slot::release() {
  if (!_ctx) return;
  --ramp_under_way;
  _ctx->ramp_held = false;
  _ctx = nullptr;
}

kio::task<std::optional<client_connection>> open_connection(session_context& ctx, size_t line_length_max) {
  ramp_slot slot;
  if (!ctx.ramp_held) co_await slot.take(ctx);
  auto address = kio::socket_address::parse(ctx.options.server + ":" + std::to_string(ctx.options.port));
  if (!address) {
    ctx.stats.error("bad server address " + ctx.options.server);
    co_return std::nullopt;
  }
  std::optional<kio::socket_address> source;
  if (!ctx.options.sources.empty()) {
    source = kio::socket_address::parse(ctx.options.sources[ctx.index % ctx.options.sources.size()] + ":0");
  }
  const kio::socket_address* source_pointer = source ? &*source : nullptr;
  auto fd = co_await kio::connect_to(*address, ctx.options.timeout_ms, source_pointer);
  if (!fd) {
    ctx.stats.error("connect: " + fd.error().message());
    co_return std::nullopt;
  }
  kio::connection_options co;
  co.idle_timeout_ms = ctx.options.timeout_ms;
  co.send_timeout_ms = ctx.options.timeout_ms;
  client_connection c;
  c.conn = std::make_unique<kio::connection>(*kio::reactor::current(), *fd, *address, co);
  proto::stream_options so;
  so.line_length_max = line_length_max;
  so.handshake_timeout_ms = ctx.options.timeout_ms;
  c.stream = std::make_unique<proto::session_stream>(*c.conn, so);
  if (ctx.options.tls == tls_mode::implicit) {
    auto ok = co_await start_tls(ctx, c);
    if (!ok) {
      co_await c.conn->close();
      co_return std::nullopt;
    }
  }
  ++ctx.stats.connections;
  co_return std::optional<client_connection>(std::move(c));
}

kio::task<bool> start_tls(session_context& ctx, client_connection& c) {
  auto done = co_await c.stream->start_tls_client(ctx.tls_client, "localhost");
  if (!done) {
    ctx.stats.error("TLS handshake: " + done.error().describe());
    co_return false;
  }
  co_return true;
}

run_result run_sessions(const common_options& options, const session_body& body) {
  std::shared_ptr<const tls::client_context> tls_client;
  if (options.tls != tls_mode::none) {
    tls::client_config cc;
    cc.mode = tls::verify_mode::opportunistic;  // the bench trusts its own loopback servers
    auto created = tls::client_context::create(cc);
    if (!created) {
      std::cerr << "ringmail-load: TLS client context: " << created.error().reason << "\n";
      std::exit(2);
    }
    tls_client = *created;
  }
  unsigned threads = std::max(1u, std::min(options.threads, options.connections));
  std::vector<thread_stats> per_thread(threads);
  std::vector<std::thread> workers;
  std::atomic<bool> failed{false};
  uint64_t start = now_ns();
  double cpu_start = process_cpu_seconds();
  uint64_t hard_end = start + static_cast<uint64_t>(options.time_limit_seconds * 1e9);
  uint64_t deadline = options.duration_seconds > 0
                          ? start + static_cast<uint64_t>(options.duration_seconds * 1e9)
                          : hard_end;
  deadline = std::min(deadline, hard_end);
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      kio::reactor_config rc;
      rc.id = t;
      rc.ring_entries = 4096;
      auto created = kio::reactor::create(rc);
      if (!created) {
        std::cerr << "ringmail-load: reactor: " << created.error() << "\n";
        failed = true;
        return;
      }
      auto& r = **created;
      size_t live = 0;
      for (unsigned i = t; i < options.connections; i += threads) ++live;
      for (unsigned i = t; i < options.connections; i += threads) {
        session_context ctx{i, t, per_thread[t], options, tls_client, deadline};
        r.spawn(counted_session(body, ctx, live));
      }
      if (live > 0) r.run();
    });
  }
  for (auto& w : workers) w.join();
  if (failed) std::exit(2);
  run_result result;
  result.wall_seconds = static_cast<double>(now_ns() - start) / 1e9;
  result.client_cpu_seconds = process_cpu_seconds() - cpu_start;
  auto& total = result.totals;
  for (auto& s : per_thread) {
    total.operations += s.operations;
    total.bytes += s.bytes;
    total.errors += s.errors;
    total.sessions_ok += s.sessions_ok;
    total.sessions_failed += s.sessions_failed;
    total.connections += s.connections;
    for (auto& e : s.error_samples)
      if (total.error_samples.size() < 5) total.error_samples.push_back(e);
    for (auto& [name, samples] : s.latencies) total.latency(name).merge(samples);
  }
  return result;
}

std::string report_json(const std::string& generator, run_result& result, const std::string& extra) {
  auto& t = result.totals;
  std::string out = "{\"generator\":\"" + generator + "\"";
  char text[512];
  std::snprintf(text, sizeof text,
                ",\"wall_s\":%.4f,\"client_cpu_s\":%.4f,\"operations\":%llu,\"bytes\":%llu,\"ops_per_s\":%.2f,"
                "\"mb_per_s\":%.3f,\"errors\":%llu,\"sessions_ok\":%llu,\"sessions_failed\":%llu,"
                "\"connections_opened\":%llu",
                result.wall_seconds, result.client_cpu_seconds, static_cast<unsigned long long>(t.operations),
                static_cast<unsigned long long>(t.bytes),
                result.wall_seconds > 0 ? static_cast<double>(t.operations) / result.wall_seconds : 0.0,
                result.wall_seconds > 0 ? static_cast<double>(t.bytes) / 1e6 / result.wall_seconds : 0.0,
                static_cast<unsigned long long>(t.errors), static_cast<unsigned long long>(t.sessions_ok),
                static_cast<unsigned long long>(t.sessions_failed), static_cast<unsigned long long>(t.connections));
  out += text;
  out += ",\"latency\":{";
  bool first = true;
  for (auto& [name, samples] : t.latencies) {
    if (!first) out += ",";
    first = false;
    out += "\"" + name + "\":" + samples.json();
  }
  out += "},\"error_samples\":[";
  for (size_t i = 0; i < t.error_samples.size(); ++i) {
    if (i) out += ",";
    out += "\"" + json_escape(t.error_samples[i]) + "\"";
  }
  out += "]";
  if (!extra.empty()) out += "," + extra;
  out += "}";
  return out;
}

void write_report(const common_options& options, const std::string& json) {
  std::cout << json << "\n";
  if (!options.json_path.empty()) {
    std::ofstream f(options.json_path);
    f << json << "\n";
  }
}

}  // namespace bench_load
