#pragma once
// Named limits and error codes of the MIME parser. Every quantity that the
// sender of a message can grow (header fields, parts, nesting, parameters,
// addresses) has a cap here, so memory and time stay bounded on hostile input.

#include <cstddef>
#include <cstdint>

namespace mime {

enum class errc : std::uint8_t {
  bad_section = 1,      // a FETCH section spec we cannot parse
  no_such_part,         // the section names a part the message does not have
  not_a_message,        // HEADER/TEXT asked of a part that is not message/rfc822
};

// Defects are facts about broken input that the parser recovered from. They
// are a bitmask so the spam filter can score them and metrics can count them.
enum defect : std::uint32_t {
  defect_none = 0,
  defect_header_line_without_colon = 1u << 0,   // line in a header block skipped
  defect_header_field_truncated = 1u << 1,      // field longer than header_field_size_max
  defect_header_count_limit = 1u << 2,          // fields past header_count_max dropped
  defect_missing_final_boundary = 1u << 3,      // a multipart ran to the end
  defect_multipart_without_boundary = 1u << 4,  // multipart/* with no usable boundary
  defect_part_count_limit = 1u << 5,            // boundaries ignored past part_count_max
  defect_depth_limit = 1u << 6,                 // nesting past depth_max kept as a leaf
  defect_header_without_body = 1u << 7,         // header block not ended by a blank line
  defect_multipart_without_parts = 1u << 8,     // boundary given, never seen
};

struct limits {
  // Bytes of one header field (name, colon, value and folds) that the
  // streaming parser buffers and reports; the rest is skipped, not stored.
  std::size_t header_field_size_max = 64 * 1024;
  // Header fields reported per part; more are scanned past, not reported.
  std::size_t header_count_max = 2000;
  // Parts per message, the root included.
  std::size_t part_count_max = 2000;
  // Nesting of multiparts and message/rfc822 below the root.
  std::size_t depth_max = 40;
  // Boundary parameter length accepted (RFC 2046 allows 70).
  std::size_t boundary_size_max = 200;
  // Parameters kept per Content-Type / Content-Disposition.
  std::size_t parameter_count_max = 64;
  // RFC 2231 continuation sections per parameter.
  std::size_t parameter_section_max = 64;
  // Addresses parsed out of one address header.
  std::size_t address_count_max = 4000;
};

}  // namespace mime
