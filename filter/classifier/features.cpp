#include "filter/classifier/features.h"

#include <algorithm>

namespace filter {

namespace {
constexpr std::size_t slots_min = 2048;
}

void feature_collector::on_token(std::uint64_t hash, std::string_view, std::string_view) {
  if ((_count + 1) * 2 > _slots.size() && !make_room()) return;
  std::uint64_t key = hash == 0 ? 1 : hash;
  std::size_t mask = _slots.size() - 1;
  std::uint64_t* slots = _slots.data();
  for (std::size_t i = key & mask;; i = (i + 1) & mask) {
    if (slots[i] == key) return;
    if (slots[i] == 0) {
      slots[i] = key;
      _hashes[_count++] = hash;
      return;
    }
  }
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
  } else if (_count * 8 >= _slots.size()) {
    std::fill(_slots.begin(), _slots.end(), 0);
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
