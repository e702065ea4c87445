#include "filter/classifier/explain.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "filter/classifier/features.h"

namespace filter {

namespace {

// Collects the features exactly as scoring does, and the text of each
// hash the first time it appears.
class text_keeping_sink final : public token_sink {
 public:
  void on_token(std::uint64_t hash, std::string_view prefix, std::string_view text) override {
    features.on_token(hash, prefix, text);
    auto [it, fresh] = texts.try_emplace(hash);
    if (!fresh) return;
    if (!prefix.empty()) {
      it->second.assign(prefix);
      it->second += ':';
    }
    it->second += text;
  }

  feature_collector features;
  std::unordered_map<std::uint64_t, std::string> texts;
};

}  // namespace

explanation explain(std::string_view message, const tokenizer_options& tokenizer, const token_store& global,
                    const token_store* account, const classifier_options& options) {
  text_keeping_sink sink;
  message_tokenizer t(sink, tokenizer);
  t.feed(message);
  t.finish();

  explanation out;
  std::vector<double> scratch;
  out.score = classify(sink.features.unique(), global, account, options, scratch);
  out.tokens = sink.features.unique().size();

  std::uint64_t spam_messages = combined_spam_messages(global, account);
  std::uint64_t ham_messages = combined_ham_messages(global, account);
  for (std::uint64_t h : sink.features.unique()) {
    token_counts c = combined_counts(global, account, h);
    if (c.spam == 0 && c.ham == 0) continue;
    double f = token_probability(c, spam_messages, ham_messages, options);
    out.known_tokens.push_back({sink.texts[h], c, f, std::fabs(f - 0.5) >= options.minimum_deviation});
  }
  out.known = out.known_tokens.size();
  // Strongest first; ties by text, so the listing is stable.
  std::sort(out.known_tokens.begin(), out.known_tokens.end(), [](const explained_token& a, const explained_token& b) {
    double sa = std::fabs(a.probability - 0.5), sb = std::fabs(b.probability - 0.5);
    if (sa != sb) return sa > sb;
    return a.token < b.token;
  });
  // classify() keeps the clues_max strongest: the same ones, up to ties at
  // the cut (equal strength, so equal weight in the combination).
  std::size_t kept = 0;
  for (auto& t : out.known_tokens) {
    if (!t.clue) continue;
    if (kept == options.clues_max) {
      t.clue = false;
    } else {
      ++kept;
    }
  }
  return out;
}

}  // namespace filter
