// tls_engine_speed: handshakes per second and bulk throughput of
// tls::engine pairs talking in memory (no sockets), one core.
//
// Handshakes: full handshakes (no resumption), X25519 + ECDSA P-256, TLS 1.3
// and TLS 1.2. The server's CPU per handshake is measured with the thread
// CPU clock around the server engine's calls only (create, handshake steps,
// destruction), so it is the cost a ringmail core pays per new connection.
// Bulk: the server writes 64 KB bodies (as FETCH or RETR would), the client
// reads them; server encrypt CPU per MB is measured the same way.
//
// usage: tls_engine_speed [seconds_per_case]

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "protocols/tls/context.h"
#include "protocols/tls/engine.h"
#include "protocols/tls/self_signed.h"

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double wall_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void die(const char* what, const tls::error& e) {
  std::fprintf(stderr, "%s: %s\n", what, e.reason.c_str());
  std::exit(1);
}

// Moves all pending ciphertext from one engine to the other.
void move_output(tls::engine& from, tls::engine& to) {
  while (!from.pending_output().empty()) {
    auto chunk = from.pending_output();
    if (auto r = to.feed(chunk); !r) die("feed", r.error());
    from.consume_output(chunk.size());
  }
}

struct timer {
  double& sink;
  double start = thread_cpu_seconds();
  ~timer() { sink += thread_cpu_seconds() - start; }
};

void handshakes(const char* label, const std::shared_ptr<const tls::server_context>& server_context,
                const std::shared_ptr<const tls::client_context>& client_context, double seconds) {
  double server_cpu = 0;
  uint64_t count = 0;
  const double wall_start = wall_seconds();
  const double cpu_start = thread_cpu_seconds();
  std::string version, cipher, group;
  while (wall_seconds() - wall_start < seconds) {
    auto client = tls::engine::create_client(client_context, "bench.example");
    if (!client) die("create_client", client.error());
    std::optional<tls::engine> server;
    {
      timer t{server_cpu};
      auto created = tls::engine::create_server(server_context);
      if (!created) die("create_server", created.error());
      server.emplace(std::move(*created));
    }
    bool client_done = false, server_done = false;
    for (int round = 0; round < 10 && !(client_done && server_done); ++round) {
      if (!client_done) {
        auto r = client->handshake();
        if (!r) die("client handshake", r.error());
        client_done = *r == tls::handshake_status::done;
      }
      move_output(*client, *server);
      {
        timer t{server_cpu};
        if (!server_done) {
          auto r = server->handshake();
          if (!r) die("server handshake", r.error());
          server_done = *r == tls::handshake_status::done;
        }
      }
      move_output(*server, *client);
    }
    if (!client_done || !server_done) {
      std::fprintf(stderr, "handshake did not finish\n");
      std::exit(1);
    }
    if (count == 0) {
      version = server->version_name();
      cipher = server->cipher_name();
      group = server->group_name();
    }
    {
      timer t{server_cpu};
      server.reset();
    }
    ++count;
  }
  // CPU time, not wall time: the machine is shared, and CPU per handshake
  // is the figure that scales to "handshakes per core".
  const double total_cpu = thread_cpu_seconds() - cpu_start;
  const double n = static_cast<double>(count);
  std::printf("handshake %s %s %s: server CPU %.3f ms/handshake (%.0f/s per core), client CPU %.3f ms, %llu handshakes\n",
              label, version.c_str(), group.c_str(), server_cpu * 1000.0 / n, n / server_cpu,
              (total_cpu - server_cpu) * 1000.0 / n, static_cast<unsigned long long>(count));
  (void)cipher;
}

void bulk(const std::shared_ptr<const tls::server_context>& server_context,
          const std::shared_ptr<const tls::client_context>& client_context, double seconds) {
  auto client = tls::engine::create_client(client_context, "bench.example");
  auto server = tls::engine::create_server(server_context);
  if (!client || !server) std::exit(1);
  for (int round = 0; round < 10; ++round) {
    (void)client->handshake();
    move_output(*client, *server);
    (void)server->handshake();
    move_output(*server, *client);
  }
  const std::vector<std::byte> body(64 * 1024, std::byte{'x'});
  std::vector<std::byte> sink(64 * 1024);
  double server_cpu = 0, client_cpu = 0;
  uint64_t bytes = 0;
  const double wall_start = wall_seconds();
  while (wall_seconds() - wall_start < seconds) {
    {
      timer t{server_cpu};
      if (auto r = server->write(body); !r) die("write", r.error());
    }
    // The "send": what the runtime would hand to io_uring, then consume.
    timer t{client_cpu};
    while (!server->pending_output().empty()) {
      auto chunk = server->pending_output();
      std::span<const std::byte> rest = chunk;
      while (!rest.empty()) {
        const std::size_t n = std::min(rest.size(), client->input_space_bytes());
        if (auto r = client->feed(rest.first(n)); !r) die("feed", r.error());
        rest = rest.subspan(n);
        for (;;) {
          auto r = client->read(sink);
          if (!r) die("read", r.error());
          if (r->status != tls::read_status::data) break;
          bytes += r->bytes;
        }
      }
      server->consume_output(chunk.size());
    }
  }
  const double mb = static_cast<double>(bytes) / 1e6;
  std::printf("bulk 64 KB writes, %s %s: server encrypt %.0f MB/s (%.3f ms CPU/MB), client feed+decrypt %.0f MB/s (%.3f ms CPU/MB)\n",
              std::string(server->version_name()).c_str(), std::string(server->cipher_name()).c_str(),
              mb / server_cpu, server_cpu * 1000.0 / mb, mb / client_cpu, client_cpu * 1000.0 / mb);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  auto pems = tls::generate_self_signed(std::vector<std::string>{"bench.example"}, 30);
  if (!pems) die("generate_self_signed", pems.error());
  tls::server_config server_config;
  server_config.certificates.push_back({pems->cert_pem, pems->key_pem, {}});
  auto server_context = tls::server_context::create(server_config);
  if (!server_context) die("server context", server_context.error());

  tls::client_config client13;
  client13.mode = tls::verify_mode::opportunistic;
  auto client13_context = tls::client_context::create(client13);
  tls::client_config client12 = client13;
  client12.max_version = tls::protocol_version::tls1_2;
  auto client12_context = tls::client_context::create(client12);
  if (!client13_context || !client12_context) std::exit(1);

  handshakes("TLS1.3", *server_context, *client13_context, seconds);
  handshakes("TLS1.2", *server_context, *client12_context, seconds);
  bulk(*server_context, *client13_context, seconds);
  return 0;
}
