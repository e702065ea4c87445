// Property: for any bytes, scan_segment() terminates, reports records that
// lie inside the input and re-verify, and every decodable payload re-encodes
// to a payload that decodes to the same encoding (round trip).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "store/format/format.h"
#include "store/log/segment_scan.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace store;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto scan = log::scan_segment(bytes);
  if (scan.valid_end > size && scan.header) std::abort();
  for (const auto& r : scan.records) {
    if (r.offset + format::record_header_size + r.payload.size() > size) std::abort();
    if (format::check_record(bytes.substr(r.offset), scan.header->checksum_seed).status != format::frame_status::ok)
      std::abort();
  }
  // Decoders get the raw input as a payload of every type.
  for (std::uint16_t t = 1; t <= 13; ++t) {
    const auto p = format::decode_payload(static_cast<format::record_type>(t), bytes);
    if (!p) continue;
    const auto again = format::encode_payload(*p);
    const auto back = format::decode_payload(static_cast<format::record_type>(t), again);
    if (!back || format::encode_payload(*back) != again) std::abort();
  }
  return 0;
}
