// Fuzzes a server tls::engine with bytes from an arbitrary peer.
//
// Byte 0 chooses the mode and the chunk size:
//   bit 7 clear: the rest is a client's first flight, fed in chunks of
//                (byte0 & 0x7f) + 1 bytes with handshake() after each;
//   bit 7 set:   a real client completes a handshake first, then the rest is
//                fed as post-handshake records and read() is called.
// Properties: no crash, no sanitizer report, errors are values, buffered
// input never exceeds the limit, and once failed the engine stays failed.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "protocols/tls/context.h"
#include "protocols/tls/engine.h"
#include "protocols/tls/self_signed.h"

namespace {

struct fixture {
  std::shared_ptr<const tls::server_context> server;
  std::shared_ptr<const tls::client_context> client;
};

const fixture& shared_fixture() {
  static const fixture f = [] {
    fixture out;
    auto pems = tls::generate_self_signed(std::vector<std::string>{"fuzz.example"}, 30);
    if (!pems) std::abort();
    tls::server_config config;
    config.certificates.push_back({pems->cert_pem, pems->key_pem, {}});
    auto server = tls::server_context::create(config);
    tls::client_config client_config;
    client_config.mode = tls::verify_mode::opportunistic;
    auto client = tls::client_context::create(client_config);
    if (!server || !client) std::abort();
    out.server = *server;
    out.client = *client;
    return out;
  }();
  return f;
}

void check(bool condition) {
  if (!condition) std::abort();
}

void move_output(tls::engine& from, tls::engine& to) {
  while (!from.pending_output().empty()) {
    auto chunk = from.pending_output();
    check(static_cast<bool>(to.feed(chunk)));
    from.consume_output(chunk.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const fixture& f = shared_fixture();
  const bool established = (data[0] & 0x80) != 0;
  const std::size_t chunk_bytes = (data[0] & 0x7f) + 1u;
  std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data + 1), size - 1);

  tls::engine_limits limits;
  limits.input_buffered_max_bytes = 8 * 1024;  // small, so the limit path is reached
  auto server = tls::engine::create_server(f.server, limits);
  check(static_cast<bool>(server));

  if (established) {
    auto client = tls::engine::create_client(f.client, "fuzz.example");
    check(static_cast<bool>(client));
    for (int round = 0; round < 10 && !(client->handshake_done() && server->handshake_done()); ++round) {
      check(static_cast<bool>(client->handshake()));
      move_output(*client, *server);
      check(static_cast<bool>(server->handshake()));
      move_output(*server, *client);
    }
    check(server->handshake_done());
  }

  bool failed = false;
  std::byte plaintext[4096];
  while (!input.empty()) {
    const std::size_t take = std::min(chunk_bytes, input.size());
    auto fed = server->feed(input.first(take));
    if (!fed) {
      check(fed.error().code == tls::errc::input_limit_exceeded);
      break;  // the runtime would close the connection here
    }
    input = input.subspan(take);
    check(server->input_buffered_bytes() <= limits.input_buffered_max_bytes);
    if (!server->handshake_done()) {
      auto r = server->handshake();
      if (!r) {
        failed = true;
        break;
      }
      if (*r == tls::handshake_status::want_input) continue;
    }
    for (;;) {
      auto r = server->read(plaintext);
      if (!r) {
        failed = true;
        break;
      }
      if (r->status != tls::read_status::data) break;
      check(r->bytes > 0 && r->bytes <= sizeof(plaintext));
    }
    if (failed) break;
    // Drain output as a runtime would.
    while (!server->pending_output().empty()) server->consume_output(server->pending_output().size());
  }
  if (failed) {
    // Sticky failure.
    if (server->handshake_done()) {
      check(!server->read(plaintext));
    } else {
      check(!server->handshake());
    }
  }
  return 0;
}
