#pragma once
// The outbound queue's on-disk envelope, and the per-recipient state.
//
// The queue lives in the store as the INBOX of a system account that no
// login can reach (queue_account): a queued message is one delivery record
// whose blob is the message and whose header prefix starts with the
// envelope below, then the trace headers that go out with the message. So a
// queued message is made durable by the same group commit as a local
// delivery, survives restarts through the same recovery and checkpoint, and
// keeps its blob alive through compaction (the index references it).
//
// Per-recipient outcomes are keywords on that message, changed by
// flags_change records (durable before the next step is taken):
//   $rmq-d<i>  recipient i got 250 from its server: never send to it again
//   $rmq-f<i>  recipient i failed permanently: its DSN has been delivered
//   $rmq-w     the delay warning has been sent
//   $rmq-h     held by an admin (no delivery until released)
//   $rmq-a<n>  n delivery attempts so far (the latest only)
// When every recipient is d or f, the message is expunged from the queue.
//
// The envelope (all pure, unit-tested):
//   "RMQ1\n" then "key=value\n" lines (values %-escaped: % CR LF and space),
//   an empty line, then the trace headers (CRLF lines).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace appliance::outbound {

inline constexpr uint64_t queue_account_id = 0x7fff'ffff'ffff'ff01ull;
inline constexpr std::string_view queue_account_name = "(outbound queue)";

struct queued_recipient {
  std::string address;  // forward-path without <>
  std::string notify;   // "" (not given), "NEVER", or a list of SUCCESS,FAILURE,DELAY
  std::string orcpt;    // "rfc822;user@example" as given (decoded xtext), or ""
};

struct envelope {
  std::string id;                 // queue id shown to admins and in logs
  std::string sender;             // reverse-path without <>; "" = null sender
  uint64_t account = 0;           // the authenticated submitter (bounces go only to it)
  uint64_t created_ms = 0;        // wall clock at acceptance
  std::string ret;                // "FULL", "HDRS" or ""
  std::string envid;              // ENVID (decoded), or ""
  bool eight_bit = false;         // BODY=8BITMIME
  bool smtputf8 = false;
  std::vector<queued_recipient> recipients;
  std::string trace_headers;      // Received: ... (CRLF lines), prepended on the wire
};

std::string encode_envelope(const envelope& e);
// nullopt if `prefix` is not an envelope this version can read.
std::optional<envelope> decode_envelope(std::string_view prefix);

// Keywords.
std::string delivered_keyword(size_t recipient);
std::string failed_keyword(size_t recipient);
std::string attempts_keyword(uint32_t attempts);
inline constexpr std::string_view warned_keyword = "$rmq-w";
inline constexpr std::string_view held_keyword = "$rmq-h";

struct recipient_state {
  bool delivered = false;
  bool failed = false;
  bool final() const { return delivered || failed; }
};
struct queue_state {
  std::vector<recipient_state> recipients;
  uint32_t attempts = 0;
  bool warned = false;
  bool held = false;
};
queue_state state_from_keywords(const std::vector<std::string>& keywords, size_t recipients);

// Exponential backoff: initial * 2^(attempts-1), capped.
uint64_t retry_delay_ms(uint32_t attempts, uint64_t initial_ms, uint64_t max_ms);

// The domain of an address (after the last @), lower-cased.
std::string domain_of(std::string_view address);
bool needs_smtputf8(std::string_view address);

}  // namespace appliance::outbound
