// Fuzz target for the filter's persisted training state (the delta and
// snapshot blobs it keeps in the message store). The input gets its XXH3-64
// checksum appended, so the fuzzer reaches the decoders' field checks
// rather than stopping at the checksum. Properties: no crash or unbounded
// allocation on any input; whatever decodes re-encodes to bytes that decode
// to the same operations and state.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "filter/classifier/training_state.h"
#include "tests/fuzz/checksummed_input.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in = with_xxh3_checksum(data, size);
  if (auto ops = filter::decode_delta(in)) {
    std::string again;
    filter::encode_delta(*ops, again);
    auto back = filter::decode_delta(again);
    check(back.has_value() && back->size() == ops->size());
    for (std::size_t i = 0; i < ops->size(); ++i)
      check((*back)[i].message_id == (*ops)[i].message_id && (*back)[i].tokens == (*ops)[i].tokens &&
            (*back)[i].train == (*ops)[i].train && (*back)[i].untrain == (*ops)[i].untrain);
    filter::training_state st;
    for (const auto& op : *ops) st.apply(op);
  }
  if (auto snap = filter::training_state::decode_snapshot(in)) {
    std::string again;
    snap->state.encode_snapshot(snap->applied_through, again);
    auto back = filter::training_state::decode_snapshot(again);
    check(back.has_value() && back->applied_through == snap->applied_through &&
          back->state.ledger_size() == snap->state.ledger_size() &&
          back->state.tokens.spam_messages() == snap->state.tokens.spam_messages() &&
          back->state.tokens.ham_messages() == snap->state.tokens.ham_messages());
  }
  return 0;
}
