#include "filter/classifier/training_state.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "filter/classifier/wire_bytes.h"

namespace filter {

namespace {

constexpr char delta_magic[8] = {'R', 'M', 'F', 'D', 'E', 'L', 'T', 'A'};
constexpr char snapshot_magic[8] = {'R', 'M', 'F', 'S', 'N', 'A', 'P', 'S'};
constexpr std::uint32_t format_version = 1;
constexpr std::uint32_t delta_header_size = 24;
constexpr std::uint32_t snapshot_header_size = 40;
constexpr std::size_t op_header_size = 16;
constexpr std::size_t ledger_entry_size = 16;

using wire::get_at;
using wire::put;

bool valid_class(std::uint8_t c) { return c <= 2; }

// Checks magic, version, header size and the trailing checksum; returns the
// header size (the body starts there and ends 8 bytes before the end).
kio::result<std::size_t, store_errc> check_frame(std::string_view in, const char (&magic)[8],
                                                 std::uint32_t header_min) {
  if (in.size() < 16) return kio::fail(store_errc::truncated);
  if (std::memcmp(in.data(), magic, 8) != 0) return kio::fail(store_errc::bad_magic);
  if (get_at<std::uint32_t>(in, 8) != format_version) return kio::fail(store_errc::bad_version);
  std::size_t hsize = get_at<std::uint32_t>(in, 12);
  if (hsize < header_min) return kio::fail(store_errc::bad_size);
  if (in.size() < hsize + 8) return kio::fail(store_errc::truncated);
  std::size_t end = in.size() - 8;
  if (XXH3_64bits(in.data(), end) != get_at<std::uint64_t>(in, end)) return kio::fail(store_errc::bad_checksum);
  return hsize;
}

}  // namespace

std::optional<training_op> training_state::plan(std::uint64_t message_id, bool spam) const {
  trained_as want = spam ? trained_as::spam : trained_as::ham;
  trained_as was = ledger_of(message_id);
  if (was == want) return std::nullopt;
  training_op op;
  op.message_id = message_id;
  op.untrain = was;
  op.train = want;
  return op;
}

void training_state::apply(const training_op& op) {
  if (op.untrain != trained_as::none) tokens.train(op.tokens, op.untrain == trained_as::spam, -1);
  if (op.train != trained_as::none) tokens.train(op.tokens, op.train == trained_as::spam, 1);
  if (op.train == trained_as::none) {
    _ledger.erase(op.message_id);
  } else {
    _ledger[op.message_id] = op.train;
  }
}

trained_as training_state::ledger_of(std::uint64_t message_id) const {
  auto it = _ledger.find(message_id);
  return it == _ledger.end() ? trained_as::none : it->second;
}

void training_state::encode_snapshot(std::uint64_t applied_through, std::string& out) const {
  std::size_t start = out.size();
  out.append(snapshot_magic, 8);
  put<std::uint32_t>(out, format_version);
  put<std::uint32_t>(out, snapshot_header_size);
  put<std::uint64_t>(out, applied_through);
  put<std::uint64_t>(out, _ledger.size());
  put<std::uint64_t>(out, 0);
  std::vector<std::pair<std::uint64_t, trained_as>> entries(_ledger.begin(), _ledger.end());
  std::sort(entries.begin(), entries.end());
  out.reserve(out.size() + entries.size() * ledger_entry_size + tokens.token_count() * 16 + 64);
  for (const auto& [id, cls] : entries) {
    put<std::uint64_t>(out, id);
    put<std::uint8_t>(out, static_cast<std::uint8_t>(cls));
    out.append(7, '\0');
  }
  tokens.serialize(out);
  put<std::uint64_t>(out, XXH3_64bits(out.data() + start, out.size() - start));
}

kio::result<training_state::snapshot, store_errc> training_state::decode_snapshot(std::string_view in) {
  auto hsize = check_frame(in, snapshot_magic, snapshot_header_size);
  if (!hsize) return kio::fail(hsize.error());
  std::string_view body = in.substr(0, in.size() - 8);
  snapshot out;
  out.applied_through = get_at<std::uint64_t>(body, 16);
  std::uint64_t ledger_count = get_at<std::uint64_t>(body, 24);
  if (ledger_count > (body.size() - *hsize) / ledger_entry_size) return kio::fail(store_errc::truncated);
  std::size_t at = *hsize;
  out.state._ledger.reserve(ledger_count);
  for (std::uint64_t i = 0; i < ledger_count; ++i, at += ledger_entry_size) {
    std::uint8_t cls = get_at<std::uint8_t>(body, at + 8);
    if (!valid_class(cls) || cls == 0) return kio::fail(store_errc::bad_size);
    out.state._ledger[get_at<std::uint64_t>(body, at)] = static_cast<trained_as>(cls);
  }
  auto tokens = token_store::parse(body.substr(at));
  if (!tokens) return kio::fail(tokens.error());
  out.state.tokens = std::move(*tokens);
  return out;
}

void encode_delta(std::span<const training_op> ops, std::string& out) {
  std::size_t start = out.size();
  out.append(delta_magic, 8);
  put<std::uint32_t>(out, format_version);
  put<std::uint32_t>(out, delta_header_size);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(ops.size()));
  put<std::uint32_t>(out, 0);
  for (const auto& op : ops) {
    put<std::uint64_t>(out, op.message_id);
    put<std::uint8_t>(out, static_cast<std::uint8_t>(op.untrain));
    put<std::uint8_t>(out, static_cast<std::uint8_t>(op.train));
    put<std::uint16_t>(out, 0);
    put<std::uint32_t>(out, static_cast<std::uint32_t>(op.tokens.size()));
    for (std::uint64_t t : op.tokens) put<std::uint64_t>(out, t);
  }
  put<std::uint64_t>(out, XXH3_64bits(out.data() + start, out.size() - start));
}

