#include "protocols/imap/parser/errc.h"

namespace imap {

std::string_view to_string(errc code) {
  switch (code) {
    case errc::line_too_long: return "line too long";
    case errc::literal_too_large: return "literal too large";
    case errc::non_sync_literal_too_large: return "non-synchronizing literal too large";
    case errc::command_too_large: return "command too large";
    case errc::too_many_literals: return "too many literals";
    case errc::bad_literal: return "malformed literal";
    case errc::literal_rejected: return "literal rejected";
    case errc::bad_tag: return "bad tag";
    case errc::unknown_command: return "unknown command";
    case errc::syntax: return "syntax error";
    case errc::nesting_too_deep: return "nesting too deep";
    case errc::too_many_ranges: return "too many sequence ranges";
    case errc::too_many_arguments: return "too many arguments";
    case errc::bad_sequence_set: return "bad sequence set";
    case errc::bad_number: return "bad number";
    case errc::bad_date: return "bad date";
    case errc::bad_mailbox_name: return "bad mailbox name";
    case errc::bad_literal_position: return "literal not allowed here";
    case errc::nul_in_literal: return "NUL in literal";
  }
  return "unknown error";
}

}  // namespace imap
