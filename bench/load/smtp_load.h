#pragma once
// The SMTP load generator: N connections, each sending M messages (or until
// the run's duration ends), plain / STARTTLS / implicit TLS, with or without
// PIPELINING (MAIL, RCPT and DATA in one write) and BDAT (RFC 3030), and
// AUTH PLAIN when a user is given (submission).
//
// Latency "to_250" is the time from the last byte of the message leaving the
// client to the final reply: what the server spends making the message
// durable. "transaction" is MAIL FROM to that reply. Every accepted message
// is written to the manifest (id, hash, size, recipient) so arrival can be
// checked afterwards.

#include <string>
#include <vector>

#include "bench/load/driver.h"
#include "bench/load/message_pool.h"

namespace bench_load {

struct smtp_options {
  common_options common;
  unsigned messages = 100;          // per session
  // Messages a connection carries before the session opens the next one
  // (QUIT, then a new connect, greeting, EHLO, STARTTLS...): 0 = all of the
  // session's on one connection. 1 is how MTAs mostly relay to each other.
  unsigned per_connection = 0;
  bool pipelining = true;
  bool bdat = false;
  size_t bdat_chunk_bytes = 0;      // 0 = the whole message in one BDAT LAST
  std::string mail_from = "bench@bench.test";
  std::vector<std::string> recipients;  // round robin over messages
  std::string sizes = "4096";
  std::string corpus_dir;
  std::string manifest_path;
  std::string run_id = "r";
  uint64_t seed = 1;
};

int run_smtp(const smtp_options& options);

}  // namespace bench_load