kio::result<std::vector<training_op>, store_errc> decode_delta(std::string_view in) {
  auto hsize = check_frame(in, delta_magic, delta_header_size);
  if (!hsize) return kio::fail(hsize.error());
  std::string_view body = in.substr(0, in.size() - 8);
  std::uint32_t count = get_at<std::uint32_t>(body, 16);
  std::size_t at = *hsize;
  if (count > (body.size() - at) / op_header_size) return kio::fail(store_errc::truncated);
  std::vector<training_op> ops;
  ops.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (body.size() - at < op_header_size) return kio::fail(store_errc::truncated);
    training_op op;
    op.message_id = get_at<std::uint64_t>(body, at);
    std::uint8_t untrain = get_at<std::uint8_t>(body, at + 8), train = get_at<std::uint8_t>(body, at + 9);
    if (!valid_class(untrain) || !valid_class(train)) return kio::fail(store_errc::bad_size);
    op.untrain = static_cast<trained_as>(untrain);
    op.train = static_cast<trained_as>(train);
    std::uint32_t n = get_at<std::uint32_t>(body, at + 12);
    at += op_header_size;
    if (n > (body.size() - at) / 8) return kio::fail(store_errc::truncated);
    op.tokens.resize(n);
    if (n != 0) std::memcpy(op.tokens.data(), body.data() + at, std::size_t{n} * 8);
    at += std::size_t{n} * 8;
    ops.push_back(std::move(op));
  }
  if (at != body.size()) return kio::fail(store_errc::bad_size);
  return ops;
}

std::optional<training_blob> training_blob_kind(std::string_view bytes) {
  if (bytes.size() < 8) return std::nullopt;
  if (std::memcmp(bytes.data(), delta_magic, 8) == 0) return training_blob::delta;
  if (std::memcmp(bytes.data(), snapshot_magic, 8) == 0) return training_blob::snapshot;
  return std::nullopt;
}

}  // namespace filter
