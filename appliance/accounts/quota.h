#pragma once
// Quota decisions for the delivery path, as plain functions over numbers so
// the store and the SMTP session need not know the policy.
//
// A delivery asks check_quota(account, usage, incoming). `full` is refused
// with full_reply() (a 452 4.2.2 at RCPT — the user may delete mail, so it
// is transient — or a 552 5.2.2 after DATA if the size was not announced).
// `warn` means this delivery crosses the warning threshold: if the
// account's quota_warning_sent flag is clear, deliver warning_message() to
// its Inbox and set the flag through the directory owner; the flag is
// cleared when usage drops back below the threshold (clear_warning_flag).

#include <cstdint>
#include <string>

#include "appliance/accounts/directory.h"

namespace appliance {

enum class quota_verdict { ok, warn, full };

quota_verdict check_quota(const account& a, uint64_t usage_bytes, uint64_t incoming_bytes, uint32_t warning_percent);
bool clear_warning_flag(const account& a, uint64_t usage_bytes, uint32_t warning_percent);

// "Mailbox of demo@example.test is full (100.0 MB of 100.0 MB used); the
// message was not delivered"
std::string quota_full_reply(const account& a, uint64_t usage_bytes);
// The message-count quota: would one more message exceed it? And the reply.
bool messages_full(const account& a, uint64_t used_messages);
std::string quota_messages_full_reply(const account& a, uint64_t used_messages);
// The whole RFC 5322 warning message (CRLF line ends).
std::string quota_warning_message(const account& a, uint64_t usage_bytes, const std::string& hostname,
                                  uint32_t warning_percent);
// "1.5 GB", "512.0 KB"; parse_size reads "100M", "2G", "1500000", "unlimited" (0).
std::string format_size(uint64_t bytes);
std::optional<uint64_t> parse_size(std::string_view text);

}  // namespace appliance
