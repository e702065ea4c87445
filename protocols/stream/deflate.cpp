#include "protocols/stream/deflate.h"

#include <zlib.h>

#include <cstring>

namespace proto {

struct deflate_codec::zstreams {
  z_stream out{};
  z_stream in{};
  bool out_ready = false;
  bool in_ready = false;
};

kio::result<std::unique_ptr<deflate_codec>, deflate_errc> deflate_codec::create(std::size_t piece_bytes) {
  std::unique_ptr<deflate_codec> c(new deflate_codec());
  c->_piece_bytes = piece_bytes < 64 ? 64 : piece_bytes;
  c->_z = std::make_unique<zstreams>();
  // Raw deflate (negative window bits), as RFC 4978 requires; level 6 and
  // memLevel 8 are zlib's defaults (about 256 KiB per direction).
  if (deflateInit2(&c->_z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return kio::fail(deflate_errc::init_failed);
  c->_z->out_ready = true;
  if (inflateInit2(&c->_z->in, -15) != Z_OK) return kio::fail(deflate_errc::init_failed);
  c->_z->in_ready = true;
  c->_out = std::make_unique<std::byte[]>(c->_piece_bytes);
  c->_inflated = std::make_unique<std::byte[]>(c->_piece_bytes);
  return c;
}

deflate_codec::~deflate_codec() {
  if (_z && _z->out_ready) deflateEnd(&_z->out);
  if (_z && _z->in_ready) inflateEnd(&_z->in);
}

void deflate_codec::begin_compress(std::span<const std::byte> plain) {
  _z->out.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(plain.data()));
  _z->out.avail_in = static_cast<uInt>(plain.size());
}

std::span<const std::byte> deflate_codec::compress_piece(bool& done) {
  z_stream& z = _z->out;
  z.next_out = reinterpret_cast<Bytef*>(_out.get());
  z.avail_out = static_cast<uInt>(_piece_bytes);
  int rc = deflate(&z, Z_SYNC_FLUSH);
  std::size_t produced = _piece_bytes - z.avail_out;
  // With Z_SYNC_FLUSH, zlib has emitted everything once it leaves room in
  // the output: a full piece may hide more (even the flush marker itself).
  done = z.avail_in == 0 && z.avail_out != 0;
  if (rc == Z_BUF_ERROR && produced == 0) done = true;  // nothing left at all
  return std::span<const std::byte>(_out.get(), produced);
}

void deflate_codec::feed(std::span<const std::byte> compressed) {
  if (_pending_offset == _pending.size()) {
    _pending.clear();
    _pending_offset = 0;
  }
  _pending.append(reinterpret_cast<const char*>(compressed.data()), compressed.size());
}

kio::result<std::span<std::byte>, deflate_errc> deflate_codec::inflate_piece() {
  z_stream& z = _z->in;
  z.next_in = reinterpret_cast<Bytef*>(_pending.data() + _pending_offset);
  z.avail_in = static_cast<uInt>(_pending.size() - _pending_offset);
  z.next_out = reinterpret_cast<Bytef*>(_inflated.get());
  z.avail_out = static_cast<uInt>(_piece_bytes);
  int rc = ::inflate(&z, Z_SYNC_FLUSH);
  std::size_t consumed = (_pending.size() - _pending_offset) - z.avail_in;
  _pending_offset += consumed;
  if (rc == Z_MEM_ERROR) return kio::fail(deflate_errc::out_of_memory);
  if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_END) return kio::fail(deflate_errc::corrupt_input);
  return std::span<std::byte>(_inflated.get(), _piece_bytes - z.avail_out);
}

}  // namespace proto
