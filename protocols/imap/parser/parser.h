#pragma once
// parse_command: a framed command (from command_reader) to a typed command.
// Pure: no I/O, allocation bounded by the command's size and the limits.
//
//   imap::command_reader reader(limits);
//   auto ev = reader.read(input);
//   if (ev.status == imap::read_status::command) {
//     auto parsed = imap::parse_command(reader.command(), limits, options);
//     if (!parsed) answer(parsed.error());   // tagged BAD, connection continues
//     else dispatch(parsed->body);           // std::visit over the variant
//   }

#include "kernel_io/base/result.h"
#include "protocols/imap/parser/command.h"
#include "protocols/imap/parser/errc.h"
#include "protocols/imap/parser/limits.h"
#include "protocols/imap/parser/mailbox_name.h"
#include "protocols/imap/parser/reader.h"

namespace imap {

struct parse_options {
  // How mailbox names arrive: modified UTF-7, or UTF-8 once the client has
  // enabled UTF8=ACCEPT (or IMAP4rev2).
  mailbox_encoding encoding = mailbox_encoding::modified_utf7;
};

// Errors always carry can_continue = true (framing was fine) and the tag
// when it parsed.
kio::result<command, command_error> parse_command(const framed_command& framed, const parser_limits& limits,
                                                  const parse_options& options = {});

// Convenience for tests and tools: frames `wire` with `reader` (one command,
// CRLF optional at the end, literals inline as a client sends them after "+"
// continuations, all accepted and buffered) and parses it with the reader's
// limits. Incomplete input fails with errc::syntax. APPEND literal views
// point into `reader` and stay valid until its next call.
kio::result<command, command_error> parse_command_text(command_reader& reader, std::string_view wire,
                                                       const parse_options& options = {});

}  // namespace imap
