#pragma once
// IMAP sequence sets (RFC 3501 section 9 sequence-set, RFC 5182 "$"):
// parsing into normalised ranges, and the compact text form used in
// responses (VANISHED, ESEARCH ALL, COPYUID).

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"
#include "protocols/imap/parser/errc.h"

namespace imap {

// "*": the largest number in use. It is the largest uint32 so that ranges
// normalise with first <= last whichever way the client wrote them
// ("*:4" == "4:*"); resolve() turns it into the mailbox's real maximum.
inline constexpr std::uint32_t sequence_star = std::numeric_limits<std::uint32_t>::max();

struct sequence_range {
  std::uint32_t first = 1;  // first <= last always
  std::uint32_t last = 1;
  friend bool operator==(const sequence_range&, const sequence_range&) = default;
};

struct sequence_set {
  std::vector<sequence_range> ranges;  // as written (order kept), each normalised
  bool saved_result = false;           // "$" (RFC 5182 SEARCHRES); ranges empty
  friend bool operator==(const sequence_set&, const sequence_set&) = default;
};

// Parses a whole sequence-set ("1:5,7,*", "$"). `ranges_left` is the command's
// remaining range budget; it is decremented per range and the parse fails
// with too_many_ranges when it would go below zero.
kio::result<sequence_set, errc> parse_sequence_set(std::string_view text, std::uint32_t& ranges_left);

// Replaces "*" by `largest` (the highest sequence number or UID in use; 0 in
// an empty mailbox), renormalises, sorts and merges. "4:*" with largest 3
// is "3:4" as RFC 3501 requires. Does not clamp numbers above `largest`:
// the caller skips what does not exist.
std::vector<sequence_range> resolve(const sequence_set& set, std::uint32_t largest);

// True when `number` is in the (resolved) ranges; ranges must be sorted and
// merged as resolve() returns them. O(log n).
bool contains(std::span<const sequence_range> resolved, std::uint32_t number);

// Text form of a set as the client could have written it ("1:5,7,*", "$").
void append_sequence_set(std::string& out, const sequence_set& set);
std::string format_sequence_set(const sequence_set& set);

// Compresses numbers into the shortest sequence-set text: {1,2,3,4,5,7,9,10}
// becomes "1:5,7,9:10". Sorts and drops duplicates; zeros are skipped.
// Returns "" for no numbers (callers must not emit an empty set).
std::string compress_sequence_set(std::vector<std::uint32_t> numbers);
// The same for numbers already ascending and unique (no copy).
void append_compressed_sorted(std::string& out, std::span<const std::uint32_t> ascending);

}  // namespace imap
