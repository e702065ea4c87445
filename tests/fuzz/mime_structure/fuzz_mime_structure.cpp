// Fuzz target for the MIME structure parser. Property (the consistency
// check shared with the unit tests): offsets nest and slice back, line
// counts match the bytes, leaf body events equal [body_start, body_end),
// and the stream parser fed in random chunkings reports the same events and
// tree as the whole-message parser. Rendering and every section must not
// crash. Small limits so the fuzzer reaches them.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/mime/address.h"
#include "protocols/mime/content_type.h"
#include "protocols/mime/encoded_word.h"
#include "protocols/mime/imap_render.h"
#include "tests/unit/mime/mime_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view msg(reinterpret_cast<const char*>(data), size);
  mime::limits lim;
  lim.depth_max = 8;
  lim.part_count_max = 64;
  lim.header_count_max = 32;
  lim.header_field_size_max = 256;
  lim.boundary_size_max = 40;
  std::string err = mime::check::check_message(msg, 2, lim);
  if (!err.empty()) {
    std::fprintf(stderr, "mime consistency violated: %s\n", err.c_str());
    std::abort();
  }
  mime::message_tree tree = mime::parse_message(msg, lim);
  (void)mime::render_bodystructure(tree, msg, true);
  for (const char* spec : {"", "1", "1.1", "2.1.2", "1.MIME", "2.HEADER", "2.TEXT", "HEADER.FIELDS (From To)",
                           "1.HEADER.FIELDS.NOT (Subject)"}) {
    auto r = mime::section_bytes(tree, msg, spec);
    if (r && r->bytes().size() > msg.size() + 64 * 1024) std::abort();
  }
  // The header-level parsers over the raw input too.
  (void)mime::decode_header_value(msg.substr(0, 4096));
  (void)mime::parse_address_list(msg.substr(0, 4096), lim);
  (void)mime::parse_content_type(msg.substr(0, 4096), false, lim);
  return 0;
}
