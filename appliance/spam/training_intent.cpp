#include "appliance/spam/training_intent.h"

#include <xxhash.h>

#include <cstring>

#include "filter/classifier/wire_bytes.h"

namespace appliance {

namespace {

constexpr char intent_magic[8] = {'R', 'M', 'F', 'I', 'N', 'T', 'N', 'T'};
constexpr std::uint32_t format_version = 1;
constexpr std::uint32_t header_size = 40;

using filter::wire::get_at;
using filter::wire::put;

}  // namespace

std::string_view intent_errc_name(intent_errc e) {
  switch (e) {
    case intent_errc::truncated: return "truncated";
    case intent_errc::bad_magic: return "bad magic";
    case intent_errc::bad_version: return "unknown version";
    case intent_errc::bad_checksum: return "bad checksum";
    case intent_errc::bad_size: return "bad size";
    case intent_errc::bad_field: return "bad field";
  }
  return "unknown";
}

bool is_training_intent(std::string_view bytes) {
  return bytes.size() >= sizeof intent_magic && std::memcmp(bytes.data(), intent_magic, sizeof intent_magic) == 0;
}

void encode_training_intent(const training_intent& intent, std::string& out) {
  std::size_t start = out.size();
  out.reserve(start + header_size + intent.blobs.size() * training_intent_item_bytes + 8);
  out.append(intent_magic, sizeof intent_magic);
  put<std::uint32_t>(out, format_version);
  put<std::uint32_t>(out, header_size);
  put<std::uint64_t>(out, intent.account);
  put<std::uint64_t>(out, intent.sequence);
  put<std::uint8_t>(out, intent.spam ? 1 : 2);
  out.append(3, '\0');
  put<std::uint32_t>(out, static_cast<std::uint32_t>(intent.blobs.size()));
  for (const auto& k : intent.blobs) {
    put<std::uint64_t>(out, k.high);
    put<std::uint64_t>(out, k.low);
    put<std::uint32_t>(out, k.core);
    put<std::uint32_t>(out, k.generation);
  }
  put<std::uint64_t>(out, XXH3_64bits(out.data() + start, out.size() - start));
}

kio::result<training_intent, intent_errc> decode_training_intent(std::string_view in) {
  if (in.size() < 16) return kio::fail(intent_errc::truncated);
  if (!is_training_intent(in)) return kio::fail(intent_errc::bad_magic);
  if (get_at<std::uint32_t>(in, 8) != format_version) return kio::fail(intent_errc::bad_version);
  std::size_t hsize = get_at<std::uint32_t>(in, 12);
  if (hsize < header_size) return kio::fail(intent_errc::bad_size);
  if (in.size() < hsize + 8) return kio::fail(intent_errc::truncated);
  std::size_t end = in.size() - 8;
  if (XXH3_64bits(in.data(), end) != get_at<std::uint64_t>(in, end)) return kio::fail(intent_errc::bad_checksum);
  training_intent out;
  out.account = get_at<std::uint64_t>(in, 16);
  out.sequence = get_at<std::uint64_t>(in, 24);
  std::uint8_t verdict = get_at<std::uint8_t>(in, 32);
  if (verdict != 1 && verdict != 2) return kio::fail(intent_errc::bad_field);
  if (in[33] != 0 || in[34] != 0 || in[35] != 0) return kio::fail(intent_errc::bad_field);
  out.spam = verdict == 1;
  std::uint64_t count = get_at<std::uint32_t>(in, 36);
  // The body must hold exactly `count` items: checked before allocating.
  if ((end - hsize) != count * training_intent_item_bytes) return kio::fail(intent_errc::bad_size);
  out.blobs.resize(count);
  std::size_t at = hsize;
  for (auto& k : out.blobs) {
    k.high = get_at<std::uint64_t>(in, at);
    k.low = get_at<std::uint64_t>(in, at + 8);
    k.core = get_at<std::uint32_t>(in, at + 16);
    k.generation = get_at<std::uint32_t>(in, at + 20);
    at += training_intent_item_bytes;
  }
  return out;
}

}  // namespace appliance
