#pragma once
// Reading server replies on the client side: SMTP multi-line replies, POP3
// status lines and dot-terminated lists, IMAP responses up to the tagged
// completion (with literals, which may be captured for verification).
// Every read is bounded by the stream's per-read timeout and line limit.

#include <optional>
#include <string>
#include <vector>

#include "kernel_io/ring/task.h"
#include "protocols/stream/session_stream.h"

namespace bench_load {

struct smtp_reply {
  int code = 0;
  std::string text;                 // every line, joined with '\n'
};
// nullopt on a stream error or a malformed reply (error says which).
kio::task<std::optional<smtp_reply>> read_smtp_reply(proto::session_stream& s, std::string& error);

struct imap_response {
  std::string status;               // OK, NO, BAD (of the tagged line)
  std::string tagged;               // the tagged line
  std::vector<std::string> untagged;  // untagged lines without literals (kept only when asked)
  std::vector<std::string> literals;  // literal contents (kept only when asked)
  size_t untagged_count = 0;
  size_t literal_bytes = 0;
};
struct imap_read_options {
  bool keep_untagged = false;
  bool keep_literals = false;
  size_t keep_max = 1 << 16;        // at most this many untagged lines/literals kept
};
kio::task<std::optional<imap_response>> read_imap_response(proto::session_stream& s, const std::string& tag,
                                                           const imap_read_options& options, std::string& error);
// One line (for greetings and continuation requests).
kio::task<std::optional<std::string>> read_line_copy(proto::session_stream& s, std::string& error);

// POP3: a status line (+OK / -ERR), then optionally a dot-terminated body
// (un-stuffed, CRLF kept) appended into `body` when it is not null.
kio::task<std::optional<std::string>> read_pop3_status(proto::session_stream& s, std::string& error);
kio::task<bool> read_pop3_multiline(proto::session_stream& s, std::string* body, size_t& bytes, std::string& error);

}  // namespace bench_load
