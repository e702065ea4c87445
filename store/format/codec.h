#pragma once
// Little-endian field codec for on-disk records. A byte_writer appends to a
// caller-owned std::string; a byte_reader walks a span and fails (returns
// false / nullopt) instead of reading past the end, so a corrupt or hostile
// payload can never make a decoder read out of bounds. Both are pure: no I/O.

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace store::format {

class byte_writer {
 public:
  explicit byte_writer(std::string& out) : _out(out) {}
  void u8(std::uint8_t v) { _out.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) { put_le(v); }
  void u32(std::uint32_t v) { put_le(v); }
  void u64(std::uint64_t v) { put_le(v); }
  void i64(std::int64_t v) { put_le(static_cast<std::uint64_t>(v)); }
  void raw(std::string_view bytes) { _out.append(bytes); }
  // A string is a u32 length then its bytes.
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    raw(s);
  }

 private:
  template <class T>
  void put_le(T v) {
    char b[sizeof(T)];
    for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    _out.append(b, sizeof(T));
  }
  std::string& _out;
};

class byte_reader {
 public:
  explicit byte_reader(std::string_view in) : _in(in) {}
  bool u8(std::uint8_t& v) { return get_le(v); }
  bool u16(std::uint16_t& v) { return get_le(v); }
  bool u32(std::uint32_t& v) { return get_le(v); }
  bool u64(std::uint64_t& v) { return get_le(v); }
  bool i64(std::int64_t& v) {
    std::uint64_t u = 0;
    if (!get_le(u)) return false;
    v = static_cast<std::int64_t>(u);
    return true;
  }
  bool raw(std::size_t n, std::string_view& v) {
    if (_in.size() - _pos < n) return false;
    v = _in.substr(_pos, n);
    _pos += n;
    return true;
  }
  // `limit` bounds what a length field may claim before we trust it.
  bool str(std::string& v, std::size_t limit) {
    std::uint32_t n = 0;
    std::string_view s;
    if (!u32(n) || n > limit || !raw(n, s)) return false;
    v.assign(s);
    return true;
  }
  std::size_t remaining() const { return _in.size() - _pos; }
  std::size_t position() const { return _pos; }

 private:
  template <class T>
  bool get_le(T& v) {
    if (_in.size() - _pos < sizeof(T)) return false;
    T r = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      r |= static_cast<T>(static_cast<T>(static_cast<unsigned char>(_in[_pos + i])) << (8 * i));
    _pos += sizeof(T);
    v = r;
    return true;
  }
  std::string_view _in;
  std::size_t _pos = 0;
};

inline std::uint32_t load_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
inline std::uint64_t load_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
inline std::uint16_t load_u16(const char* p) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(p[0]) | (static_cast<unsigned char>(p[1]) << 8));
}
inline void store_u16(char* p, std::uint16_t v) { for (int i = 0; i < 2; ++i) p[i] = static_cast<char>(v >> (8 * i)); }
inline void store_u32(char* p, std::uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i)); }
inline void store_u64(char* p, std::uint64_t v) { for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i)); }

}  // namespace store::format
