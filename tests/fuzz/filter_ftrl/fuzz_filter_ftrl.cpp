// Fuzz target for the FTRL model file (filter/classifier/ftrl.h), which the
// CLI parses from disk. The input gets its XXH3-64 checksum appended, so the
// fuzzer reaches the field checks rather than stopping at the checksum.
// Properties: no crash or unbounded allocation on any input (slots are
// bounded by bits_max); whatever parses re-serializes to bytes that parse
// to the same model; a parsed model predicts a probability in [0, 1].
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "filter/classifier/ftrl.h"
#include "tests/fuzz/checksummed_input.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in = with_xxh3_checksum(data, size);
  auto model = filter::ftrl_model::parse(in);
  if (!model) return 0;
  std::string again;
  model->serialize(again);
  auto back = filter::ftrl_model::parse(again);
  check(back.has_value());
  const auto& o = model->options();
  check(back->options().bits == o.bits && back->options().alpha == o.alpha && back->options().beta == o.beta &&
        back->options().l1 == o.l1 && back->options().l2 == o.l2);
  check(back->spam_messages() == model->spam_messages() && back->ham_messages() == model->ham_messages() &&
        back->feature_flags() == model->feature_flags() && back->used_slots() == model->used_slots());
  std::string third;
  back->serialize(third);
  check(third == again);
  // Every slot the input named, as one message.
  std::vector<std::uint64_t> hashes;
  for (std::size_t i = 0; i + 8 <= size && hashes.size() < 256; i += 8) {
    std::uint64_t h;
    std::memcpy(&h, data + i, 8);
    hashes.push_back(h);
  }
  double p = model->predict(hashes);
  check(p >= 0 && p <= 1);
  return 0;
}
