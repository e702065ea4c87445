#pragma once
// IMAP views of a parsed message: ENVELOPE, BODY/BODYSTRUCTURE (RFC 3501
// §7.4.2, RFC 9051 §7.5.2) and the bytes of BODY[section] (RFC 3501 §6.4.5).
// Strings are sent as quoted strings when they are plain printable ASCII,
// as literals otherwise (CR, LF, NUL, 8-bit, or long).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"
#include "protocols/mime/limits.h"
#include "protocols/mime/structure.h"

namespace mime {

// Appends an IMAP nstring: NIL, a quoted string, or a {n} literal.
void append_imap_string(std::string& out, std::string_view s);
void append_imap_nstring(std::string& out, const std::string_view* s);

// ENVELOPE of the message whose header block is `header` (the bytes from
// its header start to its body start).
std::string render_envelope(std::string_view header, const limits& lim = {});
// ENVELOPE of the message rooted at `message_part` (the root, or the child
// of a message/rfc822 part).
std::string render_envelope(const message_tree& tree, std::string_view message, std::uint32_t message_part = 0);

// BODY (extended = false) or BODYSTRUCTURE (extended = true) of the whole
// message.
std::string render_bodystructure(const message_tree& tree, std::string_view message, bool extended);

// The bytes of BODY[section]: a view into the message, or (HEADER.FIELDS)
// bytes assembled here. `bytes()` is valid while both this and the message
// live.
class section_data {
 public:
  static section_data view(std::string_view slice) { section_data d; d._slice = slice; return d; }
  static section_data built(std::string bytes) {
    section_data d;
    d._built = std::move(bytes);
    d._is_built = true;
    return d;
  }
  std::string_view bytes() const { return _is_built ? std::string_view(_built) : _slice; }

 private:
  std::string_view _slice;
  std::string _built;
  bool _is_built = false;
};

// `section` is the text between the brackets of BODY[...]: "", "1.2",
// "1.2.MIME", "HEADER", "2.TEXT", "HEADER.FIELDS (Subject From)",
// "1.HEADER.FIELDS.NOT (Received)". Keywords are case-insensitive.
// A part number past the parts the message has is errc::no_such_part (a
// server answers it with an empty string); HEADER/TEXT of a part that is not
// message/rfc822 is errc::not_a_message.
kio::result<section_data, errc> section_bytes(const message_tree& tree, std::string_view message,
                                              std::string_view section);

}  // namespace mime
