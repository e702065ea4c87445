#include "filter/tokenizer/text_tokenizer.h"

// Tokens are short (most under 16 bytes): XXH3 inlined here (the same
// function as libxxhash's, so stored hashes do not change) saves a call
// through the PLT and the length dispatch for every token.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "kernel_io/base/assert.h"

namespace filter {

std::uint64_t prefix_seed(std::string_view prefix) {
  return prefix.empty() ? 0 : XXH3_64bits(prefix.data(), prefix.size());
}

namespace {
// XXH3_64bits_withSeed with its short cases (most tokens) inlined here:
// libxxhash's own XXH3_len_1to3_64b, _4to8_ and _9to16_, with what they
// compute from the seed alone (the "bitflips") taken from the key, worked
// out once per prefix. So hashes do not change (tokenizer_test's
// token_hash_is_xxh3_with_seed checks every length up to 40).
inline __attribute__((always_inline)) std::uint64_t hash_keyed(const token_hash_key& k,
                                                               std::string_view text) {
  const auto* p = reinterpret_cast<const xxh_u8*>(text.data());
  const std::size_t len = text.size();
  if (len - 4 <= 4) {
    xxh_u64 input64 = XXH_readLE32(p + len - 4) + (static_cast<xxh_u64>(XXH_readLE32(p)) << 32);
    return XXH3_rrmxmx(input64 ^ k.flip_4to8, len);
  }
  if (len - 9 <= 7) {
    xxh_u64 lo = XXH_readLE64(p) ^ k.flip_9to16_lo;
    xxh_u64 hi = XXH_readLE64(p + len - 8) ^ k.flip_9to16_hi;
    return XXH3_avalanche(len + XXH_swap64(lo) + hi + XXH3_mul128_fold64(lo, hi));
  }
  if (len - 1 <= 2) {
    xxh_u32 combined = (static_cast<xxh_u32>(p[0]) << 16) | (static_cast<xxh_u32>(p[len >> 1]) << 24) |
                       static_cast<xxh_u32>(p[len - 1]) | (static_cast<xxh_u32>(len) << 8);
    return XXH64_avalanche(combined ^ k.flip_1to3);
  }
  return XXH3_64bits_withSeed(text.data(), len, k.seed);  // empty, or over 16 bytes
}
}  // namespace

token_hash_key token_hash_key_of(std::uint64_t seed) {
  const xxh_u8* secret = XXH3_kSecret;
  token_hash_key k;
  k.seed = seed;
  k.flip_1to3 = (XXH_readLE32(secret) ^ XXH_readLE32(secret + 4)) + seed;
  k.flip_4to8 = (XXH_readLE64(secret + 8) ^ XXH_readLE64(secret + 16)) -
                (seed ^ (static_cast<xxh_u64>(XXH_swap32(static_cast<xxh_u32>(seed))) << 32));
  k.flip_9to16_lo = (XXH_readLE64(secret + 24) ^ XXH_readLE64(secret + 32)) + seed;
  k.flip_9to16_hi = (XXH_readLE64(secret + 40) ^ XXH_readLE64(secret + 48)) - seed;
  return k;
}

std::uint64_t token_hash(std::uint64_t seed, std::string_view text) {
  return hash_keyed(token_hash_key_of(seed), text);
}

namespace {

// A partial word is kept up to this many bytes: enough for the host of a
// long URL; the rest of the word is only counted.
constexpr std::size_t carry_size_max = 256;
constexpr std::size_t shape_size_max = 16;
constexpr std::size_t domains_max = 4;

// The in-word punctuation of simd_scan.h, trimmed at a word's ends.
constexpr std::array<bool, 256> make_edge_table() {
  std::array<bool, 256> t{};
  for (char c : std::string_view("$'-._@!%:/,")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> edge_table = make_edge_table();
inline bool is_edge_punctuation(char c) { return edge_table[static_cast<unsigned char>(c)]; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// What word() looks for in a word that may hold a special byte: one table
// load per byte, not three compares.
constexpr unsigned flag_colon = 1, flag_at = 2, flag_high = 4;
constexpr std::array<unsigned char, 256> make_rule_flags() {
  std::array<unsigned char, 256> t{};
  t[':'] = flag_colon;
  t['@'] = flag_at;
  for (int c = 0x80; c < 256; ++c) t[c] = flag_high;
  return t;
}
constexpr std::array<unsigned char, 256> rule_flags = make_rule_flags();

// The rule flags of a word within one mask word, from its special bytes
// alone (`bits`: their positions from `base`): a time or an address has
// one or two, where a pass over the word reads every byte.
inline unsigned flags_of_special(const char* base, std::uint64_t bits) {
  unsigned flags = 0;
  for (; bits != 0 && flags != (flag_colon | flag_at | flag_high); bits &= bits - 1)
    flags |= rule_flags[static_cast<unsigned char>(base[__builtin_ctzll(bits)])];
  return flags;
}

// Index of the first set (WantSet) or clear bit at or after pos, or size.
template <bool WantSet>
inline __attribute__((always_inline)) std::size_t next_bit(const std::uint64_t* masks, std::size_t pos,
                                                          std::size_t size) {
  while (pos < size) {
    std::uint64_t w = masks[pos / 64];
    if constexpr (!WantSet) w = ~w;
    w &= ~std::uint64_t{0} << (pos % 64);
    if (w != 0) return std::min(size, (pos & ~std::size_t{63}) + static_cast<std::size_t>(__builtin_ctzll(w)));
    pos = (pos & ~std::size_t{63}) + 64;
  }
  return size;
}

// Whether any bit in [begin, end) is set.
inline bool any_bit(const std::uint64_t* masks, std::size_t begin, std::size_t end) {
  std::size_t bit = begin % 64;
  if (bit + (end - begin) <= 64) {
    // Within one mask word (nearly every word is): one shift and test.
    std::size_t n = end - begin;
    std::uint64_t w = masks[begin / 64] >> bit;
    return (n == 64 ? w : w & ((std::uint64_t{1} << n) - 1)) != 0;
  }
  while (begin < end) {
    std::size_t word = begin / 64, bit = begin % 64;
    std::size_t n = std::min<std::size_t>(64 - bit, end - begin);
    std::uint64_t range = (n == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << n) - 1)) << bit;
    if ((masks[word] & range) != 0) return true;
    begin += n;
  }
  return false;
}

// Where "://" starts in w, if at 1..10 (a URL scheme), else npos. Only the
// first 13 bytes can hold such a match.
std::size_t scheme_end(std::string_view w) {
  std::size_t n = std::min<std::size_t>(w.size(), 13);
  for (std::size_t i = 1; i + 3 <= n; ++i)
    if (w[i] == ':' && w[i + 1] == '/' && w[i + 2] == '/') return i;
  return std::string_view::npos;
}

// Where a URL's host ends (std::string_view::find_first_of is a memchr of
// the set per byte).
constexpr std::array<bool, 256> make_host_stop_table() {
  std::array<bool, 256> t{};
  for (char c : std::string_view("/:?#\\\"' <>")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> host_stop_table = make_host_stop_table();

// A number's shape: each run of digits replaced by its length (9 for 9 or
// more), other bytes kept; at most shape_size_max bytes.
inline std::size_t number_shape(std::string_view w, char* shape) {
  std::size_t n = 0;
  const char* p = w.data();
  const char* const end = p + w.size();
  while (p < end && n < shape_size_max) {
    if (is_digit(*p)) {
      const char* q = p + 1;
      while (q < end && is_digit(*q)) ++q;
      const std::size_t run = static_cast<std::size_t>(q - p);
      shape[n++] = static_cast<char>(run >= 9 ? '9' : '0' + run);
      p = q;
    } else {
      shape[n++] = *p++;
    }
  }
  return n;
}

bool is_numeric_host(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; });
}

// Lowercases the capitals of Latin-1, Greek and Cyrillic in UTF-8; every
// mapping keeps the sequence length.
void fold_utf8(char* s, std::size_t size) {
  for (std::size_t i = 0; i + 1 < size; ++i) {
    auto lead = static_cast<unsigned char>(s[i]);
    auto next = static_cast<unsigned char>(s[i + 1]);
    if (lead < 0xc3) continue;
    if (lead == 0xc3 && next >= 0x80 && next <= 0x9e && next != 0x97) {
      s[i + 1] = static_cast<char>(next + 0x20);
    } else if (lead == 0xce && next >= 0x91 && next <= 0xa9 && next != 0xa2) {
      if (next <= 0x9f) {
        s[i + 1] = static_cast<char>(next + 0x20);
      } else {
        s[i] = static_cast<char>(0xcf);
        s[i + 1] = static_cast<char>(next - 0x20);
      }
    } else if (lead == 0xd0 && next >= 0x80 && next <= 0xaf) {
      if (next <= 0x8f) {
        s[i] = static_cast<char>(0xd1);
        s[i + 1] = static_cast<char>(next + 0x10);
      } else if (next <= 0x9f) {
        s[i + 1] = static_cast<char>(next + 0x20);
      } else {
        s[i] = static_cast<char>(0xd1);
        s[i + 1] = static_cast<char>(next - 0x20);
      }
    } else {
      continue;
    }
    ++i;
  }
}

// A prefix's size, first and last byte: two names that match there are
// compared in full.
std::uint64_t head_of(std::string_view s) {
  if (s.empty()) return 0;
  return s.size() | std::uint64_t{static_cast<unsigned char>(s.front())} << 32 |
         std::uint64_t{static_cast<unsigned char>(s.back())} << 40;
}

}  // namespace

text_tokenizer::text_tokenizer(token_sink& sink, simd_level level, bool case_tokens)
    : _sink(sink), _hashes_only(sink.hashes_only()), _level(level), _case_tokens(case_tokens) {
  _prefixes.reserve(prefixes_max);  // entries never move: _current points into it
  _current = &entry_for("");
}

text_tokenizer::prefix_entry& text_tokenizer::entry_for(std::string_view prefix) {
  // Every header field asks (its name, or "header"): a slot by the head
  // finds it at once; the walk of the list is for the first use.
  const std::uint64_t head = head_of(prefix);
  std::uint8_t& slot = _prefix_slot[(head * 0x9e3779b97f4a7c15u) >> 57];
  if (slot != 0) {
    prefix_entry& e = _prefixes[slot - 1u];
    if (e.head == head && e.prefix == prefix) return e;
  }
  for (std::size_t i = 0; i < _prefixes.size(); ++i) {
    prefix_entry& e = _prefixes[i];
    if (e.head == head && e.prefix == prefix) {
      slot = static_cast<std::uint8_t>(i + 1);
      return e;
    }
  }
  if (_prefixes.size() == prefixes_max) {
    // Past the cap (a message with many unusual header names): the last
    // slot is recomputed. Never the current stream's entry.
    prefix_entry& last = &_prefixes.back() == _current ? _prefixes[_prefixes.size() - 2] : _prefixes.back();
    last = prefix_entry{};
    last.head = head;
    last.prefix.assign(prefix);
    last.key = token_hash_key_of(prefix_seed(prefix));
    slot = static_cast<std::uint8_t>(&last - _prefixes.data() + 1);
    return last;
  }
  prefix_entry& e = _prefixes.emplace_back();
  e.head = head;
  e.prefix.assign(prefix);
  e.key = token_hash_key_of(prefix_seed(prefix));
  slot = static_cast<std::uint8_t>(_prefixes.size());
  return e;
}

text_tokenizer::prefix_id text_tokenizer::pin(std::string_view prefix) {
  RM_ASSERT_MSG(_prefixes.size() <= pinned_max, "pin the prefixes at setup");
  const std::size_t id = static_cast<std::size_t>(&entry_for(prefix) - _prefixes.data());
  // Past the cap, the entry recomputed is one of the last two.
  RM_ASSERT(id + 2 < prefixes_max);
  return static_cast<prefix_id>(id);
}

void text_tokenizer::begin(std::string_view prefix, bool bigrams) {
  // The open stream ends with its own prefix before the lookup, which past
  // the cap may recompute an entry.
  end();
  begin_entry(_current->prefix.size() == prefix.size() && _current->prefix == prefix ? *_current : entry_for(prefix),
              bigrams);
}

void text_tokenizer::begin_entry(prefix_entry& entry, bool bigrams) {
  end();
  _open = true;
  _bigrams = bigrams && entry.prefix.empty();
  _hash_only_words = _hashes_only && !_bigrams && !_case_tokens;
  _have_previous = false;
  _current = &entry;
}

void text_tokenizer::begin(prefix_id prefix, bool bigrams) { begin_entry(_prefixes[prefix], bigrams); }

const text_tokenizer::prefix_entry& text_tokenizer::sub_entry(prefix_entry& e, kind k) {
  auto i = static_cast<int>(k);
  if ((e.sub_ready & (1u << i)) != 0) return e;
  // The first token of this kind under this prefix: out of the token path.
  [](prefix_entry& e, int i) __attribute__((noinline)) {
    static constexpr std::string_view names[] = {"url", "email", "num", "skip", "bigram"};
    std::string& p = e.sub_prefix[i];
    p.clear();
    if (!e.prefix.empty()) {
      p += e.prefix;
      p += ':';
    }
    p += names[i];
    e.sub_key[i] = token_hash_key_of(prefix_seed(p));
    e.sub_ready |= 1u << i;
  }(e, i);
  return e;
}

void text_tokenizer::feed(std::string_view text) {
  while (!text.empty()) {
    std::size_t n = std::min(text.size(), window_size);
    fold_and_classify(_level, text.data(), _window, _masks, _special, n);
    _raw = text.data();
    scan_window(_window, n, false);
    text.remove_prefix(n);
  }
}

void text_tokenizer::feed_stream(std::string_view prefix, std::string_view text) {
  begin(prefix, false);
  feed_whole(text);
  end();
}

void text_tokenizer::feed_stream(prefix_id prefix, std::string_view text) {
  begin_entry(_prefixes[prefix], false);
  feed_whole(text);
  end();
}

void text_tokenizer::feed_whole(std::string_view text) {
  while (!text.empty()) {
    std::size_t n = std::min(text.size(), window_size);
    fold_and_classify(_level, text.data(), _window, _masks, _special, n);
    _raw = text.data();
    scan_window(_window, n, n == text.size());
    text.remove_prefix(n);
  }
}

// Most tokens: inlined into the window scan.
inline __attribute__((always_inline)) void text_tokenizer::emit_plain_word(std::string_view text) {
  std::uint64_t hash = hash_keyed(_current->key, text);
  deliver(hash, _current->prefix, text);
  if (_bigrams) emit_bigram(hash, text);
}

// Walks the runs of word bytes a mask word at a time. A run that starts
// with a lowercase letter and holds no special byte (most words of most
// mail) takes the rules of word() inline, in the order word() applies them:
// no leading punctuation to trim, no URL or address, not a number; only
// trailing punctuation, "www.", the length limits.
void text_tokenizer::scan_window(const char* data, std::size_t size, bool last) {
  const std::size_t blocks = (size + 63) / 64;
  std::size_t block = 0;
  std::uint64_t bits = _masks[0];  // word bits of `block` not yet consumed
  if (_carry_size > 0) {
    if ((_masks[0] & 1) == 0) {
      carry_word();
    } else {
      // The window starts inside the carried word.
      std::size_t stop = next_bit<false>(_masks, 0, size);
      std::size_t room = carry_size_max - std::min(carry_size_max, _carry.size());
      _carry.append(data, std::min(room, stop));
      if (_case_tokens) _carry_raw.append(_raw, std::min(room, stop));
      _carry_size += stop;
      if (stop == size && !last) return;
      carry_word();
      if (stop == size) return;
      block = stop / 64;
      bits = _masks[block] & (~std::uint64_t{0} << (stop % 64));
    }
  }
  while (true) {
    while (bits == 0) {
      if (++block >= blocks) return;
      bits = _masks[block];
    }
    // The lowest run of bits: adding its lowest bit carries through it.
    const std::uint64_t after = bits + (bits & (0 - bits));
    const std::uint64_t run = bits & ~after;  // its bits in this mask word
    bits &= after;
    const std::size_t base = block * 64;
    const std::size_t start = base + static_cast<unsigned>(__builtin_ctzll(run));
    std::size_t stop;
    bool plain;
    unsigned flags = 0;
    if ((run >> 63) == 0 || block + 1 == blocks || (_masks[block + 1] & 1) == 0) {
      // The run ends in this mask word (nearly every run does).
      stop = base + static_cast<unsigned>(63 ^ __builtin_clzll(run)) + 1;
      const std::uint64_t special_run = _special[block] & run;
      plain = special_run == 0;
      if (!plain) flags = flags_of_special(data + base, special_run);
    } else {
      // It goes on in the next mask word.
      stop = next_bit<false>(_masks, base + 64, size);
      plain = !any_bit(_special, start, stop);
      if (!plain) flags = flags_unknown;
      block = stop / 64;
      bits = block < blocks ? _masks[block] & (~std::uint64_t{0} << (stop % 64)) : 0;
    }
    const char* p = data + start;
    const std::size_t n = stop - start;
    if (stop == size) {
      if (!last) {
        // The word may go on in the next piece: keep its start. (Not
        // std::min: a reference to n kept n in memory for every run.)
        const std::size_t kept = n < carry_size_max ? n : carry_size_max;
        _carry.assign(p, kept);
        if (_case_tokens) _carry_raw.assign(_raw + start, kept);
        _carry_size = n;
        return;
      }
      if (n > carry_size_max) {
        // As a held-back word would be: its start, and its length.
        word(std::string_view(p, carry_size_max), _raw + start, n, flags_unknown);
        return;
      }
    }
    if (plain) {
      if (p[0] >= 'a' && p[0] <= 'z') {
        std::size_t e = n;
        // Most words end with a letter, above every edge punctuation byte
        // (all below 0x60; the run is folded and holds no byte >= 0x80).
        if (static_cast<unsigned char>(p[n - 1]) < 0x60)
          while (is_edge_punctuation(p[e - 1])) --e;  // p[0] is a letter
        if (e > word_size_max || (n >= 4 && std::memcmp(p, "www.", 4) == 0)) {
          word(std::string_view(p, n), _raw + start, n, 0);
        } else if (e >= 3) {
          if (_hash_only_words) {
            // The common case (the feature collector, no bigrams, no
            // case-kept words): one test, not three.
            batch(hash_keyed(_current->key, std::string_view(p, e)));
          } else {
            emit_plain_word(std::string_view(p, e));
            if (_case_tokens) emit_as_written(std::string_view(p, e), _raw + start);
          }
        }
        continue;
      }
      if (is_digit(p[0]) && n <= carry_size_max) {
        // A number (word()'s rules for a digit first and no special byte:
        // no leading punctuation, no URL; whole, so trailing punctuation
        // is trimmed): its shape.
        std::size_t e = n;
        while (is_edge_punctuation(p[e - 1])) --e;  // p[0] is a digit
        emit_number(std::string_view(p, e));
        continue;
      }
    }
    word(std::string_view(p, n), _raw + start, n, flags);
  }
}

void text_tokenizer::carry_word() {
  word(_carry, _carry_raw.data(), _carry_size, flags_unknown);
  _carry.clear();
  _carry_raw.clear();
  _carry_size = 0;
}

void text_tokenizer::word_break() {
  if (_carry_size != 0) carry_word();
}

void text_tokenizer::flush() {
  if (_batch_size == 0) return;
  _sink.on_hashes(std::span<const std::uint64_t>(_batch, _batch_size));
  _token_count += _batch_size;
  _batch_size = 0;
}

void text_tokenizer::reset() {
  _carry.clear();
  _carry_raw.clear();
  _carry_size = 0;
  _open = false;
  _have_previous = false;
  _token_count = 0;
  _batch_size = 0;
}

void text_tokenizer::end() {
  if (!_open) return;
  word_break();
  _open = false;
}

void text_tokenizer::word(std::string_view w, const char* raw, std::size_t true_size, unsigned flags) {
  // A word longer than the carry is known by its first carry_size_max bytes
  // and its length, however it arrived: a word carried across pieces keeps
  // no more, so one found whole in a window is cut the same way (else its
  // trailing punctuation was trimmed whole and not carried, and its length
  // bucket depended on where the pieces ended).
  if (true_size > carry_size_max) w = w.substr(0, carry_size_max);
  bool whole = w.size() == true_size;
  std::size_t lead = 0;
  while (lead < w.size() && w[lead] != '$' && is_edge_punctuation(w[lead])) ++lead;
  w.remove_prefix(lead);
  if (_case_tokens) raw += lead;
  true_size -= lead;
  if (w.empty()) return;

  // What is rare: a ':' (URL), an '@' (address), bytes of UTF-8. A word
  // from the window comes with its flags, from the kernel's special mask;
  // others (joined across pieces, or longer than a mask word) take one
  // branch-free pass. Trimming drops only ASCII punctuation, so a flag may
  // be set by a byte trimmed away: the exact checks follow the flags.
  if (flags == flags_unknown) {
    flags = 0;
    for (char c : w) flags |= rule_flags[static_cast<unsigned char>(c)];
  }
  const bool colon = (flags & flag_colon) != 0, at_sign = (flags & flag_at) != 0;
  // URLs: only the host matters, and it is near the start. (w[0] is not
  // ':', an edge punctuation, so the first "://" is the one at 1..10.)
  if ((colon && scheme_end(w) != std::string_view::npos) || w.starts_with("www.")) {
    url_of(w, true);
    return;
  }
  if (whole) {
    while (!w.empty() && is_edge_punctuation(w.back())) w.remove_suffix(1);
    true_size = w.size();
    if (w.empty()) return;
  }
  if (is_digit(w[0]) || (w[0] == '$' && w.size() > 1 && is_digit(w[1]))) {
    // Bucket numbers by shape: digit runs become their lengths.
    emit_number(w);
    return;
  }
  if (true_size > word_size_max) {
    std::array<char, 4> skip;
    std::size_t tens = std::min<std::size_t>(true_size / 10, 99);
    skip[0] = w[0];
    skip[1] = ':';
    skip[2] = static_cast<char>('0' + tens / 10);
    skip[3] = static_cast<char>('0' + tens % 10);
    emit_sub(kind::skip, std::string_view(skip.data(), 4));
    return;
  }
  bool high = (flags & flag_high) != 0;
  std::size_t at = at_sign ? w.find('@') : std::string_view::npos;
  if (at != std::string_view::npos && w.find('.', at) != std::string_view::npos) {
    emit_word(w, high);
    emit_domains(kind::email, w.substr(at + 1), true);
    return;
  }
  if (w.size() < 3) return;
  emit_word(w, high);
  if (_case_tokens) emit_as_written(w, raw);
}

void text_tokenizer::emit_as_written(std::string_view lowered, const char* raw) {
  // Only ASCII capitals differ: the kernel folds nothing else.
  if (std::memcmp(lowered.data(), raw, lowered.size()) == 0) return;
  std::string_view text(raw, lowered.size());
  deliver(hash_keyed(_current->key, text), _current->prefix, text);
}

void text_tokenizer::emit_word(std::string_view text, bool high) {
  std::array<char, word_size_max> folded;
  if (high && text.size() <= folded.size()) {
    std::memcpy(folded.data(), text.data(), text.size());
    fold_utf8(folded.data(), text.size());
    text = std::string_view(folded.data(), text.size());
  }
  emit_plain_word(text);
}

void text_tokenizer::emit_bigram(std::uint64_t hash, std::string_view text) {
  if (_have_previous) {
    auto i = static_cast<int>(kind::bigram);
    const prefix_entry& e = sub_entry(*_current, kind::bigram);
    std::uint64_t pair[2] = {_previous_word, hash};
    std::uint64_t bigram = XXH3_64bits_withSeed(pair, sizeof pair, e.sub_key[i].seed);
    deliver(bigram, e.sub_prefix[i], text);
  }
  _previous_word = hash;
  _have_previous = true;
}

void text_tokenizer::emit_number(std::string_view w) {
  // emit_sub(kind::num, shape) written out: numbers are one token in ten,
  // and emit_sub's call and register saves were a third of their cost.
  std::array<char, shape_size_max> shape;
  const std::string_view text(shape.data(), number_shape(w, shape.data()));
  constexpr auto i = static_cast<int>(kind::num);
  const prefix_entry& e = sub_entry(*_current, kind::num);
  const std::uint64_t hash = hash_keyed(e.sub_key[i], text);
  if (_hashes_only) {
    batch(hash);
  } else {
    deliver(hash, e.sub_prefix[i], text);
  }
}

void text_tokenizer::emit_sub(kind k, std::string_view text) {
  auto i = static_cast<int>(k);
  const prefix_entry& e = sub_entry(*_current, k);
  deliver(hash_keyed(e.sub_key[i], text), e.sub_prefix[i], text);
}

void text_tokenizer::emit(std::string_view prefix, std::string_view text) {
  const prefix_entry& e = entry_for(prefix);
  deliver(hash_keyed(e.key, text), e.prefix, text);
}

void text_tokenizer::emit(prefix_id prefix, std::string_view text) {
  const prefix_entry& e = _prefixes[prefix];
  deliver(hash_keyed(e.key, text), e.prefix, text);
}

void text_tokenizer::url(std::string_view address) { url_of(address, false); }

void text_tokenizer::url_of(std::string_view address, bool folded) {
  // A scheme's "://" counts only at 0..10: the first 13 bytes hold any such
  // match (a search of the whole address was a memchr per ':'; the end of
  // the host was a memchr of the stop set per byte).
  std::size_t scan = std::min<std::size_t>(address.size(), 13);
  for (std::size_t i = 0; i + 3 <= scan; ++i)
    if (address[i] == ':' && address[i + 1] == '/' && address[i + 2] == '/') {
      address.remove_prefix(i + 3);
      break;
    }
  std::size_t host_end = 0;
  while (host_end < address.size() && !host_stop_table[static_cast<unsigned char>(address[host_end])]) ++host_end;
  std::string_view host = address.substr(0, host_end);
  std::size_t user = host.rfind('@');
  if (user != std::string_view::npos) host.remove_prefix(user + 1);
  emit_url_host(host, folded);
}

void text_tokenizer::emit_url_host(std::string_view host, bool folded) {
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return;
  if (is_numeric_host(host)) {
    emit_sub(kind::url, "ip");
    return;
  }
  emit_domains(kind::url, host, folded);
}

void text_tokenizer::emit_domains(kind k, std::string_view host, bool folded) {
  std::array<char, 128> lowered;
  if (host.size() > lowered.size()) host = host.substr(host.size() - lowered.size());
  std::string_view h = host;
  if (!folded) {
    // Hosts from an href are not folded by the window kernel.
    for (std::size_t i = 0; i < host.size(); ++i) {
      char c = host[i];
      lowered[i] = static_cast<char>(c + (static_cast<unsigned char>(c - 'A') < 26 ? 32 : 0));
    }
    h = std::string_view(lowered.data(), host.size());
  }
  while (!h.empty() && is_edge_punctuation(h.front())) h.remove_prefix(1);
  while (!h.empty() && is_edge_punctuation(h.back())) h.remove_suffix(1);
  if (h.empty()) return;
  emit_sub(k, h);
  // Parent domains with at least two labels, the nearest first: the part
  // after each of the first dots that another dot follows.
  std::size_t dots[domains_max];
  std::size_t found = 0;
  for (std::size_t i = 0; i < h.size() && found < domains_max; ++i)
    if (h[i] == '.') dots[found++] = i;
  for (std::size_t d = 0; d + 1 < found; ++d) emit_sub(k, h.substr(dots[d] + 1));
}

}  // namespace filter
