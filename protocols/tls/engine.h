#pragma once
// tls::engine: one TLS connection as a sans-I/O state machine.
//
// The runtime moves ciphertext, the session sees plaintext:
//
//   recv -> feed(ciphertext) -> handshake() / read(plaintext_out)
//   write(plaintext) / shutdown() -> pending_output() -> send -> consume_output(n)
//
// After EVERY call (feed excepted) the owner sends pending_output(): a
// handshake step, a read (TLS 1.3 KeyUpdate answers, alerts) and a failure
// (the fatal alert) can all produce ciphertext.
//
// Lifecycle and core: created by the session coroutine on the core that
// accepted (or opened) the connection, used and destroyed there; not
// thread-safe, never shared. It keeps its context alive through a
// shared_ptr, so a reload that swaps the context does not disturb it.
//
// Memory: unconsumed ciphertext from the peer is bounded by
// engine_limits::input_buffered_max_bytes (feed() refuses more), plus at most
// one record inside BoringSSL. Outgoing ciphertext grows only with what the
// owner writes; buffers larger than buffer_keep_max_bytes are released once
// drained, so an idle connection does not pin a burst's worth of memory.
//
// Copies: feed() copies the received bytes once (the receive buffer goes back
// to the ring at once); BoringSSL decrypts in place and copies plaintext out
// once in read(); write() encrypts 16 KB records and appends them to the
// output buffer that pending_output() exposes without a further copy.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "protocols/tls/context.h"
#include "protocols/tls/error.h"

struct ssl_st;

namespace tls {

struct engine_limits {
  // Ciphertext fed but not yet consumed by BoringSSL. 64 KB holds four full
  // records: enough for any honest pipelining, small per connection.
  std::size_t input_buffered_max_bytes = 64 * 1024;
  // Drained buffers bigger than this are freed rather than kept.
  std::size_t buffer_keep_max_bytes = 32 * 1024;
};

enum class handshake_status {
  done,
  want_input,  // send pending_output(), then feed() more and call again
};

enum class read_status {
  data,        // `bytes` plaintext bytes were written to the output span
  want_input,  // no complete record buffered: feed() more
  closed,      // the peer sent close_notify: a clean end of stream
};

struct read_outcome {
  read_status status;
  std::size_t bytes;
};

class engine {
 public:
  static result<engine> create_server(std::shared_ptr<const server_context> context, engine_limits limits = {});
  // `server_name` is sent as SNI (unless it is an IP literal) and, in
  // verify mode, is the name the certificate must carry. Verify mode without
  // a name is a config_invalid error: there would be nothing to check.
  static result<engine> create_client(std::shared_ptr<const client_context> context, std::string_view server_name,
                                      engine_limits limits = {});

  engine(engine&&) noexcept;
  engine& operator=(engine&&) noexcept;
  ~engine();

  // Appends ciphertext received from the peer. Fails with
  // input_limit_exceeded (accepting nothing) when the buffered, unconsumed
  // ciphertext would pass the limit; input_space_bytes() says how much fits.
  result<void> feed(std::span<const std::byte> ciphertext);
  std::size_t input_space_bytes() const noexcept;
  // Unconsumed ciphertext, for metrics and tests.
  std::size_t input_buffered_bytes() const noexcept;

  // Advances the handshake. Errors are final: the engine stays failed and
  // pending_output() may hold the alert to send before closing.
  result<handshake_status> handshake();
  bool handshake_done() const noexcept;

  // Decrypts into `plaintext_out` (non-empty). Call until want_input: one
  // call returns at most one record's worth.
  result<read_outcome> read(std::span<std::byte> plaintext_out);

  // Encrypts all of `plaintext` into the output buffer, in full 16 KB
  // records when it is large. Fails with `closed` after shutdown().
  result<void> write(std::span<const std::byte> plaintext);

  // Queues close_notify. Reading may continue until the peer's close_notify.
  result<void> shutdown();
  bool close_notify_received() const noexcept;

  std::span<const std::byte> pending_output() const noexcept;
  void consume_output(std::size_t bytes);

  // After the handshake: "TLSv1.3", "TLS_AES_128_GCM_SHA256", 128, "X25519",
  // for Received: "using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)".
  std::string_view version_name() const noexcept;
  std::string_view cipher_name() const noexcept;
  int cipher_bits() const noexcept;
  std::string_view group_name() const noexcept;
  // Server: the SNI the client sent ("" if none). Client: the name it sent.
  std::string_view server_name() const noexcept;
  bool session_resumed() const noexcept;
  bool is_server() const noexcept;

  // For tests and diagnostics (e.g. peer certificate inspection). Owned by
  // the engine.
  ssl_st* native_handle() const noexcept;

  struct state;  // defined in engine.cpp; public only so its BIO callbacks can name it

 private:
  explicit engine(std::unique_ptr<state> s) noexcept;
  std::unique_ptr<state> _state;
};

}  // namespace tls
