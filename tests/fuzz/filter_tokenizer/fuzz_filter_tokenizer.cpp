// Fuzz target for the spam filter's tokenizer. Properties: the scalar,
// SSE2 and AVX2 kernels give the same token stream; feeding the message in
// chunks (sizes taken from the input's first byte) gives the same stream as
// feeding it whole; a hashes-only sink (batches) gets the same hashes, with
// bigrams and case-kept words and without (the daemon's options);
// every token's text is bounded.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "filter/tokenizer/message_tokenizer.h"

namespace {

struct recording_sink : filter::token_sink {
  std::vector<std::uint64_t> hashes;
  void on_token(std::uint64_t hash, std::string_view prefix, std::string_view text) override {
    if (text.size() > 256 || prefix.size() > 64) {
      std::fprintf(stderr, "token too long: %zu\n", text.size());
      std::abort();
    }
    hashes.push_back(hash);
  }
};

struct batch_sink : filter::token_sink {
  batch_sink() : filter::token_sink(true) {}
  std::vector<std::uint64_t> hashes;
  void on_token(std::uint64_t, std::string_view, std::string_view) override { std::abort(); }
  void on_hashes(std::span<const std::uint64_t> batch) override { hashes.insert(hashes.end(), batch.begin(), batch.end()); }
};

// `features`: bigrams and case-kept words (else the daemon's default
// options, where a hashes-only sink takes a plain word by a shorter path).
template <class Sink = recording_sink>
std::vector<std::uint64_t> run(std::string_view msg, filter::simd_level level, std::size_t chunk,
                               bool features = true) {
  Sink sink;
  filter::tokenizer_options options;
  options.level = level;
  options.bigrams = features;
  options.case_tokens = features;
  options.mime_limits.depth_max = 8;
  options.mime_limits.part_count_max = 64;
  options.mime_limits.header_field_size_max = 512;
  filter::message_tokenizer tok(sink, options);
  if (chunk == 0) {
    tok.feed(msg);
  } else {
    for (std::size_t i = 0; i < msg.size(); i += chunk) tok.feed(msg.substr(i, chunk));
  }
  tok.finish();
  return sink.hashes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t chunk = 1 + data[0] % 97;
  std::string_view msg(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto reference = run(msg, filter::simd_level::scalar, 0);
  if (run(msg, filter::simd_level::sse2, 0) != reference) std::abort();
  if (filter::detect_simd_level() == filter::simd_level::avx2 && run(msg, filter::simd_level::avx2, 0) != reference)
    std::abort();
  if (run(msg, filter::detect_simd_level(), chunk) != reference) std::abort();
  if (run<batch_sink>(msg, filter::detect_simd_level(), chunk) != reference) std::abort();
  auto plain = run(msg, filter::simd_level::scalar, 0, false);
  if (run<batch_sink>(msg, filter::detect_simd_level(), chunk, false) != plain) std::abort();
  return 0;
}
