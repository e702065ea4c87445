#include "filter/classifier/features.h"

#include <algorithm>

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
    std::uint16_t* marks = _marks.data();
    const std::uint16_t mark = _mark;
    std::uint64_t* out = _hashes.data();
    const std::size_t mask = _slots.size() - 1;
    std::size_t count = _count;
    for (std::uint64_t hash : hashes) {
      // The table is mostly empty (a message's ~200 distinct hashes in 2,048
      // slots), so the home slot is nearly always free or holds this hash
      // (a stale equal hash in a free slot is free all the same). Either
      // way it is written (the same values when it holds the hash) and the
      // list grows by one or by nothing: whether a token is new, about one
      // in two and no pattern a predictor could learn, is no branch
      // (callgrind --branch-sim: 64% fewer mispredicted here). GCC would
      // test the two cases one after the other, the first as unpredictable,
      // so their union is made opaque to it. A slot taken by another hash
      // probes on.
      std::size_t i = hash & mask;
      bool empty = marks[i] != mark;
      unsigned free_or_same = static_cast<unsigned>(empty) | static_cast<unsigned>(slots[i] == hash);
      asm("" : "+r"(free_or_same));
      if (free_or_same != 0) [[likely]] {
        slots[i] = hash;
        marks[i] = mark;
        out[count] = hash;
        count += empty;
      } else if (stored(slots, marks, mark, mask, hash)) {
        out[count++] = hash;
      }
    }
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
  std::size_t size = _slots.empty() ? slots_min : _slots.size() * 2;
  _slots.assign(size, 0);
  _marks.assign(size, 0);
  _mark = 1;
  _hashes.resize(size / 2);
  for (std::size_t h = 0; h < _count; ++h) stored(_slots.data(), _marks.data(), _mark, size - 1, _hashes[h]);
}

void feature_collector::clear() {
  if (_slots.size() > slots_min && _count * 16 < _slots.size()) {
    // A big message grew the table: back to the small one, all empty.
    _slots.assign(slots_min, 0);
    _marks.assign(slots_min, 0);
    _hashes.resize(slots_min / 2);
    _mark = 1;
  } else if (++_mark == 0) {
    // The mark wrapped: a slot may still carry any mark, zero them all.
    std::fill(_marks.begin(), _marks.end(), std::uint16_t{0});
    _mark = 1;
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
