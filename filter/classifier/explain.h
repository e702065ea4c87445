#pragma once
// Why a message scored what it did: its tokens with their text, counts and
// f(w), the strongest first, marked whether they were among the clues that
// classify() combined. For operators (`ringmail spam explain`) and for
// whoever tunes the tokenizer: the store keeps only hashes, so the text is
// recovered by tokenizing the message again with a sink that remembers it.
//
// Not a hot path: it allocates freely (a map from hash to text).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "filter/classifier/classifier.h"
#include "filter/classifier/token_store.h"
#include "filter/tokenizer/message_tokenizer.h"

namespace filter {

struct explained_token {
  std::string token;      // "prefix:text", or the text of a body word
  token_counts counts;    // global + account
  double probability;     // f(w)
  bool clue;              // combined into the score
};

struct explanation {
  spam_score score;                    // exactly what classify() gives
  std::size_t tokens = 0;              // distinct tokens of the message
  std::size_t known = 0;               // of them, seen in training
  std::vector<explained_token> known_tokens;  // strongest (|f - 0.5|) first
};

explanation explain(std::string_view message, const tokenizer_options& tokenizer, const token_store& global,
                    const token_store* account, const classifier_options& options);

}  // namespace filter
