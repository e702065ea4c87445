#pragma once
// Where tokens go. A token is a prefix (which header or which kind of
// feature it came from; empty for body words) and its text, and its
// XXH3-64 hash: XXH3_64bits_withSeed(text, seed(prefix)), where a prefix's
// seed is XXH3_64bits(prefix) — so "subject:free" and body "free" are
// different features and no string is ever built to hash a token.
// The views are valid only during the call.

#include <cstdint>
#include <string_view>

namespace filter {

class token_sink {
 public:
  virtual ~token_sink() = default;
  virtual void on_token(std::uint64_t hash, std::string_view prefix, std::string_view text) = 0;
};

std::uint64_t prefix_seed(std::string_view prefix);
std::uint64_t token_hash(std::uint64_t seed, std::string_view text);

}  // namespace filter
