// Fuzz target for the Junk training intent (appliance/spam/training_intent.h),
// the record an IMAP move into or out of Junk leaves in the store until its
// training is durable. The input gets its XXH3-64 checksum appended, so the
// fuzzer reaches the field checks. Properties: no crash or unbounded
// allocation on any input; whatever decodes re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "appliance/spam/training_intent.h"
#include "tests/fuzz/checksummed_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in = with_xxh3_checksum(data, size);
  auto intent = appliance::decode_training_intent(in);
  if (!intent) return 0;
  std::string again;
  appliance::encode_training_intent(*intent, again);
  auto back = appliance::decode_training_intent(again);
  if (!back || back->account != intent->account || back->sequence != intent->sequence ||
      back->spam != intent->spam || back->blobs != intent->blobs)
    std::abort();
  // A header longer than the fields (skipped) re-encodes shorter; otherwise
  // the bytes are the same.
  if (again.size() == in.size() && again != in) std::abort();
  return 0;
}
