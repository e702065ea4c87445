#pragma once
// Errors of the IMAP command reader and parser. Each maps to a tagged BAD
// (or NO [TOOBIG] for size limits) when the tag is known, else "* BAD".

#include <cstdint>
#include <string>
#include <string_view>

namespace imap {

enum class errc : std::uint8_t {
  // Reader (framing) errors.
  line_too_long,            // a line segment exceeds line_length_max
  literal_too_large,        // a literal exceeds literal_size_max
  non_sync_literal_too_large,  // a {n+} literal exceeds non_sync_literal_size_max (LITERAL-)
  command_too_large,        // the whole command exceeds command_size_max
  too_many_literals,        // more than literals_max literals in one command
  bad_literal,              // a malformed literal marker ({12x}, overflow)
  literal_rejected,         // the session refused the literal (reject_literal)
  // Parser errors.
  bad_tag,                  // missing or malformed tag
  unknown_command,          // a command name we do not implement
  syntax,                   // any other grammar violation
  nesting_too_deep,         // nesting_depth_max exceeded
  too_many_ranges,          // sequence_ranges_max exceeded
  too_many_arguments,       // arguments_max exceeded
  bad_sequence_set,         // 0, overflow, empty set, junk in a set
  bad_number,               // not a number, or out of range
  bad_date,                 // malformed date or date-time
  bad_mailbox_name,         // invalid modified UTF-7 / UTF-8 in a mailbox name
  bad_literal_position,     // a literal where the grammar wants an atom, or ~{n} outside APPEND
  nul_in_literal,           // NUL in a non-binary literal (RFC 3501 CHAR8)
};

std::string_view to_string(errc code);

// Size limits are refused with NO [TOOBIG] (RFC 4469/7889 spirit), grammar
// errors with BAD. The session picks the response word from this.
constexpr bool is_size_limit(errc code) {
  return code == errc::line_too_long || code == errc::literal_too_large ||
         code == errc::non_sync_literal_too_large || code == errc::command_too_large ||
         code == errc::too_many_literals;
}

// What the session needs to answer a bad command: the tag when the reader got
// far enough to know it (empty otherwise, answer with "*"), and whether the
// connection may continue (false: send "* BYE" and close).
struct command_error {
  errc code = errc::syntax;
  std::string tag;
  bool can_continue = true;
  // A short static description for the BAD text ("Expected SP after tag").
  std::string_view detail;
};

}  // namespace imap
