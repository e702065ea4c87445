#pragma once
// Splits a stream of text into tokens and normalizes them. Text arrives in
// pieces of any size (decoded body chunks, HTML text runs, header values);
// a word split across pieces is joined. The byte work — ASCII case folding
// and the word-byte mask — is the SIMD kernel (simd_scan.h) over a fixed
// window; the per-token rules are scalar and shared by every kernel level.
//
// Token rules, in order, on a lowercased word with its edge punctuation
// trimmed (a leading '$' stays):
//   - contains "://" or starts with "www.": a URL: "url" tokens for the
//     host and each parent domain of two labels or more ("url:ip" for a
//     numeric host);
//   - contains '@' with a dot after it: an address: the word itself and
//     "email" tokens for its domain and parent domains;
//   - starts with a digit or '$' + digit: a number, bucketed by its shape
//     (each digit run replaced by its length: "$1,000" -> "$1,3"), prefix
//     "num";
//   - shorter than 3 bytes: dropped; longer than word_size_max: one
//     "skip" token of its first byte and length in tens (SpamBayes);
//   - else the word, with Latin-1, Greek and Cyrillic capitals of its
//     UTF-8 lowercased.
// Optionally each body word also yields a bigram with the previous one, and
// (case_tokens) each such word with ASCII capitals also yields itself as
// written ("Anybody" beside "anybody": bogofilter keeps case), read from
// the input at the word's offsets (the window holds the folded copy).
//
// Memory: the window (4 KiB), its masks, one partial word (at most
// carry_size_max bytes; longer words are tracked by length only), a batch
// of 64 hashes for a hashes-only sink, and the seeds of up to prefixes_max
// prefixes (header names), computed once and kept across messages.
// Lifecycle: single owner, reusable across messages (begin() starts over).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "filter/tokenizer/simd_scan.h"
#include "filter/tokenizer/token_sink.h"

namespace filter {

// A prefix's seed with what XXH3-64 derives from the seed alone for inputs
// of 1 to 16 bytes (its "bitflips"), worked out once per prefix, not per
// token (text_tokenizer.cpp: hash_keyed).
struct token_hash_key {
  std::uint64_t seed = 0;
  std::uint64_t flip_1to3 = 0, flip_4to8 = 0, flip_9to16_lo = 0, flip_9to16_hi = 0;
};
token_hash_key token_hash_key_of(std::uint64_t seed);

class text_tokenizer {
 public:
  static constexpr std::size_t window_size = 4096;
  static constexpr std::size_t word_size_max = 40;

  text_tokenizer(token_sink& sink, simd_level level, bool case_tokens = false);
  text_tokenizer(const text_tokenizer&) = delete;
  text_tokenizer& operator=(const text_tokenizer&) = delete;

  // A prefix looked up once and kept: its id names it in begin(),
  // feed_stream() and emit() without the lookup by name (the prefixes of
  // every message — header field names, "header", "html" — are known at
  // setup). Pin before any prefix is used by name (at most pinned_max):
  // a pinned entry is never the one recomputed past the cap.
  using prefix_id = std::uint8_t;
  static constexpr std::size_t pinned_max = 40;
  prefix_id pin(std::string_view prefix);

  // Starts a new stream of text whose tokens carry `prefix` ("" for the
  // body). Ends the previous stream (its last word is emitted).
  void begin(std::string_view prefix, bool bigrams);
  void begin(prefix_id prefix, bool bigrams);
  void feed(std::string_view text);
  // A whole stream at once (a header value): begin(prefix, false),
  // feed(text), end() — the same tokens, but the last word is known to end
  // with the text, so it is not held back as a partial word.
  void feed_stream(std::string_view prefix, std::string_view text);
  void feed_stream(prefix_id prefix, std::string_view text);
  // A word break that is not in the text (an HTML block tag, an entity).
  void word_break();
  void end();
  // Hands a hashes-only sink the tokens batched so far (token_sink.h).
  void flush();

  // Emits URL tokens for an address found outside the text (an href).
  void url(std::string_view address);

  // Emits one token with an explicit prefix (structure tokens).
  void emit(std::string_view prefix, std::string_view text);
  void emit(prefix_id prefix, std::string_view text);

  // Drops a stream left open (a message abandoned midway) without emitting
  // its last word, and its batched hashes, and zeroes the count. The prefix
  // seeds stay.
  void reset();

  std::size_t token_count() const { return _token_count + _batch_size; }
  // (Batched hashes are counted when flushed: the count starts below them.)
  void reset_count() { _token_count = 0 - _batch_size; }

