#pragma once
// The compact hashed token store: per token hash (XXH3-64 from the
// tokenizer) how many spam and how many ham messages contained it, and how
// many spam and ham messages were trained. 16 bytes per token in an
// open-addressing table (linear probing, power-of-two capacity, load <= 1/2:
// max_load below);
// no token strings are kept. There is one global store and optionally one
// per account; a classification adds their counts (classifier.h).
//
// Serialized form (little-endian, the store's record payload and the CLI's
// --token-store file):
//   magic "RMTOKENS" (8) | version u32 (1) | header_size u32 (48: readers
//   skip unknown trailing header fields) | spam_messages u64 |
//   ham_messages u64 | token_count u64 | feature_flags u32 (bit 0: trained
//   with body bigrams, bit 1: with case tokens; scoring must tokenize the
//   same way) | reserved u32
//   (0) | tokens (key u64, spam u32, ham u32)
//   sorted by key | XXH3-64 of everything before it (u64).
// Lifecycle: a value type; single owner (in the daemon: the account's owner
// core).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kernel_io/base/result.h"

namespace filter {

enum class store_errc : std::uint8_t { truncated = 1, bad_magic, bad_version, bad_checksum, bad_size };
std::string_view store_errc_name(store_errc e);

struct token_counts {
  std::uint32_t spam = 0;
  std::uint32_t ham = 0;
};

class token_store {
 public:
  token_store() = default;

  // Inline: the classifier calls it for every token of every message.
  token_counts get(std::uint64_t key) const {
    if (_slots.empty()) return {};
    key = stored_key(key);
    std::size_t mask = _slots.size() - 1;
    const slot* slots = _slots.data();
    for (std::size_t i = home(key);; i = (i + 1) & mask) {
      if (slots[i].key == key) return slots[i].counts;
      if (slots[i].key == 0) return {};
    }
  }
  // Starts loading the cache line get(key) will probe first: a message's
  // lookups are independent, so the classifier overlaps their misses.
  void prefetch(std::uint64_t key) const {
    if (!_slots.empty()) __builtin_prefetch(&_slots[home(stored_key(key))]);
  }
  // Adds (or, with negative deltas, removes) one message's unique tokens.
  // Counts never go below zero, so untraining a message that was never
  // trained cannot corrupt the store.
  void train(std::span<const std::uint64_t> unique_hashes, bool spam, int delta = 1);

  std::uint64_t spam_messages() const { return _spam_messages; }
  std::uint64_t ham_messages() const { return _ham_messages; }
  std::size_t token_count() const { return _size; }
  std::size_t memory_bytes() const { return _slots.size() * sizeof(slot); }

  // Adds another store's counts (training in parallel, then merging).
  void merge(const token_store& other);

  // Bit 0: the features include body bigrams.
  static constexpr std::uint32_t feature_bigrams = 1;
  // Bit 1: words with capitals are also features as written (case_tokens).
  static constexpr std::uint32_t feature_case = 2;
  std::uint32_t feature_flags() const { return _feature_flags; }
  void set_feature_flags(std::uint32_t flags) { _feature_flags = flags; }

  void serialize(std::string& out) const;
  static kio::result<token_store, store_errc> parse(std::string_view bytes);

 private:
  struct slot {
    std::uint64_t key = 0;  // 0 = empty (a real hash of 0 is stored as 1)
    token_counts counts;
  };
  static std::uint64_t stored_key(std::uint64_t key) { return key == 0 ? 1 : key; }
  // A key's first slot: its high bits. Keys are uniform hashes, so these
  // are as good as the low bits, and a sorted run of keys (the serialized
  // form, a grow) fills the table front to back instead of at random:
  // loading a store of 100k tokens no longer costs a cache miss per token.
  std::size_t home(std::uint64_t stored) const { return static_cast<std::size_t>(stored >> _shift); }
  void allocate(std::size_t capacity);  // a power of two
  slot* find_or_insert(std::uint64_t key);
  void grow();

  // At most half the slots are used. A lookup of a token the store does
  // not have reads on to the next empty slot: at the 0.7 allowed before, a
  // store loaded at ~0.66 (the bench's 86,847 tokens in 131,072 slots) read
  // ~5 slots for each such token, and the loop's end mispredicted. At <= 1/2
  // (that store: 0.33 in 262,144 slots) classify() takes ~1 µs a message
  // less, warm or with the caches evicted (spam_inline_cost, filter/README.md
  // "Speed", session 10), for up to twice the table's memory: a store whose
  // count falls between 1/2 and 0.7 of a power of two (that one 2 -> 4 MiB;
  // a million tokens stay at 32 MiB).
  static constexpr std::size_t max_load_numerator = 1, max_load_denominator = 2;
  static bool over_max_load(std::size_t tokens, std::size_t slots) {
    return tokens * max_load_denominator > slots * max_load_numerator;
  }

  // A table of 2 MiB or more (a store of ~33k tokens and up) sits in
  // transparent huge pages where the kernel offers them: loading it costs
  // one page fault instead of 512 (each several microseconds here: a CLI
  // scoring run paid ~2 ms of its start-up for them), and a lookup's TLB
  // miss goes away.
  //
  // The memory comes zeroed (calloc, or a fresh anonymous mapping), and an
  // all-zero slot is an empty slot{}, so a new table's slots are not
  // constructed one by one: writing 4 MiB of zeros over the kernel's zeros
  // was a quarter of loading a store (1.3 M of 4.9 M instructions for a
  // 122k-token store at every `spam score` start).
  struct table_memory {
    static void* allocate(std::size_t bytes);  // zero-filled
    static void deallocate(void* p, std::size_t bytes);
  };
  template <class T>
  struct table_allocator {
    using value_type = T;
    table_allocator() = default;
    template <class U>
    table_allocator(const table_allocator<U>&) {}
    T* allocate(std::size_t n) { return static_cast<T*>(table_memory::allocate(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) { table_memory::deallocate(p, n * sizeof(T)); }
    // Value-initialising a slot (a vector of n slots) leaves the zeroed
    // memory as it is; copies are constructed as usual.
    template <class U>
    void construct(U*) {}
    template <class U, class A, class... Rest>
    void construct(U* p, A&& a, Rest&&... rest) {
      ::new (static_cast<void*>(p)) U(std::forward<A>(a), std::forward<Rest>(rest)...);
    }
    bool operator==(const table_allocator&) const = default;
  };

  std::vector<slot, table_allocator<slot>> _slots;
  std::size_t _size = 0;
  std::uint64_t _spam_messages = 0;
  std::uint64_t _ham_messages = 0;
  std::uint32_t _feature_flags = 0;
  unsigned _shift = 63;  // 64 - log2(capacity); set by allocate() before any use
};

}  // namespace filter
