#pragma once
// Maildir and mbox import/export, so people can move in from Dovecot or
// Courier and out again without losing flags or internal dates.
//
// Runs in tools (the admin CLI's `import`/`export`), not on a reactor: it
// uses blocking file I/O and message_store's blocking flush. Memory is fixed
// per message, never per mailbox: a Maildir file or an mbox message is
// streamed into a blob_writer in pieces (mbox headers are held until the
// blank line, bounded by header_bytes_max), and blobs are committed in
// batches of at most batch_messages before their deliveries.
//
// Line endings: the store keeps messages as received over SMTP/IMAP (CRLF).
// Import turns bare LF into CRLF; export writes LF, the convention of both
// formats on disk. A CRLF message therefore survives export -> import intact.
//
// Flags:
//   Maildir (Dovecot and Courier): the info suffix ":2,<letters>" (also "!2,"
//     and ";2," for filesystems without ':'): D=\Draft F=\Flagged P=$Forwarded
//     R=\Answered S=\Seen T=\Deleted; lowercase a..z are keywords numbered by
//     the folder's dovecot-keywords file ("<n> <keyword>" lines). Internal
//     date = the file's mtime (what Dovecot does).
//   mbox (mboxrd quoting): "From " separator lines carry the internal date
//     (asctime, UTC); Status: R -> \Seen; X-Status: A F T D -> \Answered
//     \Flagged \Draft \Deleted; X-Keywords: keywords. Those metadata headers
//     (and X-UID, X-IMAP, X-IMAPbase) are removed from the stored message and
//     written again on export, as Dovecot does.

#include <cstdint>
#include <string>
#include <vector>

#include "kernel_io/base/result.h"
#include "store/message_store.h"

namespace store::port {

struct import_options {
  std::uint32_t batch_messages = 256;
  std::size_t header_bytes_max = 256u << 10;
  bool ignore_quota = true;  // a migration must not stop half way
};

struct import_report {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t skipped = 0;             // unreadable or oversized entries
  std::vector<std::string> problems;     // one line per skipped entry
};

kio::result<import_report, errc> import_maildir(message_store& store, account_id account, mailbox_id mailbox,
                                                const std::string& maildir, const import_options& options = {});
kio::result<std::uint64_t, errc> export_maildir(const message_store& store, account_id account, mailbox_id mailbox,
                                                const std::string& maildir);
kio::result<import_report, errc> import_mbox(message_store& store, account_id account, mailbox_id mailbox,
                                             const std::string& mbox_path, const import_options& options = {});
kio::result<std::uint64_t, errc> export_mbox(const message_store& store, account_id account, mailbox_id mailbox,
                                             const std::string& mbox_path);

// Pure helpers, exposed for tests and the fuzz target.
struct maildir_info {
  std::uint32_t flags = 0;
  std::vector<std::string> keywords;
};
maildir_info parse_maildir_name(std::string_view file_name, const std::vector<std::string>& keyword_table);
std::string maildir_flag_suffix(std::uint32_t flags, const std::vector<std::string>& keywords,
                                std::vector<std::string>& keyword_table);
// "Thu Nov 23 16:21:36 2026" <-> ms since the epoch (UTC).
bool parse_asctime(std::string_view text, std::int64_t& ms);
std::string format_asctime(std::int64_t ms);

}  // namespace store::port
