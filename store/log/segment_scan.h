#pragma once
// segment_scan: reads one segment's bytes and sorts them into valid records,
// corrupt ranges in the middle (reported, skipped) and a torn tail (cut by
// recovery). Pure: the caller reads the file; nothing here does I/O, so the
// same code serves recovery, backup restore, compaction and the fuzz target.
//
// How a bad spot is classified: at the first byte that does not frame a
// valid record, the scanner looks for the next offset where a record with a
// valid checksum starts (records carry a magic and a per-segment seeded
// checksum, so a false match needs a forged 64-bit seeded hash). If one is
// found, the bytes between are a corrupt range in the middle: reported with
// their offset and skipped, and every later record is kept. If none is found,
// everything from the bad spot on is the torn tail. A transaction (records
// chained with record_flag::continues) is applied whole or not at all: one
// that a corrupt range cuts is reported and dropped, one that the tail cuts
// is part of the tail (so truncation removes its first records too).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/format/format.h"

namespace store::log {

struct scanned_record {
  std::uint64_t offset = 0;  // file offset of the record header
  format::record_header header;
  std::string_view payload;  // points into the scanned bytes
};

struct corrupt_range {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::uint32_t records_dropped = 0;  // intact records of a cut transaction
};

struct scan_result {
  std::optional<format::segment_header> header;
  format::header_error header_error = format::header_error::too_short;
  // Records of complete transactions, in file order.
  std::vector<scanned_record> records;
  std::vector<corrupt_range> corrupt;
  // Where valid data ends: recovery truncates the file here. Bytes in
  // [valid_end, file size) that are not all zero are the torn tail.
  std::uint64_t valid_end = 0;
  std::uint64_t torn_bytes = 0;  // non-zero bytes after valid_end
  std::uint32_t torn_records = 0;  // complete records cut with a torn transaction
};

scan_result scan_segment(std::string_view file);

}  // namespace store::log
