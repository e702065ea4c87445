#pragma once
// COMPRESS=DEFLATE (RFC 4978): raw deflate (RFC 1951, no zlib header) both
// ways, through zlib. Pure (no I/O): session_stream feeds it and moves the
// bytes. Each direction produces output in bounded pieces, so a small
// compressed input cannot make us hold a large inflated buffer (a
// "deflate bomb" is read a piece at a time) and a large reply is sent as a
// series of bounded compressed pieces.
//
// The flush rule that broke another server: a reply is compressed with
// Z_SYNC_FLUSH, and deflate() must be called again for as long as it fills
// the whole output piece — stopping when the socket took only part of a
// piece, or when the piece was exactly full, leaves the tail of the reply
// inside zlib until the next reply, and the client waits forever.
// compress_piece() says `done` only when zlib holds nothing back.
//
// Lifecycle: owned by a session_stream on the connection's core.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kernel_io/base/result.h"

namespace proto {

enum class deflate_errc { init_failed, corrupt_input, out_of_memory };

class deflate_codec {
 public:
  static kio::result<std::unique_ptr<deflate_codec>, deflate_errc> create(std::size_t piece_bytes);
  ~deflate_codec();
  deflate_codec(const deflate_codec&) = delete;
  deflate_codec& operator=(const deflate_codec&) = delete;

  // Output direction: begin_compress() takes a reply; compress_piece()
  // then returns its compressed pieces (at most piece_bytes each, maybe
  // empty) until `done`. `plain` must stay valid until then; each piece
  // until the next call. The last piece ends with a sync flush marker, so
  // the client can decode the whole reply at once.
  void begin_compress(std::span<const std::byte> plain);
  std::span<const std::byte> compress_piece(bool& done);

  // Input direction: queue compressed bytes, then take inflated bytes in
  // pieces of at most piece_bytes. An empty piece means "needs more input".
  void feed(std::span<const std::byte> compressed);
  kio::result<std::span<std::byte>, deflate_errc> inflate_piece();
  bool has_pending_input() const { return _pending_offset < _pending.size(); }

  std::size_t piece_bytes() const { return _piece_bytes; }

 private:
  deflate_codec() = default;

  struct zstreams;
  std::unique_ptr<zstreams> _z;
  std::size_t _piece_bytes = 0;
  std::unique_ptr<std::byte[]> _out;       // one compressed output piece
  std::unique_ptr<std::byte[]> _inflated;  // one inflated input piece
  std::string _pending;                    // compressed input not yet inflated
  std::size_t _pending_offset = 0;
};

}  // namespace proto
