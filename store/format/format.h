#pragma once
// The on-disk format of the store: segment file header, record framing and
// the payload of every record type. Pure: encode to bytes, decode from bytes,
// no I/O. Every field below is commented with its meaning and its
// compatibility rule; store/README.md repeats the layout as a table.
//
// Compatibility rules, in one place:
//  - segment_header.version changes only when the *framing* changes (record
//    header layout, checksum function). A reader refuses a segment whose
//    version is newer than it knows, with a clear error.
//  - segment_header.header_size lets a later version add header fields:
//    readers skip to header_size and ignore what they do not know.
//  - New record *types* do not bump the version: a reader skips a record of
//    an unknown type (its frame and checksum are still verified).
//  - A payload may grow at its end: decoders read the fields they know and
//    ignore trailing bytes, so a new field is appended, never inserted.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "kernel_io/base/strong_type.h"

namespace store {

struct account_id_tag {};
struct mailbox_id_tag {};
struct segment_seq_tag {};
struct core_id_tag {};
using account_id = kio::named_type<std::uint64_t, account_id_tag>;
using mailbox_id = kio::named_type<std::uint32_t, mailbox_id_tag>;
using segment_seq = kio::named_type<std::uint64_t, segment_seq_tag>;
using core_id = kio::named_type<std::uint32_t, core_id_tag>;

// A blob's identity: XXH3-128 of its bytes, the core that wrote it, and a
// collision generation. Two different contents with the same hash get
// generations 0, 1, ... so a hash collision can never alias two users' mail
// (bytes are compared before a blob is shared). The core is part of the key
// because each core assigns generations for its own blobs without asking the
// others: dedup is per core (the 50-recipient case is always one core).
struct blob_key {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  std::uint32_t core = 0;
  std::uint32_t generation = 0;
  constexpr auto operator<=>(const blob_key&) const = default;
  std::string to_hex() const;
};
struct blob_key_hash {
  std::size_t operator()(const blob_key& k) const noexcept { return k.low ^ (k.high * 31) ^ k.generation; }
};

// IMAP system flags as a bitmask (\Recent is per-session, never stored).
namespace message_flag {
inline constexpr std::uint32_t seen = 1u << 0;
inline constexpr std::uint32_t answered = 1u << 1;
inline constexpr std::uint32_t flagged = 1u << 2;
inline constexpr std::uint32_t deleted = 1u << 3;
inline constexpr std::uint32_t draft = 1u << 4;
inline constexpr std::uint32_t all = (1u << 5) - 1;
}  // namespace message_flag

// RFC 6154 special-use, plus inbox. Stored as u8; unknown values read as none.
enum class special_use : std::uint8_t { none = 0, inbox = 1, sent = 2, drafts = 3, trash = 4, junk = 5, archive = 6 };

namespace format {

// ---- segment file header --------------------------------------------------
inline constexpr std::array<char, 8> segment_magic = {'R', 'I', 'N', 'G', 'S', 'E', 'G', '\0'};
inline constexpr std::uint16_t segment_version = 1;
inline constexpr std::uint16_t segment_header_size = 64;

struct segment_header {
  // offset 0,  u8[8]: magic "RINGSEG\0".
  // offset 8,  u16: framing version (see the rules above).
  std::uint16_t version = segment_version;
  // offset 10, u16: size of this header in bytes; records start here.
  std::uint16_t header_size = segment_header_size;
  // offset 12, u32: low 32 bits of XXH3-64 over [0, header_size) with this
  //            field zeroed. A bad header makes the whole segment unreadable
  //            and is reported, never guessed at.
  // offset 16, u32: the core that writes this segment (one writer per file).
  core_id core{};
  // offset 20, u32: reserved, written 0, ignored.
  // offset 24, u64: segment sequence, increasing per core; replay order.
  segment_seq seq{};
  // offset 32, u64: creation time, ms since the Unix epoch (diagnostics).
  std::uint64_t created_ms = 0;
  // offset 40, u64: seed of every record checksum in this segment, random per
  //            segment. Message bytes are attacker-controlled; a seed they
  //            cannot know stops a message that contains a forged record from
  //            validating when recovery resynchronises after corruption.
  std::uint64_t checksum_seed = 0;
  // offset 48..63: reserved, written 0, ignored.
};

std::string encode_segment_header(const segment_header& h);
enum class header_error { too_short, bad_magic, newer_version, bad_size, bad_checksum };
struct header_decode {
  std::optional<segment_header> header;
  header_error error = header_error::too_short;
};
header_decode decode_segment_header(std::string_view bytes);

// ---- record framing -------------------------------------------------------
inline constexpr std::uint32_t record_magic = 0x31524d52;  // "RMR1" little-endian
inline constexpr std::size_t record_header_size = 32;
// A payload larger than this is corruption, not a record (blobs are chunked).
inline constexpr std::uint32_t record_payload_max = 16u << 20;

enum class record_type : std::uint16_t {
  invalid = 0,         // never written; a zero header is unwritten space
  blob_chunk = 1,      // payload: raw message bytes, nothing else
  blob_commit = 2,     // a blob is complete: key, size, its chunk extents
  account_create = 3,
  account_quota = 4,
  folder_create = 5,
  folder_rename = 6,
  folder_delete = 7,
  folder_subscribe = 8,
  delivery = 9,
  flags_change = 10,
  expunge = 11,
  move = 12,
  // 13..63 reserved for the store; 64..127 for the outbound queue (issue 8).
};

namespace record_flag {
// This record is not the last of its transaction: a reader applies the
// records of a transaction only when it reaches the one without this flag, so
// a torn transaction is invisible as a whole (the "commit record" of the
// conventions, folded into the last record's header).
inline constexpr std::uint16_t continues = 1u << 0;
}  // namespace record_flag

struct record_header {
  // offset 0,  u32: record_magic; lets recovery find the next record after a
  //            corrupt one.
  // offset 4,  u32: payload size in bytes (<= record_payload_max).
  std::uint32_t payload_size = 0;
  // offset 8,  u16: record_type; unknown types are skipped by readers.
  record_type type = record_type::invalid;
  // offset 10, u16: record_flag bits; unknown bits are ignored.
  std::uint16_t flags = 0;
  // offset 12, u32: index of this record within its transaction (0 for the
  //            first). After a corrupt range, recovery drops records until
  //            one with index 0, so the rest of a cut transaction is never
  //            applied as if it were whole.
  std::uint32_t transaction_index = 0;
  // offset 16, u64: wall-clock time of the append, ms since the epoch; used
  //            for point-in-time restore.
  std::uint64_t time_ms = 0;
  // offset 24, u64: XXH3-64 seeded with segment_header.checksum_seed over
  //            bytes [0, 24) of this header followed by the payload.
};

// Writes header+payload framing into `out` (appends). Returns the offset in
// `out` where the payload begins.
std::size_t frame_record(std::string& out, const record_header& h, std::string_view payload, std::uint64_t seed);
// Starts a record whose payload is appended later (streamed blob chunks):
// reserves the header, then seal_record() fills it once the payload is there.
std::size_t begin_record(std::string& out);
void seal_record(std::string& out, std::size_t record_offset, const record_header& h, std::uint64_t seed);

enum class frame_status {
  ok,
  need_more,    // fewer bytes than the header or header+payload claims
  zeroes,       // an all-zero header: unwritten (or preallocated) space
  bad_magic,
  bad_size,
  bad_checksum,
};
struct frame_view {
  frame_status status = frame_status::need_more;
  record_header header;
  std::string_view payload;  // valid when status == ok
};
// Checks one record at the start of `bytes`.
frame_view check_record(std::string_view bytes, std::uint64_t seed);

// ---- payloads -------------------------------------------------------------
struct blob_extent {
  segment_seq segment{};        // which segment of the writing core
  std::uint64_t offset = 0;     // file offset of the chunk's payload
  std::uint32_t length = 0;     // payload bytes
  constexpr bool operator==(const blob_extent&) const = default;
};

struct blob_commit_record {
  blob_key key;
  std::uint64_t size = 0;       // sum of extent lengths
  // The extents live in segments of core key.core.
  std::vector<blob_extent> extents;
};

struct account_create_record {
  account_id account{};
  std::string name;             // the e-mail address; <= name_max
  std::uint64_t quota_bytes = 0;     // 0 = unlimited
  std::uint64_t quota_messages = 0;  // 0 = unlimited
};
struct account_quota_record {
  account_id account{};
  std::uint64_t quota_bytes = 0;
  std::uint64_t quota_messages = 0;
};
struct folder_create_record {
  account_id account{};
  mailbox_id mailbox{};
  std::string name;
  std::uint32_t uid_validity = 0;
  special_use use = special_use::none;
};
struct folder_rename_record {
  account_id account{};
  mailbox_id mailbox{};
  std::string name;
};
struct folder_delete_record {
  account_id account{};
  mailbox_id mailbox{};
};
struct folder_subscribe_record {
  account_id account{};
  mailbox_id mailbox{};
  bool subscribed = true;
};
struct delivery_record {
  account_id account{};
  mailbox_id mailbox{};
  std::uint32_t uid = 0;            // assigned by the owner core before append
  std::uint64_t modseq = 0;         // the mailbox modseq this delivery creates
  blob_key key;
  std::uint64_t blob_size = 0;
  std::int64_t internal_date_ms = 0;
  std::uint32_t flags = 0;          // message_flag bits
  std::vector<std::string> keywords;
  std::string header_prefix;        // per-delivery headers, prepended on read
};
enum class flags_op : std::uint8_t { add = 0, remove = 1, replace = 2 };
struct flags_change_record {
  account_id account{};
  mailbox_id mailbox{};
  std::uint64_t modseq = 0;         // every listed message gets this modseq
  flags_op op = flags_op::add;
  std::uint32_t flags = 0;
  std::vector<std::string> keywords;
  std::vector<std::uint32_t> uids;
};
struct expunge_record {
  account_id account{};
  mailbox_id mailbox{};
  std::uint64_t modseq = 0;
  std::vector<std::uint32_t> uids;
};
struct move_record {
  account_id account{};
  mailbox_id source{};
  mailbox_id target{};
  std::uint64_t source_modseq = 0;  // modseq of the expunge in the source
  std::uint64_t target_modseq = 0;  // modseq of the new messages in the target
  std::vector<std::pair<std::uint32_t, std::uint32_t>> uids;  // (source, target)
};

using record_payload =
    std::variant<blob_commit_record, account_create_record, account_quota_record, folder_create_record,
                 folder_rename_record, folder_delete_record, folder_subscribe_record, delivery_record,
                 flags_change_record, expunge_record, move_record>;

// Bounds a decoder enforces so a corrupt length cannot allocate without limit.
inline constexpr std::size_t name_max = 1024;
inline constexpr std::size_t keyword_max = 256;
inline constexpr std::size_t keywords_per_message_max = 256;
inline constexpr std::size_t header_prefix_max = 64u << 10;
inline constexpr std::size_t uids_per_record_max = 1u << 20;

record_type type_of(const record_payload& p);
std::string encode_payload(const record_payload& p);
// nullopt: blob_chunk, an unknown type, or a payload that does not decode.
std::optional<record_payload> decode_payload(record_type type, std::string_view payload);

}  // namespace format
}  // namespace store
