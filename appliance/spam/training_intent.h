#pragma once
// A Junk training intent: "these messages of this account are spam (or
// ham)", written by the IMAP move or copy that teaches it, in the same
// group commit as the move, and removed once the deltas that applied it
// are durable (spam_training.h). It is the durable form of the training
// queue: what a client was told OK for is on disk before the OK, so a
// kill -9, a crash or a power cut cannot lose it.
//
// Format (little-endian, like the filter's training blobs; ends with
// XXH3-64 of every byte before it):
//   magic "RMFINTNT" | version u32 (1) | header_size u32 (40) |
//   account u64 | sequence u64 | verdict u8 (1 spam, 2 ham) |
//   reserved u8 x 3 (0) | item_count u32 | items
//   item: blob key: high u64 | low u64 | core u32 | generation u32
// `sequence` makes every intent's bytes unique (the store would otherwise
// deduplicate two equal intents by reading the older one back, a blocking
// compare on the reactor); it carries no meaning. Readers skip unknown
// trailing header bytes (header_size) and refuse other versions; the item
// count must match the body exactly.
// Lifecycle: a value; parsing never allocates more than the input's size
// allows (item_count is checked against the bytes present first).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"
#include "store/format/format.h"

namespace appliance {

struct training_intent {
  std::uint64_t account = 0;
  std::uint64_t sequence = 0;
  bool spam = false;
  std::vector<store::blob_key> blobs;
};

enum class intent_errc : std::uint8_t { truncated = 1, bad_magic, bad_version, bad_checksum, bad_size, bad_field };
std::string_view intent_errc_name(intent_errc e);

inline constexpr std::size_t training_intent_item_bytes = 24;

void encode_training_intent(const training_intent& intent, std::string& out);
kio::result<training_intent, intent_errc> decode_training_intent(std::string_view bytes);
// Whether `bytes` start with the intent magic (what kind of blob it is).
bool is_training_intent(std::string_view bytes);

}  // namespace appliance
