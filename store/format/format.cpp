#include "store/format/format.h"

// Stack-allocated hash states need the static-linking-only declarations.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <cstdio>
#include <cstring>

#include "kernel_io/base/assert.h"
#include "store/format/codec.h"

namespace store {

std::string blob_key::to_hex() const {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%016llx%016llx-%u-%u", static_cast<unsigned long long>(high),
                static_cast<unsigned long long>(low), core, generation);
  return buf;
}

namespace format {

std::string encode_segment_header(const segment_header& h) {
  std::string out(segment_header_size, '\0');
  std::memcpy(out.data(), segment_magic.data(), segment_magic.size());
  store_u16(out.data() + 8, h.version);
  store_u16(out.data() + 10, segment_header_size);
  store_u32(out.data() + 16, h.core.get());
  store_u64(out.data() + 24, h.seq.get());
  store_u64(out.data() + 32, h.created_ms);
  store_u64(out.data() + 40, h.checksum_seed);
  const auto sum = static_cast<std::uint32_t>(XXH3_64bits(out.data(), out.size()));
  store_u32(out.data() + 12, sum);
  return out;
}

header_decode decode_segment_header(std::string_view bytes) {
  header_decode r;
  if (bytes.size() < 16) return r;
  if (std::memcmp(bytes.data(), segment_magic.data(), segment_magic.size()) != 0) {
    r.error = header_error::bad_magic;
    return r;
  }
  segment_header h;
  h.version = load_u16(bytes.data() + 8);
  h.header_size = load_u16(bytes.data() + 10);
  if (h.version > segment_version) {
    r.error = header_error::newer_version;
    return r;
  }
  if (h.header_size < segment_header_size) {
    r.error = header_error::bad_size;
    return r;
  }
  if (bytes.size() < h.header_size) return r;
  std::string copy(bytes.substr(0, h.header_size));
  const std::uint32_t stored = load_u32(copy.data() + 12);
  store_u32(copy.data() + 12, 0);
  if (static_cast<std::uint32_t>(XXH3_64bits(copy.data(), copy.size())) != stored) {
    r.error = header_error::bad_checksum;
    return r;
  }
  h.core = core_id{load_u32(copy.data() + 16)};
  h.seq = segment_seq{load_u64(copy.data() + 24)};
  h.created_ms = load_u64(copy.data() + 32);
  h.checksum_seed = load_u64(copy.data() + 40);
  r.header = h;
  return r;
}

namespace {
void write_header_fields(char* p, const record_header& h) {
  store_u32(p, record_magic);
  store_u32(p + 4, h.payload_size);
  store_u16(p + 8, static_cast<std::uint16_t>(h.type));
  store_u16(p + 10, h.flags);
  store_u32(p + 12, h.transaction_index);
  store_u64(p + 16, h.time_ms);
}

std::uint64_t record_checksum(const char* header24, std::string_view payload, std::uint64_t seed) {
  // A state on the stack must be initialised before reset_withSeed: that
  // call skips deriving the secret from the seed when the state's `seed`
  // field already equals it, so leftover stack bytes from an earlier call
  // with the same seed, whose secret area something else has overwritten
  // since, gave a wrong checksum now and then (xxhash.h: XXH3_INITSTATE).
  // That was the daemon's "seal_record self-check" abort under compaction.
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_64bits_reset_withSeed(&state, seed);
  XXH3_64bits_update(&state, header24, 24);
  XXH3_64bits_update(&state, payload.data(), payload.size());
  return XXH3_64bits_digest(&state);
}
}  // namespace

std::size_t frame_record(std::string& out, const record_header& h, std::string_view payload, std::uint64_t seed) {
  const std::size_t at = begin_record(out);
  out.append(payload);
  seal_record(out, at, h, seed);
  return at + record_header_size;
}

std::size_t begin_record(std::string& out) {
  const std::size_t at = out.size();
  out.append(record_header_size, '\0');
  return at;
}

void seal_record(std::string& out, std::size_t at, const record_header& h, std::uint64_t seed) {
  RM_ASSERT(out.size() >= at + record_header_size);
  RM_ASSERT(out.size() - at - record_header_size == h.payload_size);
  RM_ASSERT(h.payload_size <= record_payload_max);
  RM_ASSERT(h.type != record_type::invalid);
  char* p = out.data() + at;
  write_header_fields(p, h);
  const std::string_view payload(out.data() + at + record_header_size, h.payload_size);
  store_u64(p + 24, record_checksum(p, payload, seed));
  // Paired check: what we framed must read back as a valid record.
  RM_ASSERT(check_record(std::string_view(out).substr(at), seed).status == frame_status::ok);
}

frame_view check_record(std::string_view bytes, std::uint64_t seed) {
  frame_view v;
  if (bytes.size() < record_header_size) {
    // A short run of zeroes at the end of a file is unwritten space too.
    bool all_zero = !bytes.empty();
    for (char c : bytes) all_zero = all_zero && c == 0;
    v.status = all_zero ? frame_status::zeroes : frame_status::need_more;
    return v;
  }
  const char* p = bytes.data();
  bool all_zero = true;
  for (std::size_t i = 0; i < record_header_size; ++i) all_zero = all_zero && p[i] == 0;
  if (all_zero) {
    v.status = frame_status::zeroes;
    return v;
  }
  if (load_u32(p) != record_magic) {
    v.status = frame_status::bad_magic;
    return v;
  }
  v.header.payload_size = load_u32(p + 4);
  v.header.type = static_cast<record_type>(load_u16(p + 8));
  v.header.flags = load_u16(p + 10);
  v.header.transaction_index = load_u32(p + 12);
  v.header.time_ms = load_u64(p + 16);
  if (v.header.payload_size > record_payload_max || v.header.type == record_type::invalid) {
    v.status = frame_status::bad_size;
    return v;
  }
  if (bytes.size() - record_header_size < v.header.payload_size) {
    v.status = frame_status::need_more;
    return v;
  }
  v.payload = bytes.substr(record_header_size, v.header.payload_size);
  if (record_checksum(p, v.payload, seed) != load_u64(p + 24)) {
    v.status = frame_status::bad_checksum;
    v.payload = {};
    return v;
  }
  v.status = frame_status::ok;
  return v;
}

// ---- payloads -------------------------------------------------------------
namespace {
void put_key(byte_writer& w, const blob_key& k) {
  w.u64(k.high);
  w.u64(k.low);
  w.u32(k.core);
  w.u32(k.generation);
}
bool get_key(byte_reader& r, blob_key& k) {
  return r.u64(k.high) && r.u64(k.low) && r.u32(k.core) && r.u32(k.generation);
}

void put_keywords(byte_writer& w, const std::vector<std::string>& kws) {
  w.u16(static_cast<std::uint16_t>(kws.size()));
  for (const auto& k : kws) w.str(k);
}
bool get_keywords(byte_reader& r, std::vector<std::string>& kws) {
  std::uint16_t n = 0;
  if (!r.u16(n) || n > keywords_per_message_max) return false;
  kws.resize(n);
  for (auto& k : kws)
    if (!r.str(k, keyword_max)) return false;
  return true;
}
void put_uids(byte_writer& w, const std::vector<std::uint32_t>& uids) {
  w.u32(static_cast<std::uint32_t>(uids.size()));
  for (auto u : uids) w.u32(u);
}
bool get_uids(byte_reader& r, std::vector<std::uint32_t>& uids) {
  std::uint32_t n = 0;
  if (!r.u32(n) || n > uids_per_record_max || n > r.remaining() / 4) return false;
  uids.resize(n);
  for (auto& u : uids)
    if (!r.u32(u)) return false;
  return true;
}
template <class Tag>
void put_id(byte_writer& w, kio::named_type<std::uint64_t, Tag> id) { w.u64(id.get()); }
template <class Tag>
void put_id(byte_writer& w, kio::named_type<std::uint32_t, Tag> id) { w.u32(id.get()); }
template <class Tag>
bool get_id(byte_reader& r, kio::named_type<std::uint64_t, Tag>& id) {
  std::uint64_t v = 0;
  if (!r.u64(v)) return false;
  id = kio::named_type<std::uint64_t, Tag>{v};
  return true;
}
template <class Tag>
bool get_id(byte_reader& r, kio::named_type<std::uint32_t, Tag>& id) {
  std::uint32_t v = 0;
  if (!r.u32(v)) return false;
  id = kio::named_type<std::uint32_t, Tag>{v};
  return true;
}

struct encoder {
  byte_writer& w;
  void operator()(const blob_commit_record& r) {
    put_key(w, r.key);
    w.u64(r.size);
    w.u32(static_cast<std::uint32_t>(r.extents.size()));
    for (const auto& e : r.extents) {
      put_id(w, e.segment);
      w.u64(e.offset);
      w.u32(e.length);
    }
  }
  void operator()(const account_create_record& r) {
    put_id(w, r.account);
    w.str(r.name);
    w.u64(r.quota_bytes);
    w.u64(r.quota_messages);
  }
  void operator()(const account_quota_record& r) {
    put_id(w, r.account);
    w.u64(r.quota_bytes);
    w.u64(r.quota_messages);
  }
  void operator()(const folder_create_record& r) {
    put_id(w, r.account);
    put_id(w, r.mailbox);
    w.str(r.name);
    w.u32(r.uid_validity);
    w.u8(static_cast<std::uint8_t>(r.use));
  }
  void operator()(const folder_rename_record& r) {
    put_id(w, r.account);
    put_id(w, r.mailbox);
    w.str(r.name);
  }
  void operator()(const folder_delete_record& r) {
    put_id(w, r.account);
    put_id(w, r.mailbox);
  }
  void operator()(const folder_subscribe_record& r) {
    put_id(w, r.account);
    put_id(w, r.mailbox);
    w.u8(r.subscribed ? 1 : 0);
  }
  void operator()(const delivery_record& r) {
    put_id(w, r.account);
    put_id(w, r.mailbox);
    w.u32(r.uid);
    w.u64(r.modseq);
    put_key(w, r.key);
    w.u64(r.blob_size);
    w.i64(r.internal_date_ms);
    w.u32(r.flags);
    put_keywords(w, r.keywords);
    w.str(r.header_prefix);
  }
  void operator()(const flags_change_record& r) {
    put_id(w, r.account);
    put_id(w, r.mailbox);
    w.u64(r.modseq);
    w.u8(static_cast<std::uint8_t>(r.op));
    w.u32(r.flags);
    put_keywords(w, r.keywords);
    put_uids(w, r.uids);
  }
  void operator()(const expunge_record& r) {
    put_id(w, r.account);
    put_id(w, r.mailbox);
    w.u64(r.modseq);
    put_uids(w, r.uids);
  }
  void operator()(const move_record& r) {
    put_id(w, r.account);
    put_id(w, r.source);
    put_id(w, r.target);
    w.u64(r.source_modseq);
    w.u64(r.target_modseq);
    w.u32(static_cast<std::uint32_t>(r.uids.size()));
    for (auto [s, t] : r.uids) {
      w.u32(s);
      w.u32(t);
    }
  }
};

template <class R>
std::optional<record_payload> some(R&& r) {
  return record_payload{std::forward<R>(r)};
}
}  // namespace

record_type type_of(const record_payload& p) {
  static constexpr record_type types[] = {
      record_type::blob_commit,   record_type::account_create,   record_type::account_quota,
      record_type::folder_create, record_type::folder_rename,    record_type::folder_delete,
      record_type::folder_subscribe, record_type::delivery,      record_type::flags_change,
      record_type::expunge,       record_type::move};
  return types[p.index()];
}

std::string encode_payload(const record_payload& p) {
  std::string out;
  byte_writer w(out);
  std::visit(encoder{w}, p);
  return out;
}

std::optional<record_payload> decode_payload(record_type type, std::string_view payload) {
  byte_reader r(payload);
  switch (type) {
    case record_type::blob_commit: {
      blob_commit_record v;
      std::uint32_t n = 0;
      if (!get_key(r, v.key) || !r.u64(v.size) || !r.u32(n) || n > r.remaining() / 20)
        return std::nullopt;
      v.extents.resize(n);
      std::uint64_t total = 0;
      for (auto& e : v.extents) {
        if (!get_id(r, e.segment) || !r.u64(e.offset) || !r.u32(e.length)) return std::nullopt;
        total += e.length;
      }
      if (total != v.size) return std::nullopt;
      return some(std::move(v));
    }
    case record_type::account_create: {
      account_create_record v;
      if (!get_id(r, v.account) || !r.str(v.name, name_max) || !r.u64(v.quota_bytes) || !r.u64(v.quota_messages))
        return std::nullopt;
      return some(std::move(v));
    }
    case record_type::account_quota: {
      account_quota_record v;
      if (!get_id(r, v.account) || !r.u64(v.quota_bytes) || !r.u64(v.quota_messages)) return std::nullopt;
      return some(v);
    }
    case record_type::folder_create: {
      folder_create_record v;
      std::uint8_t use = 0;
      if (!get_id(r, v.account) || !get_id(r, v.mailbox) || !r.str(v.name, name_max) || !r.u32(v.uid_validity) ||
          !r.u8(use))
        return std::nullopt;
      v.use = use <= 6 ? static_cast<special_use>(use) : special_use::none;
      return some(std::move(v));
    }
    case record_type::folder_rename: {
      folder_rename_record v;
      if (!get_id(r, v.account) || !get_id(r, v.mailbox) || !r.str(v.name, name_max)) return std::nullopt;
      return some(std::move(v));
    }
    case record_type::folder_delete: {
      folder_delete_record v;
      if (!get_id(r, v.account) || !get_id(r, v.mailbox)) return std::nullopt;
      return some(v);
    }
    case record_type::folder_subscribe: {
      folder_subscribe_record v;
      std::uint8_t s = 0;
      if (!get_id(r, v.account) || !get_id(r, v.mailbox) || !r.u8(s)) return std::nullopt;
      v.subscribed = s != 0;
      return some(v);
    }
    case record_type::delivery: {
      delivery_record v;
      if (!get_id(r, v.account) || !get_id(r, v.mailbox) || !r.u32(v.uid) || !r.u64(v.modseq) ||
          !get_key(r, v.key) || !r.u64(v.blob_size) || !r.i64(v.internal_date_ms) || !r.u32(v.flags) ||
          !get_keywords(r, v.keywords) || !r.str(v.header_prefix, header_prefix_max))
        return std::nullopt;
      return some(std::move(v));
    }
    case record_type::flags_change: {
      flags_change_record v;
      std::uint8_t op = 0;
      if (!get_id(r, v.account) || !get_id(r, v.mailbox) || !r.u64(v.modseq) || !r.u8(op) || op > 2 ||
          !r.u32(v.flags) || !get_keywords(r, v.keywords) || !get_uids(r, v.uids))
        return std::nullopt;
      v.op = static_cast<flags_op>(op);
      return some(std::move(v));
    }
    case record_type::expunge: {
      expunge_record v;
      if (!get_id(r, v.account) || !get_id(r, v.mailbox) || !r.u64(v.modseq) || !get_uids(r, v.uids))
        return std::nullopt;
      return some(std::move(v));
    }
    case record_type::move: {
      move_record v;
      std::uint32_t n = 0;
      if (!get_id(r, v.account) || !get_id(r, v.source) || !get_id(r, v.target) || !r.u64(v.source_modseq) ||
          !r.u64(v.target_modseq) || !r.u32(n) || n > uids_per_record_max || n > r.remaining() / 8)
        return std::nullopt;
      v.uids.resize(n);
      for (auto& [s, t] : v.uids)
        if (!r.u32(s) || !r.u32(t)) return std::nullopt;
      return some(std::move(v));
    }
    default:
      return std::nullopt;
  }
}

}  // namespace format
}  // namespace store
