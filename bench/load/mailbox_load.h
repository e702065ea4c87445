#pragma once
// The IMAP and POP3 load generators. Both log in as one account (the bench
// fills its mailbox over SMTP first) and read it; what they fetch is checked
// against the SMTP manifest, so a server that answers fast with the wrong
// bytes does not win.
//
// IMAP workloads (one operation = one command, timed from the last byte of
// the command sent to its tagged reply):
//   login          connect, (STARTTLS), LOGIN, SELECT INBOX, LOGOUT per op
//   fetch-headers  UID FETCH 1:* (UID RFC822.SIZE BODY.PEEK[HEADER]) per op
//   fetch-bodies   UID FETCH <uid> BODY.PEEK[] for every message, one per op
//   search         UID SEARCH BODY "<word>" per op
//   flags          UID STORE <uid> +FLAGS/-FLAGS (\Flagged) per op
//   idle           LOGIN, SELECT, IDLE, then hold the connection until the
//                  hold time ends (memory per idle connection); op = one
//                  connection in IDLE. With --storm-messages K, K messages
//                  are then sent over SMTP and every idle connection times
//                  the EXISTS push of each (the IDLE storm).
// POP3 workload: retr-all: USER/PASS, STAT, RETR of every message (one op
// per RETR), QUIT without DELE.

#include <memory>
#include <string>
#include <string_view>

#include "bench/load/driver.h"

namespace bench_load {

struct mailbox_options {
  common_options common;
  std::string workload = "fetch-headers";
  unsigned rounds = 1;               // passes over the workload per connection
  std::string mailbox = "INBOX";
  std::string search_word = "ringmail";
  double hold_seconds = 10;          // idle: how long every connection stays in IDLE
  std::string ready_file;            // idle: written once every connection is in IDLE
  std::string manifest_path;         // verify fetched bodies against it
  // idle + storm: once every connection is in IDLE, send this many messages
  // over SMTP to storm_rcpt and time each one from its last byte sent to the
  // EXISTS on every idle connection ("idle_wake").
  unsigned storm_messages = 0;
  uint16_t storm_smtp_port = 0;
  std::string storm_rcpt;
  uint64_t storm_interval_ms = 0;
};

int run_imap(const mailbox_options& options);
int run_pop3(const mailbox_options& options);

// Verification shared by both: the manifest's hashes, and the check of one
// fetched message (hash from its X-Bench-Id line on, CRLF as LF).
struct manifest_hashes;
std::shared_ptr<const manifest_hashes> load_manifest(const std::string& path);
// true = the message's hash is in the manifest; false = not (or no X-Bench-Id).
bool verify_message(const manifest_hashes& m, std::string_view message);

}  // namespace bench_load
