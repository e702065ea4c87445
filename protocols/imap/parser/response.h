#pragma once
// Helpers for building IMAP responses. Pure string building; the session
// decides what to send. Sequence-set compression lives in sequence_set.h,
// modified UTF-7 in mailbox_name.h.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocols/imap/parser/mailbox_name.h"

namespace imap {

struct quoting_options {
  // 8-bit bytes may appear in quoted strings only once UTF8=ACCEPT (RFC
  // 6855) or IMAP4rev2 is in effect; otherwise they force a literal.
  bool utf8_allowed = false;
  // Longer strings are sent as literals: cheaper for the client to skip and
  // no escaping cost. 1024 is well above any header field a client shows.
  std::size_t quoted_length_max = 1024;
};

// A string as a quoted string when that is possible ("a \"b\""), else as a
// synchronising-style literal "{n}\r\n<bytes>" (server literals never wait).
// CR, LF and NUL always force a literal; NUL is legal only in literal8, so a
// value containing NUL is the caller's bug and is still sent as a literal.
void append_quote_or_literal(std::string& out, std::string_view value, const quoting_options& options = {});
std::string quote_or_literal(std::string_view value, const quoting_options& options = {});
// nstring: NIL for no value.
void append_nstring(std::string& out, std::optional<std::string_view> value, const quoting_options& options = {});
// astring: a bare atom when every byte is an ASTRING-CHAR, else as above.
void append_astring(std::string& out, std::string_view value, const quoting_options& options = {});

// "(\Seen \Answered $Junk)". Flags are atoms we validated on the way in.
void append_flag_list(std::string& out, std::span<const std::string> flags);
std::string flag_list(std::span<const std::string> flags);

// A mailbox name (internal UTF-8) as LIST/STATUS/COPYUID responses need it:
// encoded per `encoding`, then quoted or literal.
void append_mailbox(std::string& out, std::string_view utf8_name, mailbox_encoding encoding);

}  // namespace imap
