#pragma once
// session_stream: what a protocol session reads from and writes to — one
// connection, in plaintext or inside TLS, with a bounded line reader.
//
// Sessions read commands with read_line() and bulk data (SMTP DATA/BDAT,
// IMAP literals) with read_some()/consume(), and write replies with write()
// + flush() (PIPELINING answers go out in one send). Implicit-TLS ports call
// start_tls() before the greeting; STARTTLS calls the same function after its
// "ready" reply: one code path.
//
// STARTTLS injection: start_tls() throws away every plaintext byte that was
// received but not yet interpreted (the rest of the chunk the command came
// in, any partial line). Nothing sent before the handshake is ever read as a
// command after it; bytes that arrive later than the command but before the
// handshake go to BoringSSL, which rejects them as a broken handshake.
//
// Zero copy: in plaintext the views returned point into the connection's
// receive buffer (mutable, so DATA can be dot-unstuffed in place); inside TLS
// into this stream's one plaintext record buffer. A view is valid until the
// next read call.
//
// Lifecycle: lives in the session's coroutine frame on the connection's core.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "kernel_io/base/result.h"
#include "kernel_io/net/connection.h"
#include "kernel_io/net/line_reader.h"
#include "kernel_io/ring/task.h"
#include "protocols/tls/context.h"
#include "protocols/stream/deflate.h"
#include "protocols/tls/engine.h"

namespace proto {

struct stream_error {
  enum class kind {
    closed,    // the peer ended the stream (FIN or TLS close_notify)
    timeout,   // idle timeout
    shutdown,  // the server is stopping; say goodbye
    interrupted,  // interrupt_read() woke the read; nothing was lost, read again
    io,        // a socket error (code is the errno)
    tls,       // TLS failed (detail says why)
    compression,  // COMPRESS=DEFLATE input did not inflate (detail says why)
  };
  kind what;
  int code = 0;
  std::string detail;
  std::string describe() const;
};

template <class T>
using stream_result = kio::result<T, stream_error>;

struct line_result {
  std::string_view text;  // without the line end
  bool too_long = false;  // the line passed the limit and was skipped
  bool bare_lf = false;   // it ended in LF without CR
};

struct stream_options {
  size_t line_length_max = 1000;
  uint64_t handshake_timeout_ms = 30'000;
  size_t write_buffer_max_bytes = 64 * 1024;  // flush() happens by itself past this
  // COMPRESS=DEFLATE: the largest compressed output piece and inflated
  // input piece (memory per compressed session, besides zlib's own).
  size_t compress_piece_bytes = 16 * 1024;
};

class session_stream {
 public:
  session_stream(kio::connection& conn, const stream_options& options = {});
  session_stream(const session_stream&) = delete;
  session_stream& operator=(const session_stream&) = delete;

  // Server side of a TLS handshake (implicit TLS, or after STARTTLS).
  kio::task<stream_result<void>> start_tls(std::shared_ptr<const tls::server_context> context);
  // Client side (outbound SMTP, tests).
  kio::task<stream_result<void>> start_tls_client(std::shared_ptr<const tls::client_context> context,
                                                  std::string server_name);
  bool secure() const { return _tls.has_value(); }

  // COMPRESS=DEFLATE (RFC 4978), called right after the OK that accepts it
  // was flushed: from now on input is inflated and output deflated (inside
  // TLS when TLS is on). Whatever input is already buffered past the
  // command is the client's first compressed bytes.
  stream_result<void> start_compression();
  bool compressed() const { return _deflate != nullptr; }
  const tls::engine* tls_engine() const { return _tls ? &*_tls : nullptr; }
  // "TLSv1.3 TLS_AES_128_GCM_SHA256" style text for logs and Received: headers.
  std::string tls_summary() const;

  kio::task<stream_result<line_result>> read_line();
  // Unread bytes: what is left of the current chunk, or the next chunk.
  // The caller says how much it used with consume(); the rest is kept.
  kio::task<stream_result<std::span<std::byte>>> read_some();
  void consume(size_t bytes) { _view = _view.subspan(bytes); }
  bool has_buffered_input() const { return !_view.empty() || _lines.has_partial(); }

  // Appends to the write buffer (flushed automatically past its limit).
  kio::task<stream_result<void>> write(std::string_view text);
  kio::task<stream_result<void>> flush();
  // Writes a large body without copying it into the write buffer.
  kio::task<stream_result<void>> write_direct(std::span<const std::byte> bytes);

  // Sends TLS close_notify when inside TLS, then closes the connection.
  kio::task<void> close();

  kio::connection& connection() { return _conn; }
  kio::line_reader& lines() { return _lines; }
  void set_between_commands(bool yes) { _conn.set_between_commands(yes); }
  // Wakes a read waiting for bytes with stream_error::kind::interrupted (see
  // kio::connection::interrupt_read). Inside TLS a partial record stays in
  // the engine, so the next read goes on where this one stopped.
  bool interrupt_read() { return _conn.interrupt_read(); }

 private:
  kio::task<stream_result<void>> fill();
  kio::task<stream_result<void>> fill_lower();  // plaintext or TLS, no compression
  kio::task<stream_result<void>> write_lower(std::span<const std::byte> bytes);
  kio::task<stream_result<void>> send_tls_output();
  kio::task<stream_result<void>> handshake();
  static stream_error from_sys(const kio::sys_error& e);

  kio::connection& _conn;
  stream_options _options;
  kio::line_reader _lines;
  std::optional<tls::engine> _tls;
  std::unique_ptr<deflate_codec> _deflate;  // set by start_compression()
  std::unique_ptr<std::byte[]> _plain;   // one TLS record of plaintext (allocated with TLS)
  std::span<std::byte> _view;            // unread input
  std::string _out;                      // queued replies
  std::string _sending;                  // the batch being sent by flush()
};

}  // namespace proto
