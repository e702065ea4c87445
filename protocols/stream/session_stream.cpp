#include "protocols/stream/session_stream.h"

#include <cerrno>
#include <cstring>

namespace proto {

namespace {
constexpr size_t plain_record_bytes = 16 * 1024 + 256;  // one TLS record's plaintext, with slack
}

std::string stream_error::describe() const {
  switch (what) {
    case kind::closed: return "connection closed by peer";
    case kind::timeout: return "idle timeout";
    case kind::shutdown: return "server shutting down";
    case kind::interrupted: return "read interrupted";
    case kind::io: return std::string("socket error: ") + std::strerror(code);
    case kind::tls: return "TLS: " + detail;
    case kind::compression: return "COMPRESS: " + detail;
  }
  return "unknown";
}

session_stream::session_stream(kio::connection& conn, const stream_options& options)
    : _conn(conn), _options(options), _lines(options.line_length_max) {}

stream_error session_stream::from_sys(const kio::sys_error& e) {
  if (e.code == 0) return {stream_error::kind::closed};
  if (e.code == ETIMEDOUT) return {stream_error::kind::timeout, e.code};
  if (e.code == ESHUTDOWN) return {stream_error::kind::shutdown, e.code};
  if (e.code == EINTR) return {stream_error::kind::interrupted, e.code};
  return {stream_error::kind::io, e.code};
}

std::string session_stream::tls_summary() const {
  if (!_tls) return {};
  return std::string(_tls->version_name()) + " with cipher " + std::string(_tls->cipher_name()) + " (" +
         std::to_string(_tls->cipher_bits()) + "/" + std::to_string(_tls->cipher_bits()) + " bits)";
}

kio::task<stream_result<void>> session_stream::send_tls_output() {
  while (true) {
    auto pending = _tls->pending_output();
    if (pending.empty()) co_return stream_result<void>{};
    auto sent = co_await _conn.write_all(pending);
    if (!sent) co_return kio::fail(from_sys(sent.error()));
    _tls->consume_output(pending.size());
  }
}

kio::task<stream_result<void>> session_stream::handshake() {
  for (;;) {
    auto step = _tls->handshake();
    auto sent = co_await send_tls_output();  // the alert, on failure, goes out too
    if (!step) co_return kio::fail(stream_error{stream_error::kind::tls, 0, step.error().reason});
    if (!sent) co_return kio::fail(sent.error());
    if (*step == tls::handshake_status::done) co_return stream_result<void>{};
    auto chunk = co_await _conn.read_some(_options.handshake_timeout_ms);
    if (!chunk) co_return kio::fail(from_sys(chunk.error()));
    auto fed = _tls->feed(*chunk);
    _conn.release();
    if (!fed) co_return kio::fail(stream_error{stream_error::kind::tls, 0, fed.error().reason});
  }
}

kio::task<stream_result<void>> session_stream::start_tls(std::shared_ptr<const tls::server_context> context) {
  // Anything received but not yet interpreted was sent in plaintext before
  // the handshake: never read it as a command afterwards.
  _view = {};
  _lines.reset();
  _out.clear();
  auto created = tls::engine::create_server(std::move(context));
  if (!created) co_return kio::fail(stream_error{stream_error::kind::tls, 0, created.error().reason});
  _tls.emplace(std::move(*created));
  if (!_plain) _plain = std::make_unique<std::byte[]>(plain_record_bytes);
  auto awaited = co_await handshake();
  co_return awaited;
}

kio::task<stream_result<void>> session_stream::start_tls_client(std::shared_ptr<const tls::client_context> context,
                                                                std::string server_name) {
  _view = {};
  _lines.reset();
  _out.clear();
  auto created = tls::engine::create_client(std::move(context), server_name);
  if (!created) co_return kio::fail(stream_error{stream_error::kind::tls, 0, created.error().reason});
  _tls.emplace(std::move(*created));
  if (!_plain) _plain = std::make_unique<std::byte[]>(plain_record_bytes);
  auto awaited = co_await handshake();
  co_return awaited;
}

stream_result<void> session_stream::start_compression() {
  auto codec = deflate_codec::create(_options.compress_piece_bytes);
  if (!codec) return kio::fail(stream_error{stream_error::kind::compression, 0, "cannot start zlib"});
  _deflate = std::move(*codec);
  _deflate->feed(_view);
  _view = {};
  _lines.reset();
  return stream_result<void>{};
}

kio::task<stream_result<void>> session_stream::fill() {
  if (!_deflate) {
    auto filled = co_await fill_lower();
    co_return filled;
  }
  for (;;) {
    // One bounded piece at a time: a small input that inflates to a lot is
    // handed out piece by piece as the session consumes it.
    auto piece = _deflate->inflate_piece();
    if (!piece) co_return kio::fail(stream_error{stream_error::kind::compression, 0, "corrupt deflate data"});
    if (!piece->empty()) {
      _view = *piece;
      co_return stream_result<void>{};
    }
    if (_deflate->has_pending_input()) continue;  // a flush marker, nothing to show yet
    auto filled = co_await fill_lower();
    if (!filled) co_return filled;
    _deflate->feed(_view);
    _view = {};
    if (!_tls) _conn.release();  // copied: the receive buffer can go back now
  }
}

kio::task<stream_result<void>> session_stream::fill_lower() {
  if (!_tls) {
    auto chunk = co_await _conn.read_some();
    if (!chunk) co_return kio::fail(from_sys(chunk.error()));
    _view = *chunk;
    co_return stream_result<void>{};
  }
  for (;;) {
    auto got = _tls->read(std::span<std::byte>(_plain.get(), plain_record_bytes));
    auto sent = co_await send_tls_output();  // KeyUpdate answers, alerts
    if (!got) co_return kio::fail(stream_error{stream_error::kind::tls, 0, got.error().reason});
    if (!sent) co_return kio::fail(sent.error());
    if (got->status == tls::read_status::data) {
      _view = std::span<std::byte>(_plain.get(), got->bytes);
      co_return stream_result<void>{};
    }
    if (got->status == tls::read_status::closed) co_return kio::fail(stream_error{stream_error::kind::closed});
    auto chunk = co_await _conn.read_some();
    if (!chunk) co_return kio::fail(from_sys(chunk.error()));
    auto fed = _tls->feed(*chunk);
    _conn.release();
    if (!fed) co_return kio::fail(stream_error{stream_error::kind::tls, 0, fed.error().reason});
  }
}

kio::task<stream_result<line_result>> session_stream::read_line() {
  for (;;) {
    if (_view.empty()) {
      auto filled = co_await fill();
      if (!filled) co_return kio::fail(filled.error());
    }
    auto step = _lines.feed(_view);
    _view = _view.subspan(step.consumed);
    if (step.state == kio::line_reader::status::line) co_return line_result{step.line, false, step.bare_lf};
    if (step.state == kio::line_reader::status::too_long) co_return line_result{{}, true, false};
  }
}

kio::task<stream_result<std::span<std::byte>>> session_stream::read_some() {
  if (_view.empty()) {
    auto filled = co_await fill();
    if (!filled) co_return kio::fail(filled.error());
  }
  co_return _view;
}

kio::task<stream_result<void>> session_stream::write(std::string_view text) {
  _out.append(text);
  if (_out.size() >= _options.write_buffer_max_bytes) {
    auto awaited = co_await flush();
    co_return awaited;
  }
  co_return stream_result<void>{};
}

kio::task<stream_result<void>> session_stream::flush() {
  if (_out.empty()) co_return stream_result<void>{};
  // Swap with the spare buffer rather than moving out: both keep their
  // capacity, so steady replies allocate nothing.
  std::swap(_out, _sending);
  _out.clear();
  auto awaited = co_await write_direct(std::as_bytes(std::span(_sending)));
  co_return awaited;
}

kio::task<stream_result<void>> session_stream::write_direct(std::span<const std::byte> bytes) {
  if (!_out.empty()) {
    auto flushed = co_await flush();
    if (!flushed) co_return flushed;
  }
  if (!_deflate) {
    auto sent = co_await write_lower(bytes);
    co_return sent;
  }
  // Every piece zlib produces goes out before the next is made, and the
  // loop ends only when zlib holds nothing back (deflate.h): a reply is
  // never left half inside the compressor, however the socket splits it.
  _deflate->begin_compress(bytes);
  bool done = false;
  while (!done) {
    auto piece = _deflate->compress_piece(done);
    if (piece.empty()) continue;
    auto sent = co_await write_lower(piece);
    if (!sent) co_return sent;
  }
  co_return stream_result<void>{};
}

kio::task<stream_result<void>> session_stream::write_lower(std::span<const std::byte> bytes) {
  if (!_tls) {
    auto sent = co_await _conn.write_all(bytes);
    if (!sent) co_return kio::fail(from_sys(sent.error()));
    co_return stream_result<void>{};
  }
  // Encrypt in slices so the ciphertext buffer stays around 64 KB however
  // large the body is.
  constexpr size_t slice_bytes = 64 * 1024;
  while (!bytes.empty()) {
    auto slice = bytes.first(std::min(bytes.size(), slice_bytes));
    auto sealed = _tls->write(slice);
    if (!sealed) co_return kio::fail(stream_error{stream_error::kind::tls, 0, sealed.error().reason});
    auto sent = co_await send_tls_output();
    if (!sent) co_return sent;
    bytes = bytes.subspan(slice.size());
  }
  co_return stream_result<void>{};
}

kio::task<void> session_stream::close() {
  if (_tls) {
    (void)_tls->shutdown();
    (void)co_await send_tls_output();
  }
  co_await _conn.close();
}

}  // namespace proto
