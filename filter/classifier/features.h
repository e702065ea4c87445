#pragma once
// A message's features for the classifier: the set of its token hashes.
// feature_collector is the token sink the message tokenizer fills while the
// message streams; a token counts once per message, as in SpamBayes and
// bogofilter, so it deduplicates as tokens arrive (an open-addressing set of
// the hashes, no sort). It needs only the hashes: the tokenizer hands them
// over in batches (token_sink.h). Bounded: past tokens_max distinct tokens
// the rest of a message's tokens are dropped (and counted).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "filter/tokenizer/message_tokenizer.h"
#include "filter/tokenizer/token_sink.h"

namespace filter {

class feature_collector final : public token_sink {
 public:
  explicit feature_collector(std::size_t tokens_max = 50000) : token_sink(true), _tokens_max(tokens_max) {}
  void on_token(std::uint64_t hash, std::string_view, std::string_view) override { add(hash); }
  void on_hashes(std::span<const std::uint64_t> hashes) override;
  // Each distinct hash once, in order of first appearance. Valid until clear().
  std::span<const std::uint64_t> unique() const { return {_hashes.data(), _count}; }
  void clear();
  std::size_t dropped() const { return _dropped; }

 private:
  // The table is half full: grows it, or counts the token as dropped past
  // tokens_max (false). Out of the per-token path.
  [[gnu::noinline]] bool make_room();
  void grow();
  void add(std::uint64_t hash) {
    if ((_count + 1) * 2 > _slots.size() && !make_room()) return;
    insert(hash);
  }
  // With room for it: a new hash is stored in the set and appended.
  void insert(std::uint64_t hash) {
    if (stored(_slots.data(), _marks.data(), _mark, _slots.size() - 1, hash)) _hashes[_count++] = hash;
  }
  // Puts the hash into the table (of mask + 1 slots, with room) unless it
  // is there: true when it was new. A slot holds a hash of this message
  // when its mark is the message's mark; any other mark is an empty slot,
  // so the next message starts with an empty table without a write.
  static bool stored(std::uint64_t* slots, std::uint16_t* marks, std::uint16_t mark, std::size_t mask,
                     std::uint64_t hash) {
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      if (marks[i] != mark) {
        marks[i] = mark;
        slots[i] = hash;
        return true;
      }
      if (slots[i] == hash) return false;
    }
  }

  std::size_t _tokens_max;
  // The distinct hashes, _count of them; sized to half the table, which is
  // as many as it may hold, so adding one is a plain store.
  std::vector<std::uint64_t> _hashes;
  std::size_t _count = 0;
  // The set: open addressing, linear probing, at most half full. clear()
  // moves to the next mark instead of zeroing the table (which had cost
  // ~25 instructions a token, 3% of scoring a message): the marks are
  // zeroed only when the 16-bit mark wraps, once in 65,535 messages, and
  // a table that a big message grew is shrunk.
  std::vector<std::uint64_t> _slots;
  std::vector<std::uint16_t> _marks;
  std::uint16_t _mark = 1;  // 0 marks no message: a new table is all empty
  std::size_t _dropped = 0;
};

// What scoring a message needs, reusable message after message: a
// message tokenizer wired to a feature collector. start() before each
// message; once warm nothing is allocated per message (the CLI keeps one
// per thread, the daemon a few idle ones per core).
class feature_scanner {
 public:
  explicit feature_scanner(const tokenizer_options& options) : _options(options), _tokenizer(_features, options) {}
  feature_scanner(const feature_scanner&) = delete;
  feature_scanner& operator=(const feature_scanner&) = delete;

  void start() {
    _features.clear();
    _tokenizer.reset();
  }
  void feed(std::string_view chunk) { _tokenizer.feed(chunk); }
  void finish() { _tokenizer.finish(); }
  std::span<const std::uint64_t> unique() const { return _features.unique(); }
  const message_tokenizer& tokenizer() const { return _tokenizer; }

  // Whether it was built for these options (the tokenizer's own settings).
  bool fits(const tokenizer_options& o) const {
    return o.level == _options.level && o.bigrams == _options.bigrams && o.case_tokens == _options.case_tokens && o.text_bytes_max == _options.text_bytes_max &&
           o.header_value_bytes_max == _options.header_value_bytes_max && o.capture_subject == _options.capture_subject;
  }

 private:
  tokenizer_options _options;
  feature_collector _features;
  message_tokenizer _tokenizer;  // after _features: it feeds them
};

// The whole message at once (the CLI, tests).
std::vector<std::uint64_t> message_features(std::string_view message, const tokenizer_options& options = {});

}  // namespace filter
