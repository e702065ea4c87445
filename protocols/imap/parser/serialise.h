#pragma once
// serialise: a typed command back to the wire form a client would send
// (literals inline, as after "+" continuations, without the final CRLF).
// It exists for the parse -> serialise -> parse fuzz property and for tests
// and tools that need to build commands; the server itself never sends
// commands. Streamed APPEND literals serialise with their size and no data.

#include <string>

#include "protocols/imap/parser/command.h"
#include "protocols/imap/parser/mailbox_name.h"

namespace imap {

std::string serialise(const command& cmd, mailbox_encoding encoding = mailbox_encoding::modified_utf7);
void append_search_key(std::string& out, const search_key& key);
void append_fetch_attribute(std::string& out, const fetch_attribute& attribute);

}  // namespace imap
