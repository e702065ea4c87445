#pragma once
// THREAD (RFC 5256): REFERENCES and ORDEREDSUBJECT over the messages a
// search selected, and the thread-list text of the response. Pure: it sees
// only what message_keys holds, so it is tested and fuzzed without a store.
// Linear-logarithmic in the number of messages and references; the parent
// chain walks that keep the graph acyclic are bounded by the references a
// message carries (at most references_max each).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace imap::search {

// What SORT and THREAD read from one message.
struct message_keys {
  std::uint32_t number = 0;     // what the response names: sequence number or UID
  std::int64_t sent_seconds = 0;  // Date: header, or the internal date when it has none
  std::string base_subject;     // subject.h
  bool reply_or_forward = false;
  std::string message_id;       // "<...>" with the brackets; may be empty
  std::vector<std::string> references;  // References (or the first In-Reply-To id), oldest first
};

inline constexpr std::size_t references_max = 256;

// The msg-ids ("<...>") of a References or In-Reply-To value, in order, at
// most `limit`.
std::vector<std::string> parse_message_ids(std::string_view value, std::size_t limit = references_max);

// The thread-list text, without "* THREAD" ("(2)(3 6 (4 23)(44 7 96))").
// `messages` may be in any order; ties in date are broken by `number`.
std::string thread_references(std::span<const message_keys> messages);
std::string thread_ordered_subject(std::span<const message_keys> messages);

}  // namespace imap::search
