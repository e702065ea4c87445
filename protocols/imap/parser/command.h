#pragma once
// The typed IMAP command: every command of RFC 3501 (IMAP4rev1), RFC 9051
// (IMAP4rev2) and the extensions ringmail implements, as a variant of plain
// structs. Strings are owned (mailbox names already decoded to UTF-8), except
// literal message data, which is a view into the reader's framed command (or
// nothing, when the session streamed it).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocols/imap/parser/sequence_set.h"

namespace imap {

// ---------------------------------------------------------------- values

struct date {  // date (RFC 3501 section 9): "1-Feb-1994"
  std::uint16_t year = 0;
  std::uint8_t month = 1;  // 1..12
  std::uint8_t day = 1;    // 1..31
  friend bool operator==(const date&, const date&) = default;
};

struct date_time {  // date-time: "17-Jul-1996 02:44:25 -0700"
  date day;
  std::uint8_t hour = 0, minute = 0, second = 0;
  std::int16_t zone_minutes = 0;  // east of UTC; -0700 is -420
  friend bool operator==(const date_time&, const date_time&) = default;
};

// A literal's payload in APPEND. `bytes` views the reader's buffer (valid
// until its next call) unless `streamed`, when the session already received
// the data as literal_chunk events and `bytes` is empty.
struct literal_data {
  std::string_view bytes;
  std::uint64_t size_bytes = 0;
  std::uint32_t index = 0;  // which literal of the command (0-based)
  bool binary = false;      // ~{n} (RFC 3516)
  bool streamed = false;
};

// ---------------------------------------------------------------- SEARCH

enum class search_kind : std::uint8_t {
  // No argument.
  all, answered, deleted, draft, flagged, new_, old, recent, seen,
  unanswered, undeleted, undraft, unflagged, unseen,
  // text: a string argument.
  bcc, body, cc, from, subject, text, to,
  header,  // field + text
  keyword, unkeyword,  // text is the flag keyword
  // date argument.
  before, on, since, sentbefore, senton, sentsince,
  // number argument.
  larger, smaller,
  older, younger,  // RFC 5032 WITHIN, seconds
  // set argument.
  sequence_set, uid,
  // RFC 7162 MODSEQ [entry-name entry-type] modseq.
  modseq,
  // Composite: children.
  not_,  // one child
  or_,   // two children
  and_,  // a parenthesised list: all children
};

struct search_key {
  search_kind kind = search_kind::all;
  std::string field;  // header: field name; modseq: entry name ("/flags/\\draft"), may be empty
  std::string text;   // string argument; modseq: entry type ("priv", "shared", "all"), may be empty
  date day{};
  std::uint64_t number = 0;  // larger/smaller/older/younger/modseq
  imap::sequence_set set;
  std::vector<search_key> children;
};

// ESEARCH RETURN options (RFC 4731) and SEARCHRES SAVE (RFC 5182).
struct search_return {
  bool min = false, max = false, all = false, count = false, save = false;
  bool present = false;  // RETURN (...) was given: the answer is ESEARCH
  friend bool operator==(const search_return&, const search_return&) = default;
};

// ---------------------------------------------------------------- FETCH

enum class section_text : std::uint8_t { none, header, header_fields, header_fields_not, text, mime };

struct section {
  std::vector<std::uint32_t> part;  // "1.2" = {1, 2}; empty = whole message
  section_text text = section_text::none;
  std::vector<std::string> fields;  // header_fields(_not), upper-cased
  friend bool operator==(const section&, const section&) = default;
};

struct partial_range {  // <origin.count>
  std::uint64_t origin = 0;
  std::uint64_t count = 0;
  friend bool operator==(const partial_range&, const partial_range&) = default;
};

enum class fetch_kind : std::uint8_t {
  envelope, flags, internal_date, rfc822, rfc822_header, rfc822_size, rfc822_text,
  body,            // BODY without section: non-extensible BODYSTRUCTURE
  body_structure,
  uid, modseq,
  body_section,    // BODY[section]<partial> / BODY.PEEK[...]
  binary,          // BINARY[part]<partial> / BINARY.PEEK[...] (RFC 3516)
  binary_size,     // BINARY.SIZE[part]
  save_date,       // RFC 8514 SAVEDATE
  email_id, thread_id,  // RFC 8474 OBJECTID
};

struct fetch_attribute {
  fetch_kind kind = fetch_kind::flags;
  bool peek = false;  // BODY.PEEK / BINARY.PEEK: do not set \Seen
  imap::section section;
  std::optional<partial_range> partial;
  friend bool operator==(const fetch_attribute&, const fetch_attribute&) = default;
};

enum class fetch_macro : std::uint8_t { none, all, fast, full };

// ---------------------------------------------------------------- commands

struct capability_command {};
struct noop_command {};
struct logout_command {};
struct starttls_command {};
struct authenticate_command {
  std::string mechanism;  // upper-cased
  // SASL-IR (RFC 4959): base64 text as sent; "=" means an empty response.
  std::optional<std::string> initial_response;
};
struct login_command {
  std::string user;
  std::string password;
};
struct enable_command {
  std::vector<std::string> capabilities;  // upper-cased
};
struct qresync_parameters {  // RFC 7162 section 3.2.5
  std::uint32_t uid_validity = 0;
  std::uint64_t modseq = 0;
  std::optional<imap::sequence_set> known_uids;
  std::optional<imap::sequence_set> known_sequence_numbers;  // seq-match-data
  std::optional<imap::sequence_set> known_sequence_uids;
};
struct select_command {  // SELECT and EXAMINE
  std::string mailbox;
  bool read_only = false;  // EXAMINE
  bool condstore = false;
  std::optional<qresync_parameters> qresync;
};
struct create_command {
  std::string mailbox;
  std::vector<std::string> special_use;  // RFC 6154 USE (\Drafts ...)
};
struct delete_command { std::string mailbox; };
struct rename_command {
  std::string source;
  std::string target;
};
struct subscribe_command { std::string mailbox; };
struct unsubscribe_command { std::string mailbox; };

enum status_item : std::uint16_t {
  status_messages = 1 << 0,
  status_recent = 1 << 1,
  status_uid_next = 1 << 2,
  status_uid_validity = 1 << 3,
  status_unseen = 1 << 4,
  status_deleted = 1 << 5,
  status_size = 1 << 6,
  status_highest_modseq = 1 << 7,
  status_append_limit = 1 << 8,  // RFC 7889
  status_mailbox_id = 1 << 9,    // RFC 8474
};

struct list_command {  // LIST, LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819)
  // Selection options.
  bool select_subscribed = false, select_remote = false, select_recursive_match = false,
       select_special_use = false;
  std::string reference;              // decoded; "" is common
  std::vector<std::string> patterns;  // decoded; * and % kept
  bool extended = false;              // selection options, several patterns or RETURN were used
  // Return options.
  bool return_subscribed = false, return_children = false, return_special_use = false;
  std::uint16_t return_status = 0;  // status_item bits; non-zero means RETURN (STATUS (...))
  bool return_my_rights = false;
};
struct lsub_command {
  std::string reference;
  std::string pattern;
};
struct namespace_command {};
struct status_command {
  std::string mailbox;
  std::uint16_t items = 0;  // status_item bits
};
struct append_message {
  std::vector<std::string> flags;
  std::optional<date_time> internal_date;
  literal_data message;
};
struct append_command {  // several messages: MULTIAPPEND (RFC 3502)
  std::string mailbox;
  std::vector<append_message> messages;
};
struct idle_command {};
struct check_command {};
struct close_command {};
struct unselect_command {};
struct expunge_command {
  bool uid = false;  // UID EXPUNGE (RFC 4315)
  imap::sequence_set set;  // only with uid
};
struct search_command {
  bool uid = false;
  search_return returns;
  std::string charset;  // upper-cased; empty = not given
  std::vector<search_key> keys;  // implicit AND
};
struct fetch_command {
  bool uid = false;
  imap::sequence_set set;
  fetch_macro macro = fetch_macro::none;
  std::vector<fetch_attribute> attributes;  // macros expanded
  std::optional<std::uint64_t> changed_since;  // RFC 7162
  bool vanished = false;                       // RFC 7162 (UID FETCH only)
};
enum class store_mode : std::uint8_t { replace, add, remove };
struct store_command {
  bool uid = false;
  imap::sequence_set set;
  store_mode mode = store_mode::replace;
  bool silent = false;
  std::vector<std::string> flags;
  std::optional<std::uint64_t> unchanged_since;  // RFC 7162
};
struct copy_command {  // COPY and MOVE (RFC 6851)
  bool uid = false;
  bool move = false;
  imap::sequence_set set;
  std::string mailbox;
};
enum class sort_key : std::uint8_t { arrival, cc, date, from, size, subject, to, display_from, display_to };
struct sort_criterion {
  sort_key key = sort_key::arrival;
  bool reverse = false;
  friend bool operator==(const sort_criterion&, const sort_criterion&) = default;
};
struct sort_command {  // RFC 5256, ESORT (RFC 5267) RETURN, DISPLAY (RFC 5957)
  bool uid = false;
  search_return returns;
  std::vector<sort_criterion> criteria;
  std::string charset;
  std::vector<search_key> keys;
};
enum class thread_algorithm : std::uint8_t { ordered_subject, references, refs };
struct thread_command {
  bool uid = false;
  thread_algorithm algorithm = thread_algorithm::references;
  std::string charset;
  std::vector<search_key> keys;
};
struct id_command {  // RFC 2971; empty for "ID NIL"
  std::vector<std::pair<std::string, std::optional<std::string>>> fields;
};
struct getquota_command { std::string root; };
struct getquotaroot_command { std::string mailbox; };
struct compress_command { std::string mechanism; };  // upper-cased; "DEFLATE"

using command_body = std::variant<
    capability_command, noop_command, logout_command, starttls_command, authenticate_command,
    login_command, enable_command, select_command, create_command, delete_command, rename_command,
    subscribe_command, unsubscribe_command, list_command, lsub_command, namespace_command,
    status_command, append_command, idle_command, check_command, close_command, unselect_command,
    expunge_command, search_command, fetch_command, store_command, copy_command, sort_command,
    thread_command, id_command, getquota_command, getquotaroot_command, compress_command>;

struct command {
  std::string tag;
  command_body body;
};

// The command's name as a client writes it ("UID FETCH", "EXAMINE"), for
// logs, metrics and "<tag> OK FETCH completed".
std::string_view command_name(const command_body& body);

}  // namespace imap
