// Fuzz target for token_store::parse(), the Bayesian store the CLI and the
// daemon load from disk. Its checksum is XXH3 over the content, so a
// crafted file can be valid: the harness writes the file itself (header,
// records from the input, checksum) to reach the table building. parse()
// places serialize()'s sorted records without probing and falls back to
// the general insertion for any other order, so the records come in the
// input's order, sorted, or sorted with a reversed tail; their keys as
// given, near the top of the key space (runs that wrap around the table),
// few distinct (duplicates, key 0) or clustered on a home slot. Property:
// parse() succeeds, every key is found with its last record's counts, the
// token count is the number of distinct keys, a missing key is not found
// (a lookup that loops forever hangs the fuzzer), and serialize() parses
// back to the same.
#include <xxhash.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "filter/classifier/token_store.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const int order = data[0] & 3, keys = (data[0] >> 2) & 3;
  const unsigned shift = data[1] % 64;
  data += 2;
  size -= 2;
  std::vector<std::pair<std::uint64_t, filter::token_counts>> records;
  for (std::size_t i = 0; i + 12 <= size; i += 12) {
    std::uint64_t key;
    std::uint32_t c;
    std::memcpy(&key, data + i, 8);
    std::memcpy(&c, data + i + 8, 4);
    if (keys == 1) key = ~(key >> shift);
    if (keys == 2) key %= 7;
    if (keys == 3) key = (key >> shift) << shift;
    records.push_back({key, {c, c ^ 0x5555u}});
  }
  auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (order == 1 || order == 2) std::stable_sort(records.begin(), records.end(), by_key);
  if (order == 2) std::reverse(records.begin() + static_cast<std::ptrdiff_t>(records.size() / 2), records.end());

  std::string file = "RMTOKENS";
  auto put = [&file](auto v) { file.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(std::uint32_t{1});   // version
  put(std::uint32_t{48});  // header size
  put(std::uint64_t{3});   // spam messages
  put(std::uint64_t{4});   // ham messages
  put(std::uint64_t{records.size()});
  put(std::uint32_t{0});  // feature flags
  put(std::uint32_t{0});
  std::map<std::uint64_t, filter::token_counts> expected;
  for (const auto& [key, counts] : records) {
    put(key);
    put(counts.spam);
    put(counts.ham);
    expected[key == 0 ? 1 : key] = counts;  // key 0 is stored as 1 (token_store.h)
  }
  put(std::uint64_t{XXH3_64bits(file.data(), file.size())});

  auto store = filter::token_store::parse(file);
  check(store.has_value());
  check(store->token_count() == expected.size());
  for (const auto& [key, counts] : expected) {
    filter::token_counts got = store->get(key);
    check(got.spam == counts.spam && got.ham == counts.ham);
  }
  if (expected.find(0x0123456789abcdefull) == expected.end()) {
    filter::token_counts none = store->get(0x0123456789abcdefull);
    check(none.spam == 0 && none.ham == 0);
  }
  std::string again;
  store->serialize(again);
  auto back = filter::token_store::parse(again);
  check(back.has_value() && back->token_count() == expected.size());
  for (const auto& [key, counts] : expected) check(back->get(key).spam == counts.spam);
  return 0;
}
