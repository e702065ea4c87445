#include "filter/tokenizer/text_tokenizer.h"

// Tokens are short (most under 16 bytes): XXH3 inlined here (the same
// function as libxxhash's, so stored hashes do not change) saves a call
// through the PLT and the length dispatch for every token.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace filter {

std::uint64_t prefix_seed(std::string_view prefix) {
  return prefix.empty() ? 0 : XXH3_64bits(prefix.data(), prefix.size());
}

std::uint64_t token_hash(std::uint64_t seed, std::string_view text) {
  return XXH3_64bits_withSeed(text.data(), text.size(), seed);
}

namespace {

// A partial word is kept up to this many bytes: enough for the host of a
// long URL; the rest of the word is only counted.
constexpr std::size_t carry_size_max = 256;
constexpr std::size_t shape_size_max = 16;
constexpr std::size_t domains_max = 4;

bool is_edge_punctuation(char c) {
  switch (c) {
    case '$': case '\'': case '-': case '.': case '_': case '@': case '!': case '%': case ':': case '/': case ',':
      return true;
    default:
      return false;
  }
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

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

}  // namespace

text_tokenizer::text_tokenizer(token_sink& sink, simd_level level, bool case_tokens)
    : _sink(sink), _level(level), _case_tokens(case_tokens) {
  _prefixes.reserve(prefixes_max);  // entries never move: _current points into it
  _current = &entry_for("");
}

text_tokenizer::prefix_entry& text_tokenizer::entry_for(std::string_view prefix) {
  for (auto& e : _prefixes)
    if (e.prefix.size() == prefix.size() && e.prefix == prefix) return e;
  if (_prefixes.size() == prefixes_max) {
    // Past the cap (a message with many unusual header names): the last
    // slot is recomputed. Never the current stream's entry.
    prefix_entry& last = &_prefixes.back() == _current ? _prefixes[_prefixes.size() - 2] : _prefixes.back();
    last = prefix_entry{};
    last.prefix.assign(prefix);
    last.seed = prefix_seed(prefix);
    return last;
  }
  prefix_entry& e = _prefixes.emplace_back();
  e.prefix.assign(prefix);
  e.seed = prefix_seed(prefix);
  return e;
}

void text_tokenizer::begin(std::string_view prefix, bool bigrams) {
  end();
  _open = true;
  _bigrams = bigrams && prefix.empty();
  _have_previous = false;
  if (_current->prefix.size() != prefix.size() || _current->prefix != prefix) _current = &entry_for(prefix);
}

const text_tokenizer::prefix_entry& text_tokenizer::sub_entry(prefix_entry& e, kind k) {
  static constexpr std::string_view names[] = {"url", "email", "num", "skip", "bigram"};
  auto i = static_cast<int>(k);
  if ((e.sub_ready & (1u << i)) != 0) return e;
  std::string& p = e.sub_prefix[i];
  p.clear();
  if (!e.prefix.empty()) {
    p += e.prefix;
    p += ':';
  }
  p += names[i];
  e.sub_seed[i] = prefix_seed(p);
  e.sub_ready |= 1u << i;
  return e;
}

void text_tokenizer::feed(std::string_view text) {
  while (!text.empty()) {
    std::size_t n = std::min(text.size(), window_size);
    fold_and_classify(_level, text.data(), _window, _masks, _special, n);
    _raw = text.data();
    scan_window(_window, n);
    text.remove_prefix(n);
  }
}

void text_tokenizer::scan_window(const char* data, std::size_t size) {
  std::size_t pos = 0;
  if (_carry_size > 0 && (_masks[0] & 1) == 0) word_break();
  while (pos < size) {
    std::size_t start = next_bit<true>(_masks, pos, size);
    if (start >= size) break;
    std::size_t stop = next_bit<false>(_masks, start, size);
    std::string_view run(data + start, stop - start);
    if (stop == size) {
      // The word may go on in the next piece: keep its start.
      std::size_t room = carry_size_max - std::min(carry_size_max, _carry.size());
      _carry.append(run.substr(0, room));
      if (_case_tokens) _carry_raw.append(_raw + start, std::min(room, run.size()));
      _carry_size += run.size();
      break;
    }
    if (start == 0 && _carry_size > 0) {
      std::size_t room = carry_size_max - std::min(carry_size_max, _carry.size());
      _carry.append(run.substr(0, room));
      if (_case_tokens) _carry_raw.append(_raw + start, std::min(room, run.size()));
      _carry_size += run.size();
      word_break();
    } else {
      word(run, _raw + start, run.size(), !any_bit(_special, start, stop));
    }
    pos = stop;
  }
}

void text_tokenizer::word_break() {
  if (_carry_size == 0) return;
  word(_carry, _carry_raw.data(), _carry_size, false);
  _carry.clear();
  _carry_raw.clear();
  _carry_size = 0;
}

void text_tokenizer::reset() {
  _carry.clear();
  _carry_raw.clear();
  _carry_size = 0;
  _open = false;
  _have_previous = false;
  _token_count = 0;
}

void text_tokenizer::end() {
  if (!_open) return;
  word_break();
  _open = false;
}

void text_tokenizer::word(std::string_view w, const char* raw, std::size_t true_size, bool plain) {
  bool whole = w.size() == true_size;
  std::size_t lead = 0;
  while (lead < w.size() && w[lead] != '$' && is_edge_punctuation(w[lead])) ++lead;
  w.remove_prefix(lead);
  if (_case_tokens) raw += lead;
  true_size -= lead;
  if (w.empty()) return;

  // What is rare: a ':' (URL), an '@' (address), bytes of UTF-8. A word
  // from the window is known plain from the kernel's special mask; others
  // (joined across pieces) take one branch-free pass. Trimming below drops
  // only ASCII punctuation, so a flag may be set by a byte trimmed away:
  // the exact checks follow the flags.
  bool colon = false, at_sign = false;
  unsigned char any = 0;
  if (!plain) {
    for (char c : w) {
      colon |= c == ':';
      at_sign |= c == '@';
      any |= static_cast<unsigned char>(c);
    }
  }
  // URLs: only the host matters, and it is near the start. (w[0] is not
  // ':', an edge punctuation, so the first "://" is the one at 1..10.)
  if ((colon && scheme_end(w) != std::string_view::npos) || w.starts_with("www.")) {
    url(w);
    return;
  }
  if (whole) {
    while (!w.empty() && is_edge_punctuation(w.back())) w.remove_suffix(1);
    true_size = w.size();
    if (w.empty()) return;
  }
  if (is_digit(w[0]) || (w[0] == '$' && w.size() > 1 && is_digit(w[1]))) {
    // Bucket numbers by shape: digit runs become their lengths.
    std::array<char, shape_size_max> shape;
    std::size_t n = 0;
    for (std::size_t i = 0; i < w.size() && n < shape.size();) {
      if (is_digit(w[i])) {
        std::size_t j = i;
        while (j < w.size() && is_digit(w[j])) ++j;
        std::size_t run = j - i;
        shape[n++] = static_cast<char>(run >= 9 ? '9' : '0' + run);
        i = j;
      } else {
        shape[n++] = w[i++];
      }
    }
    emit_sub(kind::num, std::string_view(shape.data(), n));
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
  bool high = any >= 0x80;
  std::size_t at = at_sign ? w.find('@') : std::string_view::npos;
  if (at != std::string_view::npos && w.find('.', at) != std::string_view::npos) {
    emit_word(w, high);
    emit_domains(kind::email, w.substr(at + 1));
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
  _sink.on_token(token_hash(_current->seed, text), _current->prefix, text);
  ++_token_count;
}

void text_tokenizer::emit_word(std::string_view text, bool high) {
  std::array<char, word_size_max> folded;
  if (high && text.size() <= folded.size()) {
    std::memcpy(folded.data(), text.data(), text.size());
    fold_utf8(folded.data(), text.size());
    text = std::string_view(folded.data(), text.size());
  }
  std::uint64_t hash = token_hash(_current->seed, text);
  _sink.on_token(hash, _current->prefix, text);
  ++_token_count;
  if (_bigrams) {
    if (_have_previous) {
      auto i = static_cast<int>(kind::bigram);
      const prefix_entry& e = sub_entry(*_current, kind::bigram);
      std::uint64_t pair[2] = {_previous_word, hash};
      std::uint64_t bigram = XXH3_64bits_withSeed(pair, sizeof pair, e.sub_seed[i]);
      _sink.on_token(bigram, e.sub_prefix[i], text);
      ++_token_count;
    }
    _previous_word = hash;
    _have_previous = true;
  }
}

void text_tokenizer::emit_sub(kind k, std::string_view text) {
  auto i = static_cast<int>(k);
  const prefix_entry& e = sub_entry(*_current, k);
  _sink.on_token(token_hash(e.sub_seed[i], text), e.sub_prefix[i], text);
  ++_token_count;
}

void text_tokenizer::emit(std::string_view prefix, std::string_view text) {
  const prefix_entry& e = entry_for(prefix);
  _sink.on_token(token_hash(e.seed, text), e.prefix, text);
  ++_token_count;
}

void text_tokenizer::url(std::string_view address) {
  std::size_t scheme = address.find("://");
  if (scheme != std::string_view::npos && scheme <= 10) address.remove_prefix(scheme + 3);
  std::size_t host_end = address.find_first_of("/:?#\\\"' <>");
  std::string_view host = address.substr(0, host_end);
  std::size_t user = host.rfind('@');
  if (user != std::string_view::npos) host.remove_prefix(user + 1);
  emit_url_host(host);
}

void text_tokenizer::emit_url_host(std::string_view host) {
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return;
  if (is_numeric_host(host)) {
    emit_sub(kind::url, "ip");
    return;
  }
  emit_domains(kind::url, host);
}

void text_tokenizer::emit_domains(kind k, std::string_view host) {
  std::array<char, 128> lowered{};
  if (host.size() > lowered.size()) host = host.substr(host.size() - lowered.size());
  // Hosts from an href are not folded by the window kernel.
  for (std::size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    lowered[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  std::string_view h(lowered.data(), host.size());
  while (!h.empty() && is_edge_punctuation(h.front())) h.remove_prefix(1);
  while (!h.empty() && is_edge_punctuation(h.back())) h.remove_suffix(1);
  if (h.empty()) return;
  emit_sub(k, h);
  // Parent domains with at least two labels, the nearest first.
  std::size_t emitted = 1;
  std::size_t dot = h.find('.');
  while (dot != std::string_view::npos && emitted < domains_max) {
    std::string_view parent = h.substr(dot + 1);
    if (parent.find('.') == std::string_view::npos) break;
    emit_sub(k, parent);
    ++emitted;
    dot = h.find('.', dot + 1);
  }
}

}  // namespace filter
