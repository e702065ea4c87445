#include "store/log/segment_scan.h"

#include <cstring>

#include "store/format/codec.h"

namespace store::log {
namespace {

bool all_zero(std::string_view s) {
  for (char c : s)
    if (c != 0) return false;
  return true;
}

// The next offset >= from where a valid record starts, if any.
std::optional<std::uint64_t> resync(std::string_view file, std::uint64_t from, std::uint64_t seed) {
  char magic[4];
  format::store_u32(magic, format::record_magic);
  while (from + format::record_header_size <= file.size()) {
    const void* hit = memmem(file.data() + from, file.size() - from, magic, 4);
    if (!hit) return std::nullopt;
    const auto at = static_cast<std::uint64_t>(static_cast<const char*>(hit) - file.data());
    if (format::check_record(file.substr(at), seed).status == format::frame_status::ok) return at;
    from = at + 1;
  }
  return std::nullopt;
}

}  // namespace

scan_result scan_segment(std::string_view file) {
  scan_result r;
  const auto decoded = format::decode_segment_header(file);
  if (!decoded.header) {
    r.header_error = decoded.error;
    return r;
  }
  r.header = decoded.header;
  const std::uint64_t seed = r.header->checksum_seed;
  std::uint64_t pos = r.header->header_size;
  // Records of the transaction being read; committed when its last arrives.
  std::vector<scanned_record> open_txn;
  std::uint64_t open_txn_start = pos;

  // After a corrupt range: drop records until a transaction's first record.
  corrupt_range* skipping = nullptr;
  while (pos < file.size()) {
    const auto v = format::check_record(file.substr(pos), seed);
    if (v.status == format::frame_status::ok) {
      const std::uint64_t frame = format::record_header_size + v.header.payload_size;
      if (skipping) {
        if (v.header.transaction_index != 0) {
          skipping->length += frame;
          skipping->records_dropped += 1;
          pos += frame;
          continue;
        }
        skipping = nullptr;
      }
      // A record whose index does not follow its predecessor's is a
      // writer bug or a splice of two files; treat it as corruption.
      if (v.header.transaction_index != open_txn.size()) goto corrupt;
      if (open_txn.empty()) open_txn_start = pos;
      open_txn.push_back({pos, v.header, v.payload});
      if (!(v.header.flags & format::record_flag::continues)) {
        r.records.insert(r.records.end(), open_txn.begin(), open_txn.end());
        open_txn.clear();
      }
      pos += frame;
      continue;
    }
    if (v.status == format::frame_status::zeroes && all_zero(file.substr(pos))) break;
  corrupt : {
    const auto next = resync(file, pos + 1, seed);
    if (!next) break;
    // A corrupt range in the middle. A transaction it interrupts is dropped
    // as a whole (its intact records are counted in the report).
    corrupt_range c{pos, *next - pos, static_cast<std::uint32_t>(open_txn.size())};
    if (!open_txn.empty()) {
      c.offset = open_txn_start;
      c.length = *next - open_txn_start;
      open_txn.clear();
    }
    r.corrupt.push_back(c);
    skipping = &r.corrupt.back();
    pos = *next;
  }
  }
  if (!open_txn.empty()) {
    r.torn_records = static_cast<std::uint32_t>(open_txn.size());
    pos = open_txn_start;
  }
  r.valid_end = pos;
  const auto tail = file.substr(std::min<std::uint64_t>(pos, file.size()));
  std::uint64_t last_nonzero = 0;
  for (std::size_t i = 0; i < tail.size(); ++i)
    if (tail[i] != 0) last_nonzero = i + 1;
  r.torn_bytes = last_nonzero;
  return r;
}

}  // namespace store::log