 private:
  enum class kind : std::uint8_t { url, email, num, skip, bigram, count };
  using hash_key = token_hash_key;
  // A prefix with its seed, and "url", "email"... under it ("subject:url")
  // with theirs, each computed on first use.
  struct prefix_entry {
    std::uint64_t head = 0;  // size, first and last byte: most lookups differ there
    std::string prefix;
    hash_key key;
    std::string sub_prefix[static_cast<int>(kind::count)];
    hash_key sub_key[static_cast<int>(kind::count)] = {};
    unsigned sub_ready = 0;  // bit per kind
  };
  // Prefixes seen (header names, "header", "part"...): a message uses a few
  // dozen, the same ones message after message. Past the cap, the last
  // entry is recomputed for each new prefix.
  static constexpr std::size_t prefixes_max = 48;
  // Where a prefix was last found: slot (by its head) -> its index + 1 in
  // _prefixes, 0 none. A hint, checked against the entry (a slot shared by
  // two prefixes, or an entry recomputed past the cap, only misses).
  static constexpr std::size_t prefix_slots = 128;
  std::uint8_t _prefix_slot[prefix_slots] = {};
  prefix_entry& entry_for(std::string_view prefix);
  // `e` with the prefix and seed of kind k computed.
  static const prefix_entry& sub_entry(prefix_entry& e, kind k);

  // `last`: the window ends the stream (feed_stream()).
  void scan_window(const char* data, std::size_t size, bool last);
  void begin_entry(prefix_entry& entry, bool bigrams);
  void feed_whole(std::string_view text);
  void carry_word();
  // `flags`: which special bytes (simd_scan.h) the word may hold, as
  // text_tokenizer.cpp's rule flags (0: a plain word), or flags_unknown.
  // `raw`: the same bytes as written (lowered.size() of them).
  static constexpr unsigned flags_unknown = ~0u;
  void word(std::string_view lowered, const char* raw, std::size_t true_size, unsigned flags);
  void emit_sub(kind k, std::string_view text);
  // "num" and the shape of w (a digit, or '$' and a digit, first).
  void emit_number(std::string_view w);
  // `folded`: the text is the window's (ASCII already lowercased), not an
  // href's as written.
  void url_of(std::string_view address, bool folded);
  void emit_url_host(std::string_view host, bool folded);
  void emit_domains(kind k, std::string_view host, bool folded);
  void emit_word(std::string_view text, bool high);
  void emit_plain_word(std::string_view text);
  void emit_as_written(std::string_view lowered, const char* raw);
  void emit_bigram(std::uint64_t hash, std::string_view text);
  void deliver(std::uint64_t hash, std::string_view prefix, std::string_view text) {
    if (!_hashes_only) {
      ++_token_count;
      _sink.on_token(hash, prefix, text);
      return;
    }
    batch(hash);
  }
  // A hashes-only sink's hash, into the batch.
  void batch(std::uint64_t hash) {
    _batch[_batch_size++] = hash;
    if (_batch_size == batch_size_max) flush();
  }

  token_sink& _sink;
  const bool _hashes_only;  // _sink.hashes_only(): deliver in batches
  simd_level _level;
  bool _case_tokens;
  std::vector<prefix_entry> _prefixes;
  prefix_entry* _current = nullptr;  // the stream's prefix
  bool _bigrams = false;
  // A body or header word is only a hash for the batch: a hashes-only sink,
  // no bigrams, no case-kept words (set by begin()).
  bool _hash_only_words = false;
  bool _open = false;
  std::uint64_t _previous_word = 0;
  bool _have_previous = false;

  // The partial word at the end of the last window.
  std::string _carry;
  std::size_t _carry_size = 0;  // true size, may exceed word_size_max + 1
  std::string _carry_raw;  // the same bytes as written (case_tokens only)
  const char* _raw = nullptr;  // the input of the window being scanned

  std::size_t _token_count = 0;
  static constexpr std::size_t batch_size_max = 64;
  std::size_t _batch_size = 0;
  std::uint64_t _batch[batch_size_max];
  // fold_and_classify's output: a multiple of 64 bytes, so room for any
  // size up to window_size rounded up to a block.
  static_assert(window_size % 64 == 0);
  alignas(64) char _window[window_size];
  std::uint64_t _masks[window_size / 64];
  std::uint64_t _special[window_size / 64];
};

}  // namespace filter
