#pragma once
// A token store together with what it was taught, message by message, in
// the two forms the appliance persists it in the message store:
//
//   delta     one batch of training operations (a message id, the class it
//             is untrained from, the class it is trained as, its unique
//             token hashes). Appended after every training batch.
//   snapshot  the whole state (token store + ledger) and `applied_through`,
//             the caller's position of the last delta folded in (the
//             appliance uses the UID of that delta's message). Written now
//             and then; the deltas it covers can then go.
//
// Train-on-error bookkeeping is the ledger: per message id the class it
// was last trained as. plan() turns "this message is spam/ham" into the
// operation to apply: nothing when it is already trained so (no double
// training), "untrain as the other class, train as this one" when the user
// corrects an earlier verdict, "train as this one" otherwise.
//
// Formats (little-endian; both end with XXH3-64 of every byte before it):
//   delta:    magic "RMFDELTA" | version u32 (1) | header_size u32 (24) |
//             op_count u32 | reserved u32 (0) | ops
//             op: message_id u64 | untrain u8 | train u8 | reserved u16 |
//                 token_count u32 | tokens u64 x token_count
//   snapshot: magic "RMFSNAPS" | version u32 (1) | header_size u32 (40) |
//             applied_through u64 | ledger_count u64 | reserved u64 (0) |
//             ledger entries (message_id u64 | class u8 | reserved u8 x 7)
//             sorted by id | token store bytes (token_store::serialize,
//             with its own checksum) | XXH3-64
//   A class byte is 0 none, 1 spam, 2 ham. Readers skip unknown trailing
//   header bytes (header_size) and refuse other versions.
// Lifecycle: a value; in the daemon, one per account on its owner core.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "filter/classifier/token_store.h"
#include "kernel_io/base/result.h"

namespace filter {

enum class trained_as : std::uint8_t { none = 0, spam = 1, ham = 2 };

struct training_op {
  std::uint64_t message_id = 0;
  trained_as untrain = trained_as::none;
  trained_as train = trained_as::none;
  std::vector<std::uint64_t> tokens;  // the message's unique token hashes
};

class training_state {
 public:
  token_store tokens;

  // What teaching "message_id is spam (or ham)" takes: nullopt when it was
  // already trained so; the op has no tokens yet (the caller tokenizes).
  std::optional<training_op> plan(std::uint64_t message_id, bool spam) const;
  void apply(const training_op& op);
  // The class message_id was last trained as.
  trained_as ledger_of(std::uint64_t message_id) const;
  std::size_t ledger_size() const { return _ledger.size(); }

  void encode_snapshot(std::uint64_t applied_through, std::string& out) const;
  struct snapshot;
  static kio::result<snapshot, store_errc> decode_snapshot(std::string_view bytes);

 private:
  std::unordered_map<std::uint64_t, trained_as> _ledger;
};

struct training_state::snapshot {
  training_state state;
  std::uint64_t applied_through = 0;
};

void encode_delta(std::span<const training_op> ops, std::string& out);
kio::result<std::vector<training_op>, store_errc> decode_delta(std::string_view bytes);

// Which of the two a stored blob is, by its magic (nullopt: neither).
enum class training_blob : std::uint8_t { delta, snapshot };
std::optional<training_blob> training_blob_kind(std::string_view bytes);

}  // namespace filter
