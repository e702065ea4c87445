#include "filter/classifier/token_store.h"

#include <sys/mman.h>
#define XXH_DISPATCH_DISABLE_REPLACE 1
#include <xxh_x86dispatch.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>

#include "filter/classifier/wire_bytes.h"

namespace filter {

namespace {

constexpr char magic[8] = {'R', 'M', 'T', 'O', 'K', 'E', 'N', 'S'};
constexpr std::uint32_t format_version = 1;
constexpr std::uint32_t header_size = 48;
constexpr std::size_t record_size = 16;

using wire::get_at;
using wire::put;

std::uint32_t clamp_add(std::uint32_t count, int delta) {
  if (delta < 0) return count >= static_cast<std::uint32_t>(-delta) ? count + delta : 0;
  std::uint64_t sum = std::uint64_t{count} + static_cast<std::uint32_t>(delta);
  return sum > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(sum);
}

// XXH3-64 of the whole file through libxxhash's run-time dispatch: the
// same hash, computed with AVX2 where the CPU has it (plain XXH3_64bits is
// the library's SSE2 build: ~1 instruction a byte, 1.5 M for a 1.4 MB store
// loaded at every `spam score` start).
std::uint64_t checksum(const char* data, std::size_t size) { return XXH3_64bits_dispatch(data, size); }

}  // namespace

std::string_view store_errc_name(store_errc e) {
  switch (e) {
    case store_errc::truncated: return "truncated";
    case store_errc::bad_magic: return "not a token store (bad magic)";
    case store_errc::bad_version: return "unsupported token store version";
    case store_errc::bad_checksum: return "checksum mismatch";
    case store_errc::bad_size: return "inconsistent size";
  }
  return "?";
}

namespace {
constexpr std::size_t huge_page = std::size_t{2} << 20;
}

void* token_store::table_memory::allocate(std::size_t bytes) {
  if (bytes < huge_page) {
    // calloc: memory fresh from the kernel is not written again.
    void* p = std::calloc(1, bytes);
    if (!p) throw std::bad_alloc();
    return p;
  }
  // An anonymous mapping aligned to 2 MiB (over-map, trim the ends), with
  // the hint; where THP is off it is simply zeroed memory.
  std::size_t size = (bytes + huge_page - 1) & ~(huge_page - 1);
  void* raw = ::mmap(nullptr, size + huge_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  auto start = reinterpret_cast<std::uintptr_t>(raw);
  std::uintptr_t aligned = (start + huge_page - 1) & ~(huge_page - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  std::size_t tail = start + size + huge_page - (aligned + size);
  if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + size), tail);
  ::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

void token_store::table_memory::deallocate(void* p, std::size_t bytes) {
  if (bytes < huge_page) {
    std::free(p);
    return;
  }
  ::munmap(p, (bytes + huge_page - 1) & ~(huge_page - 1));
}

token_store::slot* token_store::find_or_insert(std::uint64_t key) {
  if (over_max_load(_size + 1, _slots.size())) grow();
  key = stored_key(key);
  std::size_t mask = _slots.size() - 1;
  for (std::size_t i = home(key);; i = (i + 1) & mask) {
    slot& s = _slots[i];
    if (s.key == key) return &s;
    if (s.key == 0) {
      s.key = key;
      ++_size;
      return &s;
    }
  }
}

void token_store::allocate(std::size_t capacity) {
  // Empty slots: the allocator's memory is zeroed (table_allocator).
  _slots = decltype(_slots)(capacity);
  _shift = 64 - static_cast<unsigned>(std::countr_zero(capacity));
}

void token_store::grow() {
  auto old = std::move(_slots);
  allocate(old.empty() ? 1024 : old.size() * 2);
  std::size_t mask = _slots.size() - 1;
  for (const slot& s : old) {
    if (s.key == 0) continue;
    std::size_t i = home(s.key);
    while (_slots[i].key != 0) i = (i + 1) & mask;
    _slots[i] = s;
  }
}

void token_store::train(std::span<const std::uint64_t> unique_hashes, bool spam, int delta) {
  std::uint64_t& messages = spam ? _spam_messages : _ham_messages;
  if (delta < 0 && messages < static_cast<std::uint64_t>(-delta)) {
    messages = 0;
  } else {
    messages += delta;
  }
  for (std::uint64_t h : unique_hashes) {
    slot* s = find_or_insert(h);
    std::uint32_t& c = spam ? s->counts.spam : s->counts.ham;
    c = clamp_add(c, delta);
  }
}

void token_store::merge(const token_store& other) {
  _spam_messages += other._spam_messages;
  _ham_messages += other._ham_messages;
  for (const slot& o : other._slots) {
    if (o.key == 0) continue;
    slot* s = find_or_insert(o.key);
    s->counts.spam = clamp_add(s->counts.spam, static_cast<int>(std::min<std::uint32_t>(o.counts.spam, INT32_MAX)));
    s->counts.ham = clamp_add(s->counts.ham, static_cast<int>(std::min<std::uint32_t>(o.counts.ham, INT32_MAX)));
  }
}

void token_store::serialize(std::string& out) const {
  std::size_t start = out.size();
  out.append(magic, sizeof magic);
  put<std::uint32_t>(out, format_version);
  put<std::uint32_t>(out, header_size);
  put<std::uint64_t>(out, _spam_messages);
  put<std::uint64_t>(out, _ham_messages);
  std::vector<const slot*> live;
  live.reserve(_size);
  for (const slot& s : _slots)
    if (s.key != 0 && (s.counts.spam != 0 || s.counts.ham != 0)) live.push_back(&s);
  std::sort(live.begin(), live.end(), [](const slot* a, const slot* b) { return a->key < b->key; });
  put<std::uint64_t>(out, live.size());
  put<std::uint32_t>(out, _feature_flags);
  put<std::uint32_t>(out, 0);
  out.reserve(out.size() + live.size() * record_size + 8);
  for (const slot* s : live) {
    put<std::uint64_t>(out, s->key);
    put<std::uint32_t>(out, s->counts.spam);
    put<std::uint32_t>(out, s->counts.ham);
  }
  put<std::uint64_t>(out, checksum(out.data() + start, out.size() - start));
}

kio::result<token_store, store_errc> token_store::parse(std::string_view in) {
  if (in.size() < 16) return kio::fail(store_errc::truncated);
  if (std::memcmp(in.data(), magic, sizeof magic) != 0) return kio::fail(store_errc::bad_magic);
  if (get_at<std::uint32_t>(in, 8) != format_version) return kio::fail(store_errc::bad_version);
  std::size_t hsize = get_at<std::uint32_t>(in, 12);
  if (hsize < header_size) return kio::fail(store_errc::bad_size);
  if (in.size() < hsize + 8) return kio::fail(store_errc::truncated);
  std::uint64_t count = get_at<std::uint64_t>(in, 32);
  if (count > (in.size() - hsize - 8) / record_size) return kio::fail(store_errc::truncated);
  std::size_t end = hsize + count * record_size;
  if (in.size() != end + 8) return kio::fail(store_errc::bad_size);
  if (checksum(in.data(), end) != get_at<std::uint64_t>(in, end)) return kio::fail(store_errc::bad_checksum);
  token_store store;
  store._spam_messages = get_at<std::uint64_t>(in, 16);
  store._ham_messages = get_at<std::uint64_t>(in, 24);
  store._feature_flags = get_at<std::uint32_t>(in, 40);
  std::size_t capacity = 1024;
  while (over_max_load(count + 1, capacity)) capacity *= 2;
  store.allocate(capacity);
  std::size_t mask = capacity - 1;
  // serialize() writes the records sorted by key, and a key's home slot is
  // its top bits, so each record's slot is max(its home, the previous
  // record's slot + 1): no probing, the table filled front to back. That
  // holds while keys strictly increase and no run reaches the table's end;
  // from the first record that breaks it (a run wrapping around, or a file
  // not written by serialize()) the general insertion below takes over, on
  // a table in exactly the state it would have built itself.
  std::size_t r = 0;
  std::size_t next_free = 0;
  std::uint64_t previous = 0;
  for (; r < count; ++r) {
    std::size_t at = hsize + r * record_size;
    std::uint64_t key = stored_key(get_at<std::uint64_t>(in, at));
    std::size_t i = std::max(store.home(key), next_free);
    if (key <= previous || i > mask) break;
    store._slots[i].key = key;
    store._slots[i].counts = {get_at<std::uint32_t>(in, at + 8), get_at<std::uint32_t>(in, at + 12)};
    next_free = i + 1;
    previous = key;
  }
  store._size = r;
  for (; r < count; ++r) {
    std::size_t at = hsize + r * record_size;
    std::uint64_t key = stored_key(get_at<std::uint64_t>(in, at));
    std::size_t i = store.home(key);
    while (store._slots[i].key != 0 && store._slots[i].key != key) i = (i + 1) & mask;
    if (store._slots[i].key == 0) ++store._size;
    store._slots[i].key = key;
    store._slots[i].counts = {get_at<std::uint32_t>(in, at + 8), get_at<std::uint32_t>(in, at + 12)};
  }
  return store;
}

}  // namespace filter
