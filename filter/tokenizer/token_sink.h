#pragma once
// Where tokens go. A token is a prefix (which header or which kind of
// feature it came from; empty for body words) and its text, and its
// XXH3-64 hash: XXH3_64bits_withSeed(text, seed(prefix)), where a prefix's
// seed is XXH3_64bits(prefix) — so "subject:free" and body "free" are
// different features and no string is ever built to hash a token.
// The views are valid only during the call.
//
// A sink that needs only the hashes (the classifier's feature collector)
// says so at construction: the tokenizer then hands it the hashes in
// batches, in token order, through on_hashes() — one virtual call per
// batch, not per token — and the last batch of a message when the message
// is finished (message_tokenizer::finish(), text_tokenizer::flush()).

#include <cstdint>
#include <span>
#include <string_view>

namespace filter {

class token_sink {
 public:
  virtual ~token_sink() = default;
  virtual void on_token(std::uint64_t hash, std::string_view prefix, std::string_view text) = 0;
  // Called instead of on_token() for a hashes-only sink.
  virtual void on_hashes(std::span<const std::uint64_t> hashes) {
    for (std::uint64_t h : hashes) on_token(h, {}, {});
  }
  bool hashes_only() const { return _hashes_only; }

 protected:
  token_sink() = default;
  explicit token_sink(bool hashes_only) : _hashes_only(hashes_only) {}
  token_sink(const token_sink&) = default;
  token_sink& operator=(const token_sink&) = default;

 private:
  bool _hashes_only = false;
};

std::uint64_t prefix_seed(std::string_view prefix);
std::uint64_t token_hash(std::uint64_t seed, std::string_view text);

}  // namespace filter
