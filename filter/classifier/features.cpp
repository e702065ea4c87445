#include "filter/classifier/features.h"

#include <algorithm>
#include <cstring>

namespace filter {

namespace {
constexpr std::size_t slots_min = 2048;
}

void feature_collector::on_hashes(std::span<const std::uint64_t> hashes) {
  // While the whole batch fits below half load, no token needs the check.
  if ((_count + hashes.size()) * 2 <= _slots.size()) {
    // The count, the table and the list in registers: stores of hashes
    // (unsigned long) could alias the members (also unsigned long), which
    // would be reloaded and stored back per token.
    std::uint64_t* slots = _slots.data();
    std::uint64_t* out = _hashes.data();
    const std::size_t mask = _slots.size() - 1;
    std::size_t count = _count;
    for (std::uint64_t hash : hashes)
      if (stored(slots, mask, hash)) out[count++] = hash;
    _count = count;
    return;
  }
  for (std::uint64_t h : hashes) add(h);
}

bool feature_collector::make_room() {
  if (_count >= _tokens_max) {
    ++_dropped;
    return false;
  }
  grow();
  return true;
}

void feature_collector::grow() {
  _slots.assign(_slots.empty() ? slots_min : _slots.size() * 2, 0);
  _hashes.resize(_slots.size() / 2);
  std::size_t mask = _slots.size() - 1;
  for (std::size_t h = 0; h < _count; ++h) {
    std::uint64_t key = _hashes[h] == 0 ? 1 : _hashes[h];
    std::size_t i = key & mask;
    while (_slots[i] != 0) i = (i + 1) & mask;
    _slots[i] = key;
  }
}

void feature_collector::clear() {
  if (_slots.size() > slots_min && _count * 16 < _slots.size()) {
    _slots.assign(slots_min, 0);
    _hashes.resize(slots_min / 2);
  } else if (_slots.empty()) {
    // Never used: nothing to zero (and memset may not take its null data).
  } else if (_count * 8 >= _slots.size()) {
    // memset, not std::fill: GCC does not turn the fill into one, and
    // zeroing 2048 slots a word at a time cost more than the message's
    // token inserts.
    std::memset(_slots.data(), 0, _slots.size() * sizeof(std::uint64_t));
  } else {
    // Zero only the slots in use (a message has a few hundred tokens, the
    // table may have grown to thousands of slots for an earlier one). In
    // reverse insertion order, every slot on a key's probe path was taken
    // before it and is still in place when the key is looked up, so linear
    // probing finds each one.
    std::size_t mask = _slots.size() - 1;
    for (std::size_t h = _count; h-- > 0;) {
      std::uint64_t key = _hashes[h] == 0 ? 1 : _hashes[h];
      std::size_t i = key & mask;
      while (_slots[i] != key) i = (i + 1) & mask;
      _slots[i] = 0;
    }
  }
  _count = 0;
  _dropped = 0;
}

std::vector<std::uint64_t> message_features(std::string_view message, const tokenizer_options& options) {
  feature_collector features;
  message_tokenizer tokenizer(features, options);
  tokenizer.feed(message);
  tokenizer.finish();
  auto u = features.unique();
  return {u.begin(), u.end()};
}

}  // namespace filter
