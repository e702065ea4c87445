#pragma once
// RFC 5322 address lists, as IMAP ENVELOPE needs them: display names,
// groups, comments, quoted local parts, obsolete route addresses, and broken
// input recovered the way deployed servers do (a missing '>' or domain, stray
// commas, unbalanced quotes). Strings are raw header bytes (not RFC 2047
// decoded): ENVELOPE sends them as the message has them.

#include <string>
#include <string_view>
#include <vector>

#include "protocols/mime/limits.h"

namespace mime {

struct address {
  enum class kind : unsigned char { mailbox, group_start, group_end };
  kind what = kind::mailbox;
  std::string name;     // display name (phrase, or the comment if no phrase); group name for group_start
  std::string route;    // obsolete source route "@a,@b", usually empty
  std::string mailbox;  // local part, unquoted
  std::string host;     // domain; empty when the input had none
};

// Parses an address-list header value (raw or unfolded). Never fails:
// unparsable pieces become best-effort mailboxes. At most
// lim.address_count_max entries are returned.
std::vector<address> parse_address_list(std::string_view value, const limits& lim = {});

}  // namespace mime
