#include "protocols/imap/session/session.h"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <optional>
#include <string_view>

#include "protocols/common/sasl.h"
#include "protocols/imap/parser/parser.h"
#include "protocols/imap/parser/reader.h"
#include "protocols/imap/parser/response.h"
#include "protocols/imap/parser/sequence_set.h"
#include "protocols/imap/search/date.h"
#include "protocols/imap/search/fold.h"
#include "protocols/imap/search/subject.h"
#include "protocols/imap/search/thread.h"
#include "protocols/mime/address.h"
#include "protocols/mime/charset.h"
#include "protocols/mime/encoded_word.h"
#include "protocols/mime/header.h"
#include "protocols/mime/imap_render.h"
#include "protocols/mime/structure.h"
#include "protocols/mime/transfer.h"
#include "protocols/stream/session_stream.h"

namespace imap {

namespace {

// ---------------------------------------------------------------- dates

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::int64_t day_number(const date& d) { return days_from_civil(d.year, d.month, d.day); }

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

std::int64_t to_epoch_ms(const date_time& t) {
  std::int64_t seconds = day_number(t.day) * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
  return (seconds - std::int64_t(t.zone_minutes) * 60) * 1000;
}

// INTERNALDATE in UTC: "17-Jul-1996 02:44:25 +0000".
void append_internal_date(std::string& out, std::int64_t ms) {
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t seconds = time_t(floor_div(ms, 1000));
  tm t{};
  gmtime_r(&seconds, &t);
  char buf[40];
  std::snprintf(buf, sizeof buf, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", t.tm_mday, months[t.tm_mon],
                t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
  out += buf;
}

// ---------------------------------------------------------------- flags

struct flag_name {
  std::uint32_t bit;
  std::string_view name;
};
constexpr flag_name system_flags[] = {{message_flag::seen, "\\Seen"},
                                      {message_flag::answered, "\\Answered"},
                                      {message_flag::flagged, "\\Flagged"},
                                      {message_flag::deleted, "\\Deleted"},
                                      {message_flag::draft, "\\Draft"}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

struct parsed_flags {
  std::uint32_t flags = 0;
  std::vector<std::string> keywords;
};

// Splits a client flag list into system bits and keywords. \Recent cannot be
// set by a client (RFC 3501 6.4.6) and is dropped; an unknown \Flag is a
// client error.
std::optional<parsed_flags> split_flags(const std::vector<std::string>& names) {
  parsed_flags out;
  for (const auto& name : names) {
    if (!name.empty() && name[0] == '\\') {
      if (iequals(name, "\\Recent")) continue;
      bool known = false;
      for (const auto& f : system_flags)
        if (iequals(name, f.name)) out.flags |= f.bit, known = true;
      if (!known) return std::nullopt;
      continue;
    }
    if (std::find(out.keywords.begin(), out.keywords.end(), name) == out.keywords.end()) out.keywords.push_back(name);
  }
  return out;
}

void append_flags(std::string& out, const message_info& m) {
  std::vector<std::string> names;
  for (const auto& f : system_flags)
    if (m.flags & f.bit) names.emplace_back(f.name);
  names.insert(names.end(), m.keywords.begin(), m.keywords.end());
  append_flag_list(out, names);
}

// Is `partial` ("tag NAME ...", a command framed up to a literal) the
// command `name` (any case)?
bool command_is(std::string_view partial, std::string_view name) {
  auto space = partial.find(' ');
  if (space == std::string_view::npos) return false;
  std::string_view word = partial.substr(space + 1, name.size() + 1);
  return word.size() == name.size() + 1 && iequals(word.substr(0, name.size()), name) && word.back() == ' ';
}

std::string_view special_use_attribute(special_use use) {
  switch (use) {
    case special_use::sent: return "\\Sent";
    case special_use::drafts: return "\\Drafts";
    case special_use::trash: return "\\Trash";
    case special_use::junk: return "\\Junk";
    case special_use::archive: return "\\Archive";
    case special_use::none:
    case special_use::inbox: return {};
  }
  return {};
}

std::optional<special_use> special_use_from(std::string_view attribute) {
  for (auto use : {special_use::sent, special_use::drafts, special_use::trash, special_use::junk, special_use::archive})
    if (iequals(attribute, special_use_attribute(use))) return use;
  return std::nullopt;
}

std::string_view response_code(service_errc code) {
  switch (code) {
    case service_errc::no_such_mailbox: return "[NONEXISTENT] ";
    case service_errc::already_exists: return "[ALREADYEXISTS] ";
    case service_errc::over_quota: return "[OVERQUOTA] ";
    case service_errc::too_big: return "[TOOBIG] ";
    case service_errc::not_allowed: return "[CANNOT] ";
    case service_errc::has_children: return "[HASCHILDREN] ";
    case service_errc::temporary: return "[UNAVAILABLE] ";
    case service_errc::server_bug: return "[SERVERBUG] ";
  }
  return {};
}

std::string_view default_text(service_errc code) {
  switch (code) {
    case service_errc::no_such_mailbox: return "Mailbox does not exist";
    case service_errc::already_exists: return "Mailbox already exists";
    case service_errc::over_quota: return "Quota exceeded";
    case service_errc::too_big: return "Message too large";
    case service_errc::not_allowed: return "Operation not permitted";
    case service_errc::has_children: return "Mailbox has children";
    case service_errc::temporary: return "Try again later";
    case service_errc::server_bug: return "Internal error";
  }
  return "Failed";
}

// ---------------------------------------------------------------- LIST patterns

// RFC 3501 6.3.8: '*' matches anything, '%' anything but the hierarchy
// separator. Dynamic programming over (pattern, name): O(|p| * |n|), both
// bounded by the line length, never exponential.
bool list_match(std::string_view pattern, std::string_view name) {
  std::vector<char> row(name.size() + 1, 0), next(name.size() + 1, 0);
  row[0] = 1;
  for (char p : pattern) {
    std::fill(next.begin(), next.end(), 0);
    if (p == '*' || p == '%') {
      bool reach = false;
      for (std::size_t j = 0; j <= name.size(); ++j) {
        if (row[j]) reach = true;
        next[j] = reach;
        if (p == '%' && j < name.size() && name[j] == '/') reach = false;
      }
    } else {
      for (std::size_t j = 0; j < name.size(); ++j)
        if (row[j] && name[j] == p) next[j + 1] = 1;
    }
    std::swap(row, next);
  }
  return row[name.size()] != 0;
}

// ---------------------------------------------------------------- headers

std::size_t header_end(std::string_view message) {
  auto crlf = message.find("\r\n\r\n");
  auto lf = message.find("\n\n");
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return message.size();
  if (lf == std::string_view::npos || (crlf != std::string_view::npos && crlf + 2 <= lf + 1))
    return crlf + 4;
  return lf + 2;
}

// True when some field named `field` (case-insensitive) has a decoded
// value containing `text`. One pass over the header block.
bool header_contains(std::string_view message, std::string_view field, std::string_view text) {
  std::string_view header = message.substr(0, header_end(message));
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = pos;
    // A field runs until a line break not followed by white space.
    while (true) {
      end = header.find('\n', end);
      if (end == std::string_view::npos) {
        end = header.size();
        break;
      }
      if (end + 1 < header.size() && (header[end + 1] == ' ' || header[end + 1] == '\t')) {
        ++end;
        continue;
      }
      ++end;
      break;
    }
    std::string_view line = header.substr(pos, end - pos);
    pos = end;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (!iequals(name, field)) continue;
    std::string value;
    for (char c : line.substr(colon + 1))
      if (c != '\r' && c != '\n') value += c;
    if (text.empty() || search::folded(mime::decode_header_value(value)).find(search::folded(text)) != std::string::npos)
      return true;
  }
  return false;
}

std::string section_text_of(const section& s) {
  std::string out;
  for (std::size_t i = 0; i < s.part.size(); ++i) {
    if (i) out += '.';
    out += std::to_string(s.part[i]);
  }
  auto add = [&](std::string_view word) {
    if (!out.empty()) out += '.';
    out += word;
  };
  switch (s.text) {
    case section_text::none: break;
    case section_text::header: add("HEADER"); break;
    case section_text::text: add("TEXT"); break;
    case section_text::mime: add("MIME"); break;
    case section_text::header_fields:
    case section_text::header_fields_not: {
      add(s.text == section_text::header_fields ? "HEADER.FIELDS (" : "HEADER.FIELDS.NOT (");
      for (std::size_t i = 0; i < s.fields.size(); ++i) {
        if (i) out += ' ';
        out += s.fields[i];
      }
      out += ')';
      break;
    }
  }
  return out;
}

void append_literal(std::string& out, std::string_view bytes) {
  out += '{';
  out += std::to_string(bytes.size());
  out += "}\r\n";
  out += bytes;
}

bool key_needs_message(const search_key& key) {
  switch (key.kind) {
    case search_kind::bcc: case search_kind::body: case search_kind::cc: case search_kind::from:
    case search_kind::subject: case search_kind::text: case search_kind::to: case search_kind::header:
    case search_kind::sentbefore: case search_kind::senton: case search_kind::sentsince:
      return true;
    default: break;
  }
  for (const auto& child : key.children)
    if (key_needs_message(child)) return true;
  return false;
}

bool key_uses_modseq(const search_key& key) {
  if (key.kind == search_kind::modseq) return true;
  for (const auto& child : key.children)
    if (key_uses_modseq(child)) return true;
  return false;
}

struct search_context {
  std::uint32_t seq = 0;
  std::uint32_t largest_seq = 0;
  std::uint32_t largest_uid = 0;
  const message_info* info = nullptr;
  std::string_view message;  // empty unless a key needs it
  const std::vector<std::uint32_t>* saved = nullptr;  // "$" (SEARCHRES), ascending UIDs
  std::int64_t now_ms = 0;                             // OLDER / YOUNGER
  // Computed on first use by a BODY or TEXT key: the decoded, folded text.
  mutable std::optional<std::string> body_text;
  mutable std::optional<std::string> header_text;
  mutable std::optional<std::int64_t> sent_day;
};

// The text BODY and TEXT search: every text/* leaf of the message, its
// transfer encoding undone and its charset converted to UTF-8, folded.
// Attachments of other types are not searched (as Dovecot without FTS).
std::string searchable_body(std::string_view message) {
  auto tree = mime::parse_message(message);
  std::string text;
  for (const auto& node : tree.parts) {
    const auto& info = node.info;
    if (info.kind != mime::part_kind::leaf || info.type.type != "text") continue;
    std::string_view raw = message.substr(info.body_start, info.body_size());
    std::string decoded;
    std::string_view plain = raw;  // 7bit/8bit/binary: the bytes as they are, no copy
    if (info.encoding == mime::transfer_encoding::base64) plain = decoded = mime::decode_base64(raw);
    else if (info.encoding == mime::transfer_encoding::quoted_printable) plain = decoded = mime::decode_quoted_printable(raw);
    std::string_view charset = info.type.params.get("charset");
    std::string utf8;
    mime::append_utf8(charset.empty() ? std::string_view("us-ascii") : charset, plain, utf8);
    search::append_folded(utf8, text);
    text += '\n';
  }
  return text;
}

// The decoded, folded header block, one field per line (TEXT searches it).
std::string searchable_header(std::string_view message) {
  auto block = mime::parse_header_block(message);
  std::string text;
  for (const auto& field : block.fields) {
    search::append_folded(field.name, text);
    text += ": ";
    search::append_folded(mime::decode_header_value(field.raw_value), text);
    text += '\n';
  }
  return text;
}

// The day of the Date: header as written (zone disregarded, RFC 3501
// SENT*), or of the internal date when there is no usable Date:.
std::int64_t sent_day_of(std::string_view message, const message_info& m) {
  auto block = mime::parse_header_block(message);
  if (const auto* date = block.find("Date")) {
    if (auto d = search::parse_date(date->unfolded_value())) return d->local_day();
  }
  return floor_div(m.internal_date_ms, 86'400'000);
}

bool has_keyword(const message_info& m, std::string_view keyword) {
  for (const auto& k : m.keywords)
    if (iequals(k, keyword)) return true;
  return false;
}

bool in_set(const sequence_set& set, std::uint32_t number, std::uint32_t largest) {
  auto ranges = resolve(set, largest);
  return contains(ranges, number);
}

// Recursion depth is bounded by parser_limits::nesting_depth_max.
bool matches(const search_key& key, const search_context& c) {
  const message_info& m = *c.info;
  std::int64_t day = floor_div(m.internal_date_ms, 86'400'000);
  switch (key.kind) {
    case search_kind::all: return true;
    case search_kind::answered: return m.flags & message_flag::answered;
    case search_kind::deleted: return m.flags & message_flag::deleted;
    case search_kind::draft: return m.flags & message_flag::draft;
    case search_kind::flagged: return m.flags & message_flag::flagged;
    case search_kind::seen: return m.flags & message_flag::seen;
    case search_kind::unanswered: return !(m.flags & message_flag::answered);
    case search_kind::undeleted: return !(m.flags & message_flag::deleted);
    case search_kind::undraft: return !(m.flags & message_flag::draft);
    case search_kind::unflagged: return !(m.flags & message_flag::flagged);
    case search_kind::unseen: return !(m.flags & message_flag::seen);
    // \Recent is never set in ringmail: no message is new, all are old.
    case search_kind::new_: case search_kind::recent: return false;
    case search_kind::old: return true;
    case search_kind::keyword: return has_keyword(m, key.text);
    case search_kind::unkeyword: return !has_keyword(m, key.text);
    case search_kind::bcc: return header_contains(c.message, "Bcc", key.text);
    case search_kind::cc: return header_contains(c.message, "Cc", key.text);
    case search_kind::from: return header_contains(c.message, "From", key.text);
    case search_kind::to: return header_contains(c.message, "To", key.text);
    case search_kind::subject: return header_contains(c.message, "Subject", key.text);
    case search_kind::header: return header_contains(c.message, key.field, key.text);
    case search_kind::body:
    case search_kind::text: {
      std::string needle = search::folded(key.text);
      if (!c.body_text) c.body_text = searchable_body(c.message);
      if (c.body_text->find(needle) != std::string::npos) return true;
      if (key.kind == search_kind::body) return false;
      // TEXT looks at the header too.
      if (!c.header_text) c.header_text = searchable_header(c.message);
      return c.header_text->find(needle) != std::string::npos;
    }
    case search_kind::before: return day < day_number(key.day);
    case search_kind::on: return day == day_number(key.day);
    case search_kind::since: return day >= day_number(key.day);
    case search_kind::larger: return m.size_bytes > key.number;
    case search_kind::smaller: return m.size_bytes < key.number;
    case search_kind::sequence_set:
    case search_kind::uid:
      // "$" names messages, whichever form it is written in (RFC 5182).
      if (key.set.saved_result) return c.saved && std::binary_search(c.saved->begin(), c.saved->end(), m.uid);
      if (key.kind == search_kind::uid) return in_set(key.set, m.uid, c.largest_uid);
      return in_set(key.set, c.seq, c.largest_seq);
    case search_kind::modseq: return m.modseq >= key.number;
    case search_kind::not_: return !matches(key.children.front(), c);
    case search_kind::or_: return matches(key.children[0], c) || matches(key.children[1], c);
    case search_kind::and_:
      for (const auto& child : key.children)
        if (!matches(child, c)) return false;
      return true;
    case search_kind::sentbefore:
    case search_kind::senton:
    case search_kind::sentsince: {
      if (!c.sent_day) c.sent_day = sent_day_of(c.message, m);
      std::int64_t wanted = day_number(key.day);
      if (key.kind == search_kind::sentbefore) return *c.sent_day < wanted;
      if (key.kind == search_kind::senton) return *c.sent_day == wanted;
      return *c.sent_day >= wanted;
    }
    // RFC 5032 WITHIN: the message's age in seconds by its internal date.
    case search_kind::older: return (c.now_ms - m.internal_date_ms) / 1000 >= std::int64_t(key.number);
    case search_kind::younger: return (c.now_ms - m.internal_date_ms) / 1000 <= std::int64_t(key.number);
  }
  return false;
}

// The capability a command (with its options) needs; "" for base IMAP.
struct command_capability {
  std::string_view operator()(const id_command&) const { return "ID"; }
  std::string_view operator()(const namespace_command&) const { return "NAMESPACE"; }
  std::string_view operator()(const idle_command&) const { return "IDLE"; }
  std::string_view operator()(const unselect_command&) const { return "UNSELECT"; }
  std::string_view operator()(const getquota_command&) const { return "QUOTA"; }
  std::string_view operator()(const getquotaroot_command&) const { return "QUOTA"; }
  std::string_view operator()(const compress_command&) const { return "COMPRESS=DEFLATE"; }
  std::string_view operator()(const sort_command&) const { return "SORT"; }
  std::string_view operator()(const thread_command& c) const {
    return c.algorithm == thread_algorithm::references ? "THREAD=REFERENCES"
           : c.algorithm == thread_algorithm::ordered_subject ? "THREAD=ORDEREDSUBJECT"
                                                              : "THREAD=REFS";
  }
  std::string_view operator()(const enable_command&) const { return "ENABLE"; }
  std::string_view operator()(const select_command& c) const {
    return c.qresync ? "QRESYNC" : c.condstore ? "CONDSTORE" : "";
  }
  std::string_view operator()(const create_command& c) const { return c.special_use.empty() ? "" : "CREATE-SPECIAL-USE"; }
  std::string_view operator()(const list_command& c) const {
    return c.return_status ? "LIST-STATUS" : c.extended ? "LIST-EXTENDED" : "";
  }
  std::string_view operator()(const append_command& c) const { return c.messages.size() > 1 ? "MULTIAPPEND" : ""; }
  std::string_view operator()(const expunge_command& c) const { return c.uid ? "UIDPLUS" : ""; }
  std::string_view operator()(const copy_command& c) const { return c.move ? "MOVE" : ""; }
  std::string_view operator()(const store_command& c) const { return c.unchanged_since ? "CONDSTORE" : ""; }
  std::string_view operator()(const fetch_command& c) const {
    if (c.vanished) return "QRESYNC";
    if (c.changed_since) return "CONDSTORE";
    for (const auto& a : c.attributes) {
      if (a.kind == fetch_kind::modseq) return "CONDSTORE";
      if (a.kind == fetch_kind::binary || a.kind == fetch_kind::binary_size) return "BINARY";
    }
    return "";
  }
  std::string_view operator()(const search_command& c) const {
    if (c.returns.save) return "SEARCHRES";
    return c.returns.present ? "ESEARCH" : "";
  }
  std::string_view operator()(const auto&) const { return ""; }
};

// BINARY[section] (RFC 3516): the part's body with its
// Content-Transfer-Encoding undone. The part is the one whose body
// section_bytes() returns, found by its offsets. nullopt: an encoding we
// cannot decode. The whole message (BINARY[]) is returned as is.
std::optional<std::string> binary_section(const mime::message_tree& tree, std::string_view message,
                                          const section& s) {
  std::string spec = section_text_of(s);
  auto data = mime::section_bytes(tree, message, spec);
  if (!data) return std::string();  // no such part: empty, like BODY[]
  std::string_view bytes = data->bytes();
  auto inside = [&](const char* p) {
    auto a = reinterpret_cast<std::uintptr_t>(p), b = reinterpret_cast<std::uintptr_t>(message.data());
    return a >= b && a <= b + message.size();
  };
  if (s.part.empty() || !inside(bytes.data())) return std::string(bytes);
  std::size_t offset = std::size_t(bytes.data() - message.data());
  for (const auto& node : tree.parts) {
    if (node.info.body_start != offset || node.info.body_size() != bytes.size()) continue;
    if (node.info.kind == mime::part_kind::multipart) break;  // no encoding of its own
    switch (node.info.encoding) {
      case mime::transfer_encoding::base64: return mime::decode_base64(bytes);
      case mime::transfer_encoding::quoted_printable: return mime::decode_quoted_printable(bytes);
      case mime::transfer_encoding::unknown: return std::nullopt;
      case mime::transfer_encoding::seven_bit:
      case mime::transfer_encoding::eight_bit:
      case mime::transfer_encoding::binary: break;
    }
    break;
  }
  return std::string(bytes);
}

// What SORT and THREAD compare, read from one message's header.
struct sort_fields {
  search::message_keys keys;
  std::int64_t arrival_ms = 0;
  std::uint64_t size = 0;
  std::string from, to, cc;                  // addr-mailbox of the first address, upper-cased
  std::string display_from, display_to;      // RFC 5957, folded
};

std::string first_mailbox(const mime::header_block& block, std::string_view field, bool display) {
  const auto* f = block.find(field);
  if (!f) return {};
  for (const auto& a : mime::parse_address_list(f->raw_value)) {
    if (a.what != mime::address::kind::mailbox) continue;
    if (display) {
      std::string name = mime::decode_header_value(a.name);
      if (name.empty()) name = a.host.empty() ? a.mailbox : a.mailbox + "@" + a.host;
      return search::folded(name);
    }
    std::string out;
    for (char ch : a.mailbox) out += char(std::toupper(static_cast<unsigned char>(ch)));
    return out;
  }
  return {};
}

sort_fields fields_of(std::string_view message, const message_info& m, std::uint32_t number) {
  sort_fields out;
  auto block = mime::parse_header_block(message);
  out.keys.number = number;
  out.arrival_ms = m.internal_date_ms;
  out.size = m.size_bytes;
  out.keys.sent_seconds = floor_div(m.internal_date_ms, 1000);  // RFC 5256: no Date: means INTERNALDATE
  if (const auto* date = block.find("Date"))
    if (auto d = search::parse_date(date->unfolded_value())) out.keys.sent_seconds = d->epoch_seconds();
  if (const auto* subject = block.find("Subject")) {
    auto base = search::base_subject(subject->raw_value);
    out.keys.base_subject = std::move(base.text);
    out.keys.reply_or_forward = base.reply_or_forward;
  }
  if (const auto* id = block.find("Message-ID")) {
    auto ids = search::parse_message_ids(id->raw_value, 1);
    if (!ids.empty()) out.keys.message_id = std::move(ids.front());
  }
  if (const auto* refs = block.find("References")) out.keys.references = search::parse_message_ids(refs->raw_value);
  if (out.keys.references.empty())
    if (const auto* reply = block.find("In-Reply-To")) out.keys.references = search::parse_message_ids(reply->raw_value, 1);
  out.from = first_mailbox(block, "From", false);
  out.to = first_mailbox(block, "To", false);
  out.cc = first_mailbox(block, "Cc", false);
  out.display_from = first_mailbox(block, "From", true);
  out.display_to = first_mailbox(block, "To", true);
  return out;
}

int compare_by(sort_key key, const sort_fields& a, const sort_fields& b) {
  auto cmp = [](const auto& x, const auto& y) { return x < y ? -1 : y < x ? 1 : 0; };
  switch (key) {
    case sort_key::arrival: return cmp(a.arrival_ms, b.arrival_ms);
    case sort_key::cc: return cmp(a.cc, b.cc);
    case sort_key::date: return cmp(a.keys.sent_seconds, b.keys.sent_seconds);
    case sort_key::from: return cmp(a.from, b.from);
    case sort_key::size: return cmp(a.size, b.size);
    case sort_key::subject: return cmp(a.keys.base_subject, b.keys.base_subject);
    case sort_key::to: return cmp(a.to, b.to);
    case sort_key::display_from: return cmp(a.display_from, b.display_from);
    case sort_key::display_to: return cmp(a.display_to, b.display_to);
  }
  return 0;
}

}  // namespace

namespace session_detail {

// One IMAP session. Lives in run_session's frame; every member coroutine is
// awaited by run(), so `this` outlives them all. Owned by the connection's
// core.
class session final : public change_listener {
 public:
  session(kio::connection& conn, const session_config& config, authenticator& auth, std::string id)
      : _conn(conn),
        _config(config),
        _auth(auth),
        _stream(conn, stream_options(config)),
        _reader(reader_limits(config)),
        _id(std::move(id)) {}

  kio::task<void> run();
  // Called on this core by the service; wakes IDLE's read at once.
  void mailbox_changed() override {
    _changed = true;
    _stream.interrupt_read();
  }

 private:
  enum class state : std::uint8_t { not_authenticated, authenticated, selected };

  static proto::stream_options stream_options(const session_config& config) {
    proto::stream_options o;
    o.line_length_max = config.limits.line_length_max;
    o.compress_piece_bytes = config.limits.compress_piece_bytes;
    return o;
  }
  static parser_limits reader_limits(const session_config& config) {
    parser_limits l;
    l.line_length_max = config.limits.line_length_max;
    l.literal_size_max = config.limits.literal_size_max;
    // LITERAL+: non-synchronising literals up to the same limit.
    l.non_sync_literal_size_max = config.limits.literal_size_max;
    l.command_size_max = std::max<std::uint64_t>(l.command_size_max, config.limits.literal_size_max + 64 * 1024);
    l.nesting_depth_max = config.limits.nesting_depth_max;
    l.sequence_ranges_max = config.limits.sequence_ranges_max;
    return l;
  }
  bool login_allowed() const { return _stream.secure() || _config.login_over_plaintext; }
  mailbox_encoding encoding() const { return _utf8 ? mailbox_encoding::utf8 : mailbox_encoding::modified_utf7; }
  quoting_options quoting() const {
    quoting_options q;
    q.utf8_allowed = _utf8;
    return q;
  }
  std::string capabilities() const;
  // False when the account hides `capability` (auth_result::hidden_capabilities).
  bool offered(std::string_view capability) const;
  // The capability a command (with its options) needs, or "" when it is
  // base IMAP; a command of a hidden capability is refused as unknown.
  std::string_view required_capability(const command_body& body) const;

  // Output. send() queues; it flushes when the client is waiting for us.
  kio::task<bool> send(std::string_view text, bool flush_now = false);
  kio::task<bool> tagged(std::string_view tag, std::string_view status, std::string_view text, bool flush_now = false);
  kio::task<bool> bad(std::string_view tag, std::string_view text);
  kio::task<bool> refuse(std::string_view tag, const service_error& e);

  kio::task<bool> on_literal(const literal_request& literal);
  kio::task<bool> on_reader_error(const command_error& error);
  kio::task<bool> on_command();
  kio::task<bool> dispatch(command& cmd);
  kio::task<std::optional<std::string>> read_continuation_line();

  kio::task<bool> on_starttls(const std::string& tag);
  kio::task<bool> on_login(const std::string& tag, std::string_view user, std::string_view password);
  kio::task<bool> on_authenticate(const std::string& tag, authenticate_command& cmd);
  kio::task<bool> on_enable(const std::string& tag, enable_command& cmd);
  kio::task<bool> on_list(const std::string& tag, const list_command& cmd);
  kio::task<bool> on_lsub(const std::string& tag, const lsub_command& cmd);
  kio::task<bool> on_status(const std::string& tag, const status_command& cmd);
  std::string status_response(std::string_view mailbox, std::uint16_t wanted, const mailbox_status& status) const;
  kio::task<bool> on_select(const std::string& tag, const select_command& cmd);
  kio::task<bool> on_create(const std::string& tag, const create_command& cmd);
  kio::task<bool> on_simple(const std::string& tag, service_result<void> outcome, std::string_view done);
  kio::task<bool> on_append(const std::string& tag, append_command& cmd);
  kio::task<bool> on_idle(const std::string& tag);
  kio::task<bool> on_compress(const std::string& tag, const compress_command& cmd);
  kio::task<bool> on_expunge(const std::string& tag, const expunge_command& cmd);
  kio::task<bool> on_close(const std::string& tag, bool expunge);
  kio::task<bool> on_search(const std::string& tag, const search_command& cmd);
  // Evaluates a search program over the snapshot: `hits` gets the indices
  // of the matching messages, ascending. false: the connection failed.
  kio::task<bool> evaluate_search(const std::vector<search_key>& keys, bool need_message,
                                  std::vector<std::size_t>& hits);
  kio::task<bool> on_fetch(const std::string& tag, const fetch_command& cmd);
  kio::task<bool> on_sort(const std::string& tag, const sort_command& cmd);
  kio::task<std::vector<sort_fields>> sort_fields_of(const std::vector<std::size_t>& hits, bool uid);
  kio::task<bool> on_thread(const std::string& tag, const thread_command& cmd);
  // The search part shared by SEARCH, SORT and THREAD: charset, then the
  // program. nullopt: a response was sent (NO/BAD) or the connection failed
  // (`alive` says which).
  kio::task<std::optional<std::vector<std::size_t>>> run_search_program(const std::string& tag, std::string_view charset,
                                                                        const std::vector<search_key>& keys,
                                                                        bool& alive);
  kio::task<bool> on_store(const std::string& tag, const store_command& cmd);
  kio::task<bool> on_copy(const std::string& tag, const copy_command& cmd);
  kio::task<bool> on_quota(const std::string& tag, std::string_view root, bool with_root);

  // Sequence set to snapshot indices (ascending). nullopt: a sequence
  // number past the end (a client error, BAD).
  std::optional<std::vector<std::size_t>> resolve_indices(const sequence_set& set, bool uid) const;
  std::size_t index_of_uid(std::uint32_t uid) const;
  // Re-reads the selected mailbox and queues the differences. Without
  // allow_expunge (during FETCH, STORE, SEARCH: RFC 3501 7.4.1) a snapshot
  // in which messages vanished is not taken; the next NOOP reports them.
  // Flag changes of `silent` UIDs are not reported (STORE .SILENT);
  // `forced` UIDs always get a FETCH (STORE without .SILENT).
  // `silent_modseq`: a silent change still gets "UID n MODSEQ (m)" under
  // CONDSTORE (STORE .SILENT; not FETCH's implicit \Seen, which its own
  // FETCH response reported).
  kio::task<bool> refresh(bool allow_expunge, const std::vector<std::uint32_t>& silent = {},
                          const std::vector<std::uint32_t>& forced = {}, bool silent_modseq = false);
  void append_fetch_flags(std::string& out, std::size_t index) const;
  // Messages a command reads one after the other (FETCH, SEARCH, SORT),
  // fetched ahead in bounded batches: one service call per batch instead of
  // one per message.
  struct read_ahead {
    std::vector<std::uint32_t> uids;   // every message the command will read, in order
    std::vector<std::uint64_t> sizes;  // their RFC822.SIZE, to bound a batch's bytes
    std::vector<std::optional<std::string>> batch;
    std::size_t batch_first = 0;       // position in `uids` of batch[0]
    std::size_t next = 0;              // position in `uids` of the next message
    void add(const message_info& m) {
      uids.push_back(m.uid);
      sizes.push_back(m.size_bytes);
    }
  };
  // The next message of `r` (nullopt: it could not be read).
  kio::task<std::optional<std::string>> next_message(read_ahead& r);
  // refresh() with a delta (changes_since() answered with what changed):
  // updates the snapshot in place and returns what to tell the client.
  std::string apply_changes(mailbox_changes& changes, bool allow_expunge, const std::vector<std::uint32_t>& silent,
                            const std::vector<std::uint32_t>& forced, bool silent_modseq);
  // QRESYNC: the compressed UID set of messages expunged after `modseq`,
  // limited to `within` (the client's known UIDs; all when absent). "" when
  // none.
  kio::task<service_result<std::string>> vanished_since(std::uint64_t modseq,
                                                       const std::optional<sequence_set>& within);
  void unselect() {
    _state = state::authenticated;
    _selected.clear();
    _snapshot = {};
  }

  kio::connection& _conn;
  const session_config& _config;
  authenticator& _auth;
  proto::session_stream _stream;
  command_reader _reader;
  std::string _id;
  state _state = state::not_authenticated;
  std::unique_ptr<mailbox_service> _account;
  std::string _login;
  std::string _selected;
  bool _read_only = false;
  mailbox_snapshot _snapshot;
  bool _condstore = false;
  bool _qresync = false;  // RFC 7162: implies _condstore; expunges are reported as VANISHED
  bool _rev2 = false;     // ENABLE IMAP4rev2 (RFC 9051): ESEARCH answers, no RECENT, UTF-8 names
  bool _utf8 = false;
  // RFC 5182 SEARCHRES: the UIDs of the last SEARCH ... RETURN (SAVE),
  // ascending. "$" means these (those still in the mailbox).
  std::vector<std::uint32_t> _saved;
  std::vector<std::string> _hidden;  // auth_result::hidden_capabilities
  bool _changed = false;  // set by the change listener, read by IDLE
  bool _logout = false;
  std::size_t _errors = 0;
  std::string _out;
};

bool session::offered(std::string_view capability) const {
  for (const auto& hidden : _hidden) {
    if (iequals(hidden, capability)) return false;
    // "THREAD" hides THREAD=REFERENCES and THREAD=ORDEREDSUBJECT.
    auto eq = capability.find('=');
    if (eq != std::string_view::npos && hidden.find('=') == std::string::npos && iequals(hidden, capability.substr(0, eq)))
      return false;
    // QRESYNC builds on CONDSTORE; IMAP4rev2 needs ESEARCH and friends.
    if (iequals(hidden, "CONDSTORE") && iequals(capability, "QRESYNC")) return false;
    if (iequals(hidden, "ESEARCH") && iequals(capability, "SEARCHRES")) return false;  // RETURN (SAVE)
    if (iequals(hidden, "LIST-EXTENDED") && iequals(capability, "LIST-STATUS")) return false;
  }
  return true;
}

std::string session::capabilities() const {
  // Everything here is implemented in this file; IMAP4rev2 (RFC 9051)
  // includes NAMESPACE, UNSELECT, UIDPLUS, ESEARCH, SEARCHRES, ENABLE, IDLE,
  // SASL-IR, LIST-EXTENDED, LIST-STATUS, MOVE, LITERAL-, SPECIAL-USE and
  // STATUS=SIZE, which are listed anyway for IMAP4rev1 clients.
  static constexpr std::string_view all[] = {
      "IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT", "UIDPLUS",
      "MOVE", "CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES", "WITHIN", "SORT", "THREAD=REFERENCES",
      "THREAD=ORDEREDSUBJECT", "LIST-EXTENDED", "LIST-STATUS", "CHILDREN", "SPECIAL-USE", "CREATE-SPECIAL-USE",
      "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "UTF8=ACCEPT", "MULTIAPPEND", "BINARY", "STATUS=SIZE",
      "COMPRESS=DEFLATE"};
  std::string caps;
  for (auto cap : all) {
    if (!offered(cap)) continue;
    if (!caps.empty()) caps += ' ';
    caps += cap;
  }
  if (offered("APPENDLIMIT")) caps += " APPENDLIMIT=" + std::to_string(_config.limits.literal_size_max);
  if (_state == state::not_authenticated) {
    if (_config.tls && !_stream.secure()) caps += " STARTTLS";
    caps += login_allowed() ? " AUTH=PLAIN" : " LOGINDISABLED";
  }
  return caps;
}

std::string_view session::required_capability(const command_body& body) const {
  return std::visit(command_capability{}, body);
}

kio::task<bool> session::send(std::string_view text, bool flush_now) {
  if (!co_await _stream.write(text)) co_return false;
  // Pipelined commands get their responses in one send: flush only when
  // nothing more is waiting to be read.
  if (flush_now || !_stream.has_buffered_input()) {
    bool flushed = (co_await _stream.flush()).has_value();
    co_return flushed;
  }
  co_return true;
}

kio::task<bool> session::tagged(std::string_view tag, std::string_view status, std::string_view text, bool flush_now) {
  std::string line;
  line.reserve(tag.size() + status.size() + text.size() + 4);
  line += tag;
  line += ' ';
  line += status;
  line += ' ';
  line += text;
  line += "\r\n";
  bool ok = co_await send(line, flush_now);
  co_return ok;
}

kio::task<bool> session::bad(std::string_view tag, std::string_view text) {
  if (++_errors > _config.limits.errors_max) {
    co_await send("* BYE Too many invalid commands\r\n", true);
    co_return false;
  }
  // Locals, not ?: temporaries, in co_await expressions: GCC 12 destroyed
  // such a temporary twice (found on the first TOOBIG transcript).
  std::string_view where = tag.empty() ? std::string_view("*") : tag;
  bool ok = co_await tagged(where, "BAD", text);
  co_return ok;
}

kio::task<bool> session::refuse(std::string_view tag, const service_error& e) {
  std::string text(response_code(e.code));
  text += e.text.empty() ? default_text(e.code) : std::string_view(e.text);
  bool ok = co_await tagged(tag, "NO", text);
  co_return ok;
}

kio::task<void> session::run() {
  if (_config.implicit_tls) {
    if (!co_await _stream.start_tls(_config.tls)) {
      co_await _stream.close();
      co_return;
    }
  }
  bool alive = co_await send("* OK [CAPABILITY " + capabilities() + "] " + _config.hostname + " ringmail IMAP ready\r\n",
                             true);
  while (alive && !_logout) {
    _conn.options().idle_timeout_ms =
        _state == state::not_authenticated ? _config.limits.login_timeout_ms : _config.limits.idle_timeout_ms;
    // Replies queued while pipelined input was pending (a refused literal
    // being skipped, an over-long line) go out before we wait for more.
    if (!_stream.has_buffered_input() && !(co_await _stream.flush()).has_value()) break;
    _stream.set_between_commands(!_stream.has_buffered_input() && _reader.between_commands());
    auto chunk = co_await _stream.read_some();
    _stream.set_between_commands(false);
    if (!chunk) {
      auto what = chunk.error().what;
      if (what == proto::stream_error::kind::timeout) co_await send("* BYE Autologout; idle for too long\r\n", true);
      else if (what == proto::stream_error::kind::shutdown) co_await send("* BYE Server shutting down\r\n", true);
      break;
    }
    std::string_view input(reinterpret_cast<const char*>(chunk->data()), chunk->size());
    read_event ev = _reader.read(input);
    _stream.consume(ev.consumed_bytes);
    switch (ev.status) {
      case read_status::need_more:
      case read_status::literal_chunk:  // literals are buffered, never streamed here
      case read_status::line:
        break;
      case read_status::need_literal: alive = co_await on_literal(ev.literal); break;
      case read_status::error: alive = co_await on_reader_error(ev.error); break;
      case read_status::command: alive = co_await on_command(); break;
    }
  }
  if (_account) _account->watch({}, nullptr);
  co_await _stream.flush();
  co_await _stream.close();
}

kio::task<bool> session::on_literal(const literal_request& literal) {
  std::uint64_t limit = _state == state::not_authenticated ? _config.limits.unauthenticated_literal_max
                                                           : _config.limits.literal_size_max;
  if (literal.size_bytes > limit) {
    // Refused before a byte of it is read: a synchronising literal is never
    // sent; a non-synchronising one is skipped by the reader.
    std::string tag(literal.tag);
    _reader.reject_literal();
    bool ok = co_await tagged(tag, "NO", "[TOOBIG] Literal exceeds " + std::to_string(limit) + " bytes", true);
    co_return ok;
  }
  if (_state == state::not_authenticated && !command_is(_reader.partial_command(), "LOGIN")) {
    // Before login only LOGIN takes a literal: anything else is refused
    // unread, without a continuation.
    std::string tag(literal.tag);
    _reader.reject_literal();
    bool ok = co_await bad(tag, "Log in first");
    co_return ok;
  }
  if (_account && command_is(_reader.partial_command(), "APPEND")) {
    // APPEND over the quota: refused before the literal, like a too-big one.
    std::string tag(literal.tag);
    auto allowed = co_await _account->check_append(literal.size_bytes);
    if (!allowed) {
      _reader.reject_literal();
      std::string text(response_code(allowed.error().code));
      text += allowed.error().text.empty() ? default_text(allowed.error().code) : std::string_view(allowed.error().text);
      bool ok = co_await tagged(tag, "NO", text, true);
      co_return ok;
    }
  }
  _reader.accept_literal(literal_mode::buffer);
  if (literal.non_synchronizing) co_return true;
  bool ok = co_await send("+ Ready for literal data\r\n", true);
  co_return ok;
}

kio::task<bool> session::on_reader_error(const command_error& error) {
  if (!error.can_continue) {
    co_await send("* BYE " + std::string(to_string(error.code)) + "\r\n", true);
    co_return false;
  }
  if (is_size_limit(error.code)) {
    std::string_view where = error.tag.empty() ? std::string_view("*") : std::string_view(error.tag);
    std::string text = "[TOOBIG] " + std::string(to_string(error.code));
    bool ok = co_await tagged(where, "NO", text);
    co_return ok;
  }
  std::string_view text = error.detail.empty() ? to_string(error.code) : error.detail;
  bool ok = co_await bad(error.tag, text);
  co_return ok;
}

kio::task<bool> session::on_command() {
  parse_options options;
  options.encoding = encoding();
  auto parsed = parse_command(_reader.command(), _reader.limits(), options);
  if (!parsed) {
    std::string text(to_string(parsed.error().code));
    if (!parsed.error().detail.empty()) text += ": " + std::string(parsed.error().detail);
    bool ok = co_await bad(parsed.error().tag, text);
    co_return ok;
  }
  bool ok = co_await dispatch(*parsed);
  co_return ok;
}

kio::task<bool> session::dispatch(command& cmd) {
  const std::string& tag = cmd.tag;
  auto& body = cmd.body;
  if (std::string_view needed = required_capability(body); !needed.empty() && !offered(needed)) {
    // A hidden capability is absent as far as this client is concerned.
    bool ok = co_await bad(tag, std::string(command_name(body)) + ": " + std::string(needed) + " is not available");
    co_return ok;
  }
  // Commands valid in any state.
  if (std::holds_alternative<capability_command>(body)) {
    if (!co_await send("* CAPABILITY " + capabilities() + "\r\n")) co_return false;
    bool ok = co_await tagged(tag, "OK", "CAPABILITY completed");
    co_return ok;
  }
  if (std::holds_alternative<noop_command>(body) || std::holds_alternative<check_command>(body)) {
    if (_state == state::selected && !co_await refresh(true)) co_return false;
    bool ok = co_await tagged(tag, "OK", std::string(command_name(body)) + " completed");
    co_return ok;
  }
  if (std::holds_alternative<logout_command>(body)) {
    _logout = true;
    if (!co_await send("* BYE Logging out\r\n")) co_return false;
    bool ok = co_await tagged(tag, "OK", "LOGOUT completed", true);
    co_return ok;
  }
  if (auto* id = std::get_if<id_command>(&body)) {
    (void)id;
    if (!co_await send("* ID (\"name\" \"ringmail\")\r\n")) co_return false;
    bool ok = co_await tagged(tag, "OK", "ID completed");
    co_return ok;
  }

  // Not authenticated.
  if (_state == state::not_authenticated) {
    if (std::holds_alternative<starttls_command>(body)) {
      bool ok = co_await on_starttls(tag);
      co_return ok;
    }
    if (auto* login = std::get_if<login_command>(&body)) {
      bool ok = co_await on_login(tag, login->user, login->password);
      co_return ok;
    }
    if (auto* auth = std::get_if<authenticate_command>(&body)) {
      bool ok = co_await on_authenticate(tag, *auth);
      co_return ok;
    }
    bool ok = co_await bad(tag, "Log in first");
    co_return ok;
  }
  if (std::holds_alternative<starttls_command>(body) || std::holds_alternative<login_command>(body) ||
      std::holds_alternative<authenticate_command>(body)) {
    bool ok = co_await bad(tag, "Already authenticated");
    co_return ok;
  }

  // Authenticated (or selected).
  if (auto* c = std::get_if<enable_command>(&body)) {
    bool ok = co_await on_enable(tag, *c);
    co_return ok;
  }
  if (auto* c = std::get_if<select_command>(&body)) {
    bool ok = co_await on_select(tag, *c);
    co_return ok;
  }
  if (auto* c = std::get_if<create_command>(&body)) {
    bool ok = co_await on_create(tag, *c);
    co_return ok;
  }
  if (auto* c = std::get_if<delete_command>(&body)) {
    if (c->mailbox == _selected) unselect();  // RFC 9051: deleting the selected mailbox deselects it
    auto outcome = co_await _account->remove(c->mailbox);
    bool ok = co_await on_simple(tag, std::move(outcome), "DELETE completed");
    co_return ok;
  }
  if (auto* c = std::get_if<rename_command>(&body)) {
    auto outcome = co_await _account->rename(c->source, c->target);
    bool ok = co_await on_simple(tag, std::move(outcome), "RENAME completed");
    co_return ok;
  }
  if (auto* c = std::get_if<subscribe_command>(&body)) {
    auto outcome = co_await _account->subscribe(c->mailbox, true);
    bool ok = co_await on_simple(tag, std::move(outcome), "SUBSCRIBE completed");
    co_return ok;
  }
  if (auto* c = std::get_if<unsubscribe_command>(&body)) {
    auto outcome = co_await _account->subscribe(c->mailbox, false);
    bool ok = co_await on_simple(tag, std::move(outcome), "UNSUBSCRIBE completed");
    co_return ok;
  }
  if (auto* c = std::get_if<list_command>(&body)) {
    bool ok = co_await on_list(tag, *c);
    co_return ok;
  }
  if (auto* c = std::get_if<lsub_command>(&body)) {
    bool ok = co_await on_lsub(tag, *c);
    co_return ok;
  }
  if (std::holds_alternative<namespace_command>(body)) {
    if (!co_await send("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n")) co_return false;
    bool ok = co_await tagged(tag, "OK", "NAMESPACE completed");
    co_return ok;
  }
  if (auto* c = std::get_if<status_command>(&body)) {
    bool ok = co_await on_status(tag, *c);
    co_return ok;
  }
  if (auto* c = std::get_if<append_command>(&body)) {
    bool ok = co_await on_append(tag, *c);
    co_return ok;
  }
  if (std::holds_alternative<idle_command>(body)) {
    bool ok = co_await on_idle(tag);
    co_return ok;
  }
  if (auto* c = std::get_if<compress_command>(&body)) {
    bool ok = co_await on_compress(tag, *c);
    co_return ok;
  }
  if (auto* c = std::get_if<getquota_command>(&body)) {
    bool ok = co_await on_quota(tag, c->root, false);
    co_return ok;
  }
  if (auto* c = std::get_if<getquotaroot_command>(&body)) {
    bool ok = co_await on_quota(tag, c->mailbox, true);
    co_return ok;
  }

  // Selected.
  bool selected_command = std::holds_alternative<close_command>(body) ||
                          std::holds_alternative<unselect_command>(body) ||
                          std::holds_alternative<expunge_command>(body) ||
                          std::holds_alternative<search_command>(body) ||
                          std::holds_alternative<fetch_command>(body) ||
                          std::holds_alternative<store_command>(body) || std::holds_alternative<copy_command>(body) ||
                          std::holds_alternative<sort_command>(body) || std::holds_alternative<thread_command>(body);
  if (selected_command && _state != state::selected) {
    bool ok = co_await bad(tag, "No mailbox selected");
    co_return ok;
  }
  if (std::holds_alternative<close_command>(body)) {
    bool ok = co_await on_close(tag, true);
    co_return ok;
  }
  if (std::holds_alternative<unselect_command>(body)) {
    bool ok = co_await on_close(tag, false);
    co_return ok;
  }
  if (auto* c = std::get_if<expunge_command>(&body)) {
    bool ok = co_await on_expunge(tag, *c);
    co_return ok;
  }
  if (auto* c = std::get_if<search_command>(&body)) {
    bool ok = co_await on_search(tag, *c);
    co_return ok;
  }
  if (auto* c = std::get_if<fetch_command>(&body)) {
    bool ok = co_await on_fetch(tag, *c);
    co_return ok;
  }
  if (auto* c = std::get_if<store_command>(&body)) {
    bool ok = co_await on_store(tag, *c);
    co_return ok;
  }
  if (auto* c = std::get_if<copy_command>(&body)) {
    bool ok = co_await on_copy(tag, *c);
    co_return ok;
  }
  if (auto* c = std::get_if<sort_command>(&body)) {
    bool ok = co_await on_sort(tag, *c);
    co_return ok;
  }
  if (auto* c = std::get_if<thread_command>(&body)) {
    bool ok = co_await on_thread(tag, *c);
    co_return ok;
  }
  bool ok = co_await bad(tag, std::string(command_name(body)) + " is not supported");
  co_return ok;
}

kio::task<std::optional<std::string>> session::read_continuation_line() {
  if (!(co_await _stream.flush()).has_value()) co_return std::nullopt;
  while (true) {
    auto chunk = co_await _stream.read_some();
    if (!chunk) co_return std::nullopt;
    std::string_view input(reinterpret_cast<const char*>(chunk->data()), chunk->size());
    read_event ev = _reader.read_continuation(input);
    _stream.consume(ev.consumed_bytes);
    if (ev.status == read_status::line) co_return std::string(ev.bytes);
    if (ev.status == read_status::error) co_return std::nullopt;
  }
}

kio::task<bool> session::on_starttls(const std::string& tag) {
  if (_stream.secure() || !_config.tls) {
    std::string_view text = _stream.secure() ? "TLS already active" : "STARTTLS not available";
    bool ok = co_await bad(tag, text);
    co_return ok;
  }
  if (!co_await tagged(tag, "OK", "Begin TLS negotiation now", true)) co_return false;
  // STARTTLS injection: start_tls() throws away every plaintext byte the
  // stream still holds, and the reader forgets any partial command, so
  // nothing pipelined after STARTTLS is ever executed.
  _reader.reset();
  if (!co_await _stream.start_tls(_config.tls)) co_return false;
  co_return true;
}

kio::task<bool> session::on_login(const std::string& tag, std::string_view user, std::string_view password) {
  if (!login_allowed()) {
    bool ok = co_await tagged(tag, "NO", "[PRIVACYREQUIRED] Use STARTTLS before logging in");
    co_return ok;
  }
  auth_request request{user, password, _conn.peer().ip_string(), _stream.secure()};
  auto result = co_await _auth.authenticate(request);
  auto said = [&](std::string_view fallback) { return result.text.empty() ? std::string(fallback) : result.text; };
  std::string text;
  switch (result.outcome) {
    case auth_outcome::ok: {
      _account = std::move(result.account);
      if (!_account) {
        bool ok = co_await tagged(tag, "NO", "[SERVERBUG] No mailboxes for this account");
        co_return ok;
      }
      _login = std::string(user);
      _hidden = std::move(result.hidden_capabilities);
      _state = state::authenticated;
      bool ok = co_await tagged(tag, "OK", "[CAPABILITY " + capabilities() + "] Logged in");
      co_return ok;
    }
    case auth_outcome::bad_credentials: {
      text = "[AUTHENTICATIONFAILED] " + said("Authentication failed");
      bool ok = co_await tagged(tag, "NO", text);
      co_return ok;
    }
    case auth_outcome::blocked:
      text = "* BYE " + said("Too many failed logins") + "\r\n";
      co_await send(text, true);
      co_return false;
    case auth_outcome::tls_required: {
      text = "[PRIVACYREQUIRED] " + said("This account needs TLS");
      bool ok = co_await tagged(tag, "NO", text);
      co_return ok;
    }
    case auth_outcome::protocol_not_allowed: {
      text = "[CONTACTADMIN] " + said("IMAP is not enabled for this account");
      bool ok = co_await tagged(tag, "NO", text);
      co_return ok;
    }
    case auth_outcome::temporary_failure: {
      text = "[UNAVAILABLE] " + said("Try again later");
      bool ok = co_await tagged(tag, "NO", text);
      co_return ok;
    }
  }
  co_return false;
}

kio::task<bool> session::on_authenticate(const std::string& tag, authenticate_command& cmd) {
  if (cmd.mechanism != "PLAIN") {
    bool ok = co_await tagged(tag, "NO", "Unsupported authentication mechanism");
    co_return ok;
  }
  if (!login_allowed()) {
    bool ok = co_await tagged(tag, "NO", "[PRIVACYREQUIRED] Use STARTTLS before logging in");
    co_return ok;
  }
  std::string response;
  if (cmd.initial_response) {
    response = *cmd.initial_response;
  } else {
    if (!co_await send("+ \r\n", true)) co_return false;
    auto line = co_await read_continuation_line();
    if (!line) co_return false;
    response = std::move(*line);
  }
  if (response == "*") {
    bool ok = co_await bad(tag, "Authentication cancelled");
    co_return ok;
  }
  auto credentials = proto::decode_sasl_plain_response(response);
  if (!credentials) {
    bool ok = co_await bad(tag, "Cannot decode the authentication response");
    co_return ok;
  }
  if (!credentials->authzid.empty() && credentials->authzid != credentials->authcid) {
    bool ok = co_await tagged(tag, "NO", "[AUTHORIZATIONFAILED] Proxy authorization is not supported");
    co_return ok;
  }
  bool ok = co_await on_login(tag, credentials->authcid, credentials->password);
  co_return ok;
}

kio::task<bool> session::on_enable(const std::string& tag, enable_command& cmd) {
  // RFC 5161: unknown (and hidden) names are ignored; ENABLED lists only
  // what this command newly enabled.
  std::string enabled;
  for (const auto& cap : cmd.capabilities) {
    if (!offered(cap)) continue;
    if (cap == "CONDSTORE" && !_condstore) {
      _condstore = true, enabled += " CONDSTORE";
    } else if (cap == "QRESYNC" && !_qresync) {
      _qresync = _condstore = true, enabled += " QRESYNC";  // RFC 7162 3.2.3: implies CONDSTORE
    } else if (cap == "UTF8=ACCEPT" && !_utf8) {
      _utf8 = true, enabled += " UTF8=ACCEPT";
    } else if (iequals(cap, "IMAP4REV2") && !_rev2) {
      // RFC 9051: mailbox names travel as UTF-8 from now on.
      _rev2 = _utf8 = true, enabled += " IMAP4rev2";
    }
  }
  if (!co_await send("* ENABLED" + enabled + "\r\n")) co_return false;
  bool ok = co_await tagged(tag, "OK", "ENABLE completed");
  co_return ok;
}

kio::task<bool> session::on_list(const std::string& tag, const list_command& cmd) {
  if (cmd.patterns.size() == 1 && cmd.patterns[0].empty() && !cmd.extended) {
    if (!co_await send("* LIST (\\Noselect) \"/\" \"\"\r\n")) co_return false;
    bool ok = co_await tagged(tag, "OK", "LIST completed");
    co_return ok;
  }
  auto mailboxes = co_await _account->list();
  if (!mailboxes) {
    bool ok = co_await refuse(tag, mailboxes.error());
    co_return ok;
  }
  // A parent that is only implied by its children ("Projects" of
  // "Projects/ringmail") is listed as \NonExistent (RFC 5258; \Noselect in
  // RFC 3501 terms) when a pattern reaches it.
  std::vector<char> implied(mailboxes->size(), 0);
  {
    std::vector<std::string> names;
    for (const auto& m : *mailboxes) names.push_back(m.name);
    std::sort(names.begin(), names.end());
    std::size_t existing = mailboxes->size();
    for (std::size_t k = 0; k < existing; ++k) {
      std::string name = (*mailboxes)[k].name;
      for (auto slash = name.rfind('/'); slash != std::string::npos && slash > 0; slash = name.rfind('/', slash - 1)) {
        std::string parent = name.substr(0, slash);
        if (std::binary_search(names.begin(), names.end(), parent)) break;
        names.insert(std::upper_bound(names.begin(), names.end(), parent), parent);
        mailbox_info virtual_parent;
        virtual_parent.name = parent;
        virtual_parent.has_children = true;
        mailboxes->push_back(std::move(virtual_parent));
        implied.push_back(1);
      }
    }
  }
  std::vector<std::size_t> order(mailboxes->size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return (*mailboxes)[a].name < (*mailboxes)[b].name; });
  auto pattern_matches = [&](std::string_view name) {
    for (const auto& pattern : cmd.patterns) {
      std::string full = cmd.reference + pattern;
      if (list_match(full, name) || (is_inbox(name) && list_match(full, "inbox"))) return true;
    }
    return false;
  };
  // RFC 5258 selection options: SUBSCRIBED and SPECIAL-USE (RFC 6154)
  // filter; REMOTE changes nothing here (no remote mailboxes).
  bool use_special = offered("SPECIAL-USE");
  auto selected_by_options = [&](const mailbox_info& m) {
    if (cmd.select_subscribed && !m.subscribed) return false;
    if (cmd.select_special_use && (!use_special || special_use_attribute(m.use).empty())) return false;
    return true;
  };
  bool filtering = cmd.select_subscribed || cmd.select_special_use;
  std::string out;
  std::vector<std::string> status_names;
  for (std::size_t k : order) {
    const auto& m = (*mailboxes)[k];
    if (!pattern_matches(m.name)) continue;
    bool selected = selected_by_options(m);
    // RECURSIVEMATCH: a mailbox whose descendants meet the selection is
    // listed with CHILDINFO even when it does not itself (RFC 5258 3.5).
    bool child_selected = false;
    if (cmd.select_recursive_match && filtering) {
      std::string prefix = m.name + "/";
      for (const auto& other : *mailboxes)
        if (other.name.size() > prefix.size() && other.name.compare(0, prefix.size(), prefix) == 0 &&
            selected_by_options(other))
          child_selected = true;
    }
    if (!selected && !child_selected) continue;
    out += "* LIST (";
    std::string attributes = m.has_children ? "\\HasChildren" : "\\HasNoChildren";
    if (implied[k]) attributes = cmd.extended ? "\\NonExistent \\HasChildren" : "\\Noselect \\HasChildren";
    std::string_view use = use_special ? special_use_attribute(m.use) : std::string_view();
    if (!use.empty()) attributes += ' ', attributes += use;
    if ((cmd.return_subscribed || cmd.select_subscribed) && m.subscribed) attributes += " \\Subscribed";
    out += attributes;
    out += ") \"/\" ";
    append_mailbox(out, m.name, encoding());
    if (child_selected) out += cmd.select_subscribed ? " (\"CHILDINFO\" (\"SUBSCRIBED\"))" : " (\"CHILDINFO\" (\"SPECIAL-USE\"))";
    out += "\r\n";
    if (cmd.return_status && selected && !implied[k]) {
      // LIST-STATUS (RFC 5819): the STATUS follows its LIST line.
      if (!out.empty() && !co_await send(out)) co_return false;
      out.clear();
      auto status = co_await _account->status(m.name);
      if (status) out += status_response(m.name, cmd.return_status, *status);
      // A mailbox that vanished between LIST and STATUS just has no STATUS.
    }
  }
  if (!out.empty() && !co_await send(out)) co_return false;
  bool ok = co_await tagged(tag, "OK", "LIST completed");
  co_return ok;
}

kio::task<bool> session::on_lsub(const std::string& tag, const lsub_command& cmd) {
  auto mailboxes = co_await _account->list();
  if (!mailboxes) {
    bool ok = co_await refuse(tag, mailboxes.error());
    co_return ok;
  }
  std::string out;
  std::string full = cmd.reference + cmd.pattern;
  bool use_special = offered("SPECIAL-USE");
  for (const auto& m : *mailboxes) {
    if (!m.subscribed || !(list_match(full, m.name) || (is_inbox(m.name) && list_match(full, "inbox")))) continue;
    // Outlook reads the special-use attributes from LSUB, not LIST.
    out += "* LSUB (";
    if (use_special) out += special_use_attribute(m.use);
    out += ") \"/\" ";
    append_mailbox(out, m.name, encoding());
    out += "\r\n";
  }
  if (!out.empty() && !co_await send(out)) co_return false;
  bool ok = co_await tagged(tag, "OK", "LSUB completed");
  co_return ok;
}

std::string session::status_response(std::string_view mailbox, std::uint16_t wanted, const mailbox_status& status) const {
  std::string out = "* STATUS ";
  append_mailbox(out, mailbox, encoding());
  out += " (";
  std::string items;
  auto item = [&](std::uint16_t bit, std::string_view name, std::uint64_t value) {
    if (!(wanted & bit)) return;
    if (!items.empty()) items += ' ';
    items += name;
    items += ' ';
    items += std::to_string(value);
  };
  item(status_messages, "MESSAGES", status.messages);
  if (!_rev2) item(status_recent, "RECENT", 0);  // IMAP4rev2 has no \Recent
  item(status_uid_next, "UIDNEXT", status.uid_next);
  item(status_uid_validity, "UIDVALIDITY", status.uid_validity);
  item(status_unseen, "UNSEEN", status.unseen);
  item(status_deleted, "DELETED", status.deleted);
  item(status_size, "SIZE", status.size_bytes);
  item(status_highest_modseq, "HIGHESTMODSEQ", status.highest_modseq);
  item(status_append_limit, "APPENDLIMIT", _config.limits.literal_size_max);
  out += items + ")\r\n";
  return out;
}

kio::task<bool> session::on_status(const std::string& tag, const status_command& cmd) {
  if (cmd.items & status_mailbox_id) {
    bool ok = co_await bad(tag, "MAILBOXID: OBJECTID is not available");
    co_return ok;
  }
  if ((cmd.items & status_highest_modseq) && !offered("CONDSTORE")) {
    bool ok = co_await bad(tag, "HIGHESTMODSEQ: CONDSTORE is not available");
    co_return ok;
  }
  if (cmd.items & status_highest_modseq) _condstore = true;  // RFC 7162 3.1
  auto status = co_await _account->status(cmd.mailbox);
  if (!status) {
    bool ok = co_await refuse(tag, status.error());
    co_return ok;
  }
  if (!co_await send(status_response(cmd.mailbox, cmd.items, *status))) co_return false;
  bool ok = co_await tagged(tag, "OK", "STATUS completed");
  co_return ok;
}

kio::task<bool> session::on_select(const std::string& tag, const select_command& cmd) {
  if (cmd.qresync && !_qresync) {
    bool ok = co_await bad(tag, "QRESYNC must be enabled first");  // RFC 7162 3.2.5
    co_return ok;
  }
  // RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected. RFC 7162
  // 3.2.11 and RFC 9051 7.1: the end of the old mailbox's responses is
  // marked with [CLOSED], so a client knows which mailbox later ones are for.
  bool was_selected = _state == state::selected;
  unselect();
  if (was_selected && (_qresync || _rev2) && !co_await send("* OK [CLOSED] Previous mailbox closed\r\n"))
    co_return false;
  auto snapshot = co_await _account->select(cmd.mailbox);
  if (!snapshot) {
    bool ok = co_await refuse(tag, snapshot.error());
    co_return ok;
  }
  if (cmd.condstore) _condstore = true;
  _snapshot = std::move(*snapshot);
  _selected = cmd.mailbox;
  _read_only = cmd.read_only;
  _state = state::selected;

  std::vector<std::string> keywords;
  std::size_t first_unseen = 0;
  for (std::size_t i = 0; i < _snapshot.messages.size(); ++i) {
    const auto& m = _snapshot.messages[i];
    for (const auto& k : m.keywords)
      if (std::find(keywords.begin(), keywords.end(), k) == keywords.end()) keywords.push_back(k);
    if (!first_unseen && !(m.flags & message_flag::seen)) first_unseen = i + 1;
  }
  std::string flags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
  for (const auto& k : keywords) flags += ' ' + k;
  std::string out = "* FLAGS (" + flags + ")\r\n";
  out += "* OK [PERMANENTFLAGS (" + (_read_only ? std::string() : flags + " \\*") + ")] Flags permitted\r\n";
  out += "* " + std::to_string(_snapshot.messages.size()) + " EXISTS\r\n";
  // IMAP4rev2 dropped RECENT and the UNSEEN code, and requires a LIST
  // response with the mailbox's name (RFC 9051 6.3.2).
  if (!_rev2) {
    out += "* 0 RECENT\r\n";
    if (first_unseen) out += "* OK [UNSEEN " + std::to_string(first_unseen) + "] First unseen\r\n";
  } else {
    out += "* LIST () \"/\" ";
    append_mailbox(out, cmd.mailbox, encoding());
    out += "\r\n";
  }
  out += "* OK [UIDVALIDITY " + std::to_string(_snapshot.uid_validity) + "] UIDs valid\r\n";
  out += "* OK [UIDNEXT " + std::to_string(_snapshot.uid_next) + "] Predicted next UID\r\n";
  if (offered("CONDSTORE")) out += "* OK [HIGHESTMODSEQ " + std::to_string(_snapshot.highest_modseq) + "] Highest\r\n";
  if (cmd.qresync && cmd.qresync->uid_validity == _snapshot.uid_validity) {
    // RFC 7162 3.2.5.1: what changed since the client's last sync, before
    // the tagged OK: the UIDs that vanished, then the flags that changed.
    auto vanished = co_await vanished_since(cmd.qresync->modseq, cmd.qresync->known_uids);
    if (!vanished) {
      bool ok = co_await refuse(tag, vanished.error());
      co_return ok;
    }
    if (!vanished->empty()) out += "* VANISHED (EARLIER) " + *vanished + "\r\n";
    for (std::size_t i = 0; i < _snapshot.messages.size(); ++i)
      if (_snapshot.messages[i].modseq > cmd.qresync->modseq) append_fetch_flags(out, i);
  }
  if (!co_await send(out)) co_return false;
  std::string text = std::string(_read_only ? "[READ-ONLY] " : "[READ-WRITE] ") + (cmd.read_only ? "EXAMINE" : "SELECT") +
                     " completed";
  bool ok = co_await tagged(tag, "OK", text);
  co_return ok;
}

kio::task<bool> session::on_create(const std::string& tag, const create_command& cmd) {
  std::string name = cmd.mailbox;
  while (!name.empty() && name.back() == '/') name.pop_back();  // "a/b/" creates "a/b"
  special_use use = special_use::none;
  for (const auto& attribute : cmd.special_use) {
    auto u = special_use_from(attribute);
    if (!u) {
      bool ok = co_await tagged(tag, "NO", "[USEATTR] Unsupported special-use attribute");
      co_return ok;
    }
    use = *u;
  }
  auto outcome = co_await _account->create(name, use);
  bool ok = co_await on_simple(tag, std::move(outcome), "CREATE completed");
  co_return ok;
}

kio::task<bool> session::on_simple(const std::string& tag, service_result<void> outcome, std::string_view done) {
  if (!outcome) {
    bool ok = co_await refuse(tag, outcome.error());
    co_return ok;
  }
  bool ok = co_await tagged(tag, "OK", done);
  co_return ok;
}

kio::task<bool> session::on_append(const std::string& tag, append_command& cmd) {
  std::vector<std::uint32_t> uids;
  std::uint32_t uid_validity = 0;
  // Every message is checked before the first is stored: MULTIAPPEND is
  // all or nothing.
  for (const auto& message : cmd.messages)
    if (!split_flags(message.flags)) {
      bool ok = co_await bad(tag, "Invalid system flag");
      co_return ok;
    }
  for (const auto& message : cmd.messages) {
    auto flags = split_flags(message.flags);
    append_request request;
    request.flags = flags->flags;
    request.keywords = std::move(flags->keywords);
    request.internal_date_ms = message.internal_date ? to_epoch_ms(*message.internal_date)
                                                     : std::int64_t(std::time(nullptr)) * 1000;
    request.message = message.message.bytes;
    auto appended = co_await _account->append(cmd.mailbox, request);
    if (!appended) {
      service_error e = appended.error();
      // MULTIAPPEND is all or nothing (RFC 3502 6.3.11): take back the
      // messages this command already added.
      if (!uids.empty()) {
        auto undone = co_await _account->expunge(cmd.mailbox, uids);
        (void)undone;  // the refusal below is what the client needs to know
      }
      if (e.code == service_errc::no_such_mailbox) {
        std::string text = "[TRYCREATE] " + (e.text.empty() ? std::string("No such mailbox") : e.text);
        bool ok = co_await tagged(tag, "NO", text);
        co_return ok;
      }
      bool ok = co_await refuse(tag, e);
      co_return ok;
    }
    uid_validity = appended->uid_validity;
    uids.push_back(appended->uid);
  }
  if (_state == state::selected && cmd.mailbox == _selected && !co_await refresh(true)) co_return false;
  std::string text = "[APPENDUID " + std::to_string(uid_validity) + " " + compress_sequence_set(uids) + "] APPEND completed";
  bool ok = co_await tagged(tag, "OK", text);
  co_return ok;
}

kio::task<bool> session::on_compress(const std::string& tag, const compress_command& cmd) {
  if (_stream.compressed()) {
    bool ok = co_await tagged(tag, "NO", "[COMPRESSIONACTIVE] DEFLATE is already active");
    co_return ok;
  }
  if (cmd.mechanism != "DEFLATE") {
    bool ok = co_await bad(tag, "Unknown compression mechanism");
    co_return ok;
  }
  // RFC 4978 3: our output is compressed from the byte after this OK's
  // CRLF; the client's from the byte after its command's CRLF, so what we
  // already hold past the command is compressed input.
  if (!co_await tagged(tag, "OK", "DEFLATE active", true)) co_return false;
  _reader.reset();
  auto started = _stream.start_compression();
  co_return started.has_value();
}

kio::task<bool> session::on_idle(const std::string& tag) {
  if (!co_await send("+ idling\r\n", true)) co_return false;
  bool watching = _state == state::selected;
  // Cleared before watch(): the service may report a change it saw since our
  // last snapshot from inside watch() itself.
  _changed = false;
  if (watching) _account->watch(_selected, this);
  // Push, not polling: mailbox_changed() interrupts the read below, so one
  // wait covers both "the client said DONE" and "the mailbox changed".
  const std::uint64_t deadline_ns = kio::monotonic_ns() + _config.limits.idle_timeout_ms * 1'000'000u;
  std::optional<bool> result;
  while (!result) {
    if (_changed && watching) {
      _changed = false;
      if (!co_await refresh(true) || !(co_await _stream.flush()).has_value()) {
        result = false;
        continue;
      }
      // Look again before reading: a change that landed during the refresh
      // found no read to interrupt, so only `_changed` remembers it.
      continue;
    }
    std::uint64_t now_ns = kio::monotonic_ns();
    if (now_ns >= deadline_ns) {
      co_await send("* BYE Autologout; idle for too long\r\n", true);
      result = false;
      continue;
    }
    _conn.options().idle_timeout_ms = std::max<std::uint64_t>(1, (deadline_ns - now_ns) / 1'000'000u);
    _stream.set_between_commands(true);
    auto chunk = co_await _stream.read_some();
    _stream.set_between_commands(false);
    if (!chunk) {
      auto what = chunk.error().what;
      if (what == proto::stream_error::kind::interrupted || what == proto::stream_error::kind::timeout) continue;
      if (what == proto::stream_error::kind::shutdown) co_await send("* BYE Server shutting down\r\n", true);
      result = false;
      continue;
    }
    std::string_view input(reinterpret_cast<const char*>(chunk->data()), chunk->size());
    read_event ev = _reader.read_continuation(input);
    _stream.consume(ev.consumed_bytes);
    if (ev.status == read_status::need_more) continue;
    if (ev.status == read_status::line && iequals(ev.bytes, "DONE")) {
      if (watching && _changed && !co_await refresh(true)) {
        result = false;
        continue;
      }
      result = co_await tagged(tag, "OK", "IDLE terminated");
    } else {
      result = co_await bad(tag, "Expected DONE");
    }
  }
  if (watching) _account->watch({}, nullptr);
  co_return *result;
}

kio::task<bool> session::on_expunge(const std::string& tag, const expunge_command& cmd) {
  if (_read_only) {
    bool ok = co_await tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
    co_return ok;
  }
  std::optional<std::vector<std::size_t>> only;
  if (cmd.uid) {
    only = resolve_indices(cmd.set, true);
    if (!only) {
      bool ok = co_await bad(tag, "Invalid UID set");
      co_return ok;
    }
  }
  std::vector<std::uint32_t> uids;
  auto consider = [&](std::size_t i) {
    if (_snapshot.messages[i].flags & message_flag::deleted) uids.push_back(_snapshot.messages[i].uid);
  };
  if (only) {
    for (auto i : *only) consider(i);
  } else {
    for (std::size_t i = 0; i < _snapshot.messages.size(); ++i) consider(i);
  }
  if (!uids.empty()) {
    auto expunged = co_await _account->expunge(_selected, uids);
    if (!expunged) {
      bool ok = co_await refuse(tag, expunged.error());
      co_return ok;
    }
  }
  if (!co_await refresh(true)) co_return false;
  std::string text = std::string(cmd.uid ? "UID EXPUNGE" : "EXPUNGE") + " completed";
  // RFC 7162 3.2.10: the client learns the modseq its cache is now at.
  if (_condstore) text = "[HIGHESTMODSEQ " + std::to_string(_snapshot.highest_modseq) + "] " + text;
  bool ok = co_await tagged(tag, "OK", text);
  co_return ok;
}

kio::task<bool> session::on_close(const std::string& tag, bool expunge) {
  if (expunge && !_read_only) {
    std::vector<std::uint32_t> uids;
    for (const auto& m : _snapshot.messages)
      if (m.flags & message_flag::deleted) uids.push_back(m.uid);
    if (!uids.empty()) {
      // CLOSE expunges silently (RFC 3501 6.4.2); a failure leaves the
      // messages for the next EXPUNGE and is not the client's problem.
      auto expunged = co_await _account->expunge(_selected, uids);
      (void)expunged;
    }
  }
  unselect();
  std::string_view text = expunge ? "CLOSE completed" : "UNSELECT completed";
  bool ok = co_await tagged(tag, "OK", text);
  co_return ok;
}

std::optional<std::vector<std::size_t>> session::resolve_indices(const sequence_set& set, bool uid) const {
  const auto& messages = _snapshot.messages;
  std::vector<std::size_t> out;
  if (set.saved_result) {
    // "$": the saved UIDs still present (RFC 5182 2.1), for UID and
    // sequence-number commands alike.
    for (auto uid : _saved)
      if (auto i = index_of_uid(uid); i < messages.size()) out.push_back(i);
    return out;
  }
  if (uid) {
    std::uint32_t largest = messages.empty() ? 0 : messages.back().uid;
    auto ranges = resolve(set, largest);
    // Walk ranges and messages together: linear in both.
    std::size_t i = 0;
    for (const auto& r : ranges) {
      while (i < messages.size() && messages[i].uid < r.first) ++i;
      while (i < messages.size() && messages[i].uid <= r.last) out.push_back(i++);
    }
    return out;
  }
  auto ranges = resolve(set, std::uint32_t(messages.size()));
  for (const auto& r : ranges) {
    if (r.first == 0 || r.last > messages.size()) return std::nullopt;
    for (std::uint32_t n = r.first; n <= r.last; ++n) out.push_back(n - 1);
  }
  return out;
}

std::size_t session::index_of_uid(std::uint32_t uid) const {
  auto it = std::lower_bound(_snapshot.messages.begin(), _snapshot.messages.end(), uid,
                             [](const message_info& m, std::uint32_t u) { return m.uid < u; });
  if (it == _snapshot.messages.end() || it->uid != uid) return _snapshot.messages.size();
  return std::size_t(it - _snapshot.messages.begin());
}

kio::task<service_result<std::string>> session::vanished_since(std::uint64_t modseq,
                                                              const std::optional<sequence_set>& within) {
  auto history = co_await _account->expunged_since(_selected, modseq);
  if (!history) co_return kio::fail(history.error());
  // UIDs above uid_next - 1 were never assigned, so "*" means that.
  std::uint32_t largest = _snapshot.uid_next > 1 ? _snapshot.uid_next - 1 : 0;
  std::vector<sequence_range> limit;
  if (within && !within->saved_result) limit = resolve(*within, largest);
  else limit.push_back({1, std::max<std::uint32_t>(largest, 1)});
  std::vector<std::uint32_t> uids;
  if (history->complete) {
    for (auto uid : history->uids)
      if (contains(limit, uid)) uids.push_back(uid);
  } else {
    // The history was trimmed: every UID in range that is not here now may
    // have vanished (RFC 7162 3.2.5.2 allows reporting too many). Walk the
    // gaps between present UIDs, linear in ranges + messages.
    std::size_t i = 0;
    for (const auto& r : limit) {
      std::uint64_t next = r.first;
      while (next <= r.last) {
        while (i < _snapshot.messages.size() && _snapshot.messages[i].uid < next) ++i;
        std::uint64_t stop = r.last;
        if (i < _snapshot.messages.size() && _snapshot.messages[i].uid <= r.last) stop = _snapshot.messages[i].uid - 1;
        if (next <= stop && stop - next > 1'000'000) co_return kio::fail(service_error{service_errc::temporary, "Resync too large"});
        for (std::uint64_t u = next; u <= stop; ++u) uids.push_back(std::uint32_t(u));
        next = stop + 2;
      }
    }
  }
  std::string text;
  append_compressed_sorted(text, uids);
  co_return text;
}

void session::append_fetch_flags(std::string& out, std::size_t index) const {
  const auto& m = _snapshot.messages[index];
  out += "* " + std::to_string(index + 1) + " FETCH (UID " + std::to_string(m.uid) + " FLAGS ";
  append_flags(out, m);
  if (_condstore) out += " MODSEQ (" + std::to_string(m.modseq) + ")";
  out += ")\r\n";
}

kio::task<bool> session::refresh(bool allow_expunge, const std::vector<std::uint32_t>& silent,
                                 const std::vector<std::uint32_t>& forced, bool silent_modseq) {
  auto changes = co_await _account->changes_since(_selected, _snapshot.uid_validity, _snapshot.highest_modseq);
  if (!changes) {
    // The mailbox went away under us (deleted by another session).
    if (changes.error().code == service_errc::no_such_mailbox) {
      co_await send("* BYE Selected mailbox was deleted\r\n", true);
      co_return false;
    }
    co_return true;  // a transient failure: the next command tries again
  }
  if (!changes->full) {
    std::string out = apply_changes(*changes, allow_expunge, silent, forced, silent_modseq);
    if (out.empty()) co_return true;
    bool ok = co_await send(out);
    co_return ok;
  }
  auto* fresh = &changes->snapshot;
  const auto& old_messages = _snapshot.messages;
  const auto& new_messages = fresh->messages;
  // Which old messages survive (both lists ascend by UID).
  std::vector<char> kept(old_messages.size(), 0);
  std::size_t vanished = 0;
  {
    std::size_t j = 0;
    for (std::size_t i = 0; i < old_messages.size(); ++i) {
      while (j < new_messages.size() && new_messages[j].uid < old_messages[i].uid) ++j;
      kept[i] = j < new_messages.size() && new_messages[j].uid == old_messages[i].uid;
      if (!kept[i]) ++vanished;
    }
  }
  if (vanished && !allow_expunge) co_return true;
  std::string out;
  if (_qresync) {
    // RFC 7162 3.2.10: after ENABLE QRESYNC, expunges are VANISHED UIDs.
    std::vector<std::uint32_t> gone;
    for (std::size_t i = 0; i < old_messages.size(); ++i)
      if (!kept[i]) gone.push_back(old_messages[i].uid);
    if (!gone.empty()) {
      out += "* VANISHED ";
      append_compressed_sorted(out, gone);
      out += "\r\n";
    }
  } else {
    // EXPUNGE in descending order: each number is valid when it is sent.
    for (std::size_t i = old_messages.size(); i-- > 0;)
      if (!kept[i]) out += "* " + std::to_string(i + 1) + " EXPUNGE\r\n";
  }
  std::size_t survivors = old_messages.size() - vanished;
  std::uint32_t old_uid_max = old_messages.empty() ? 0 : old_messages.back().uid;
  mailbox_snapshot previous = std::move(_snapshot);
  _snapshot = std::move(*fresh);
  {
    std::size_t j = 0;
    for (std::size_t i = 0; i < previous.messages.size(); ++i) {
      if (!kept[i]) continue;
      const auto& before = previous.messages[i];
      const auto& after = _snapshot.messages[j];
      bool is_forced = std::find(forced.begin(), forced.end(), after.uid) != forced.end();
      bool changed = before.flags != after.flags || before.keywords != after.keywords;
      bool is_silent = std::find(silent.begin(), silent.end(), after.uid) != silent.end();
      if (is_forced || (changed && !is_silent)) {
        append_fetch_flags(out, j);
      } else if (is_silent && _condstore && silent_modseq) {
        // RFC 7162 3.1.3: .SILENT still owes the client the new MODSEQ.
        out += "* " + std::to_string(j + 1) + " FETCH (UID " + std::to_string(after.uid) + " MODSEQ (" +
               std::to_string(after.modseq) + "))\r\n";
      }
      ++j;
    }
  }
  // New messages have UIDs above every old one; anything else is a store bug
  // we would rather see in a log than paper over.
  if (_snapshot.messages.size() != survivors) {
    out += "* " + std::to_string(_snapshot.messages.size()) + " EXISTS\r\n";
  }
  (void)old_uid_max;
  if (out.empty()) co_return true;
  bool ok = co_await send(out);
  co_return ok;
}

std::string session::apply_changes(mailbox_changes& changes, bool allow_expunge,
                                   const std::vector<std::uint32_t>& silent_list,
                                   const std::vector<std::uint32_t>& forced_list, bool silent_modseq) {
  auto& messages = _snapshot.messages;
  // Our messages that are gone, ascending (both lists ascend by UID).
  std::vector<std::size_t> gone;
  for (auto uid : changes.expunged)
    if (auto i = index_of_uid(uid); i < messages.size()) gone.push_back(i);
  // As with a whole snapshot: no expunge may be seen now, so nothing is
  // taken; the same changes come again with the next refresh.
  if (!gone.empty() && !allow_expunge) return {};
  std::string out;
  if (!gone.empty()) {
    if (_qresync) {
      std::vector<std::uint32_t> uids;
      uids.reserve(gone.size());
      for (auto i : gone) uids.push_back(messages[i].uid);
      out += "* VANISHED ";
      append_compressed_sorted(out, uids);
      out += "\r\n";
    } else {
      for (std::size_t k = gone.size(); k-- > 0;) out += "* " + std::to_string(gone[k] + 1) + " EXPUNGE\r\n";
    }
    std::size_t write = gone.front(), next_gone = 0;
    for (std::size_t read = gone.front(); read < messages.size(); ++read) {
      if (next_gone < gone.size() && gone[next_gone] == read) {
        ++next_gone;
        continue;
      }
      messages[write++] = std::move(messages[read]);
    }
    messages.resize(write);
  }
  const std::size_t survivors = messages.size();
  std::vector<std::uint32_t> silent(silent_list), forced(forced_list);
  std::sort(silent.begin(), silent.end());
  std::sort(forced.begin(), forced.end());
  auto listed = [](const std::vector<std::uint32_t>& v, std::uint32_t uid) {
    return std::binary_search(v.begin(), v.end(), uid);
  };
  // Which UIDs get "FETCH (FLAGS ...)" and which only "UID n MODSEQ (m)".
  std::vector<std::uint32_t> report_flags, report_modseq;
  for (auto& after : changes.snapshot.messages) {
    auto i = index_of_uid(after.uid);
    if (i == messages.size()) {
      // New. UIDs only grow, so it goes at the end; keep the order anyway.
      auto at = std::lower_bound(messages.begin(), messages.end(), after.uid,
                                 [](const message_info& m, std::uint32_t u) { return m.uid < u; });
      messages.insert(at, std::move(after));
      continue;
    }
    auto& before = messages[i];
    bool changed = before.flags != after.flags || before.keywords != after.keywords;
    bool is_silent = listed(silent, after.uid);
    if (listed(forced, after.uid) || (changed && !is_silent)) report_flags.push_back(after.uid);
    else if (is_silent && _condstore && silent_modseq) report_modseq.push_back(after.uid);
    before = std::move(after);
  }
  // A forced message that did not change (STORE of a flag it had) still
  // gets its FETCH.
  for (auto uid : forced)
    if (index_of_uid(uid) < messages.size()) report_flags.push_back(uid);
  std::sort(report_flags.begin(), report_flags.end());
  report_flags.erase(std::unique(report_flags.begin(), report_flags.end()), report_flags.end());
  // In sequence order, as a whole-snapshot refresh sends them.
  std::size_t f = 0, m = 0;
  while (f < report_flags.size() || m < report_modseq.size()) {
    bool take_flags = m == report_modseq.size() || (f < report_flags.size() && report_flags[f] < report_modseq[m]);
    std::uint32_t uid = take_flags ? report_flags[f++] : report_modseq[m++];
    auto j = index_of_uid(uid);
    if (j == messages.size()) continue;
    if (take_flags) {
      append_fetch_flags(out, j);
    } else {
      // RFC 7162 3.1.3: .SILENT still owes the client the new MODSEQ.
      out += "* " + std::to_string(j + 1) + " FETCH (UID " + std::to_string(uid) + " MODSEQ (" +
             std::to_string(messages[j].modseq) + "))\r\n";
    }
  }
  if (messages.size() != survivors) out += "* " + std::to_string(messages.size()) + " EXISTS\r\n";
  _snapshot.uid_validity = changes.snapshot.uid_validity;
  _snapshot.uid_next = changes.snapshot.uid_next;
  _snapshot.highest_modseq = changes.snapshot.highest_modseq;
  return out;
}

kio::task<bool> session::on_search(const std::string& tag, const search_command& cmd) {
  if (!cmd.charset.empty() && cmd.charset != "UTF-8" && cmd.charset != "US-ASCII") {
    if (cmd.returns.save) _saved.clear();  // RFC 5182 2.1: a failed SAVE empties "$"
    bool ok = co_await tagged(tag, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
    co_return ok;
  }
  bool need_message = false, uses_modseq = false;
  for (const auto& key : cmd.keys) {
    need_message = need_message || key_needs_message(key);
    uses_modseq = uses_modseq || key_uses_modseq(key);
  }
  if (uses_modseq && !offered("CONDSTORE")) {
    bool ok = co_await bad(tag, "MODSEQ: CONDSTORE is not available");
    co_return ok;
  }
  if (uses_modseq) _condstore = true;  // RFC 7162 3.1: a MODSEQ search enables CONDSTORE
  std::vector<std::size_t> hits;
  bool found = co_await evaluate_search(cmd.keys, need_message, hits);
  if (!found) co_return false;

  search_return returns = cmd.returns;
  // IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 6.4.4); without
  // RETURN that means ALL.
  bool extended = returns.present || _rev2;
  if (extended && !returns.min && !returns.max && !returns.count && !returns.all && !returns.save) returns.all = true;
  auto number = [&](std::size_t i) { return cmd.uid ? _snapshot.messages[i].uid : std::uint32_t(i + 1); };
  if (returns.save) {
    // RFC 5182 2.4: SAVE with only MIN and/or MAX saves just those.
    _saved.clear();
    if (!hits.empty() && (returns.min || returns.max) && !returns.all && !returns.count) {
      if (returns.min) _saved.push_back(_snapshot.messages[hits.front()].uid);
      if (returns.max && hits.size() > 1) _saved.push_back(_snapshot.messages[hits.back()].uid);
    } else {
      for (auto i : hits) _saved.push_back(_snapshot.messages[i].uid);
    }
  }
  std::string out;
  if (!extended) {
    out = "* SEARCH";
    std::uint64_t highest = 0;
    for (auto i : hits) {
      out += ' ';
      out += std::to_string(number(i));
      highest = std::max(highest, _snapshot.messages[i].modseq);
    }
    if (uses_modseq && !hits.empty()) out += " (MODSEQ " + std::to_string(highest) + ")";
    out += "\r\n";
  } else if (returns.min || returns.max || returns.all || returns.count) {
    // RFC 5182 2.4: with SAVE alone there is no ESEARCH response.
    // RFC 4731: tag-string is a string; a tag has no quote or backslash.
    out = "* ESEARCH (TAG \"" + tag + "\")";
    if (cmd.uid) out += " UID";
    std::uint64_t highest = 0;
    if (!hits.empty()) {
      if (returns.min) {
        out += " MIN " + std::to_string(number(hits.front()));
        highest = std::max(highest, _snapshot.messages[hits.front()].modseq);
      }
      if (returns.max) {
        out += " MAX " + std::to_string(number(hits.back()));
        highest = std::max(highest, _snapshot.messages[hits.back()].modseq);
      }
      if (returns.all) {
        std::vector<std::uint32_t> numbers;
        numbers.reserve(hits.size());
        for (auto i : hits) numbers.push_back(number(i));
        out += " ALL ";
        append_compressed_sorted(out, numbers);
      }
      if (returns.all || returns.count)
        for (auto i : hits) highest = std::max(highest, _snapshot.messages[i].modseq);
    }
    if (returns.count) out += " COUNT " + std::to_string(hits.size());
    if (uses_modseq && !hits.empty()) out += " MODSEQ " + std::to_string(highest);
    out += "\r\n";
  }
  if (!out.empty() && !co_await send(out)) co_return false;
  if (!co_await refresh(cmd.uid)) co_return false;
  std::string text = std::string(cmd.uid ? "UID SEARCH" : "SEARCH") + " completed";
  bool ok = co_await tagged(tag, "OK", text);
  co_return ok;
}

kio::task<std::optional<std::vector<std::size_t>>> session::run_search_program(const std::string& tag,
                                                                               std::string_view charset,
                                                                               const std::vector<search_key>& keys,
                                                                               bool& alive) {
  alive = true;
  if (!charset.empty() && charset != "UTF-8" && charset != "US-ASCII") {
    alive = co_await tagged(tag, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
    co_return std::nullopt;
  }
  bool need_message = false, uses_modseq = false;
  for (const auto& key : keys) {
    need_message = need_message || key_needs_message(key);
    uses_modseq = uses_modseq || key_uses_modseq(key);
  }
  if (uses_modseq && !offered("CONDSTORE")) {
    alive = co_await bad(tag, "MODSEQ: CONDSTORE is not available");
    co_return std::nullopt;
  }
  if (uses_modseq) _condstore = true;
  std::vector<std::size_t> hits;
  alive = co_await evaluate_search(keys, need_message, hits);
  if (!alive) co_return std::nullopt;
  co_return hits;
}

kio::task<std::optional<std::string>> session::next_message(read_ahead& r) {
  // A batch: up to this many messages or bytes (at least one message).
  // Each batch costs a round trip to the owner core and one to each other
  // core holding blobs; on a busy machine a round trip is a scheduler
  // wake-up (milliseconds), so a batch is as large as the byte bound lets
  // it be.
  constexpr std::size_t batch_messages_max = 512;
  constexpr std::uint64_t batch_bytes_max = 4 * 1024 * 1024;
  if (r.next >= r.uids.size()) co_return std::nullopt;
  if (r.next >= r.batch_first + r.batch.size()) {
    std::size_t end = r.next;
    std::uint64_t bytes = 0;
    while (end < r.uids.size() && end - r.next < batch_messages_max &&
           (end == r.next || bytes + r.sizes[end] <= batch_bytes_max))
      bytes += r.sizes[end++];
    std::span<const std::uint32_t> uids(r.uids.data() + r.next, end - r.next);
    auto read = co_await _account->read_messages(_selected, uids);
    r.batch_first = r.next;
    r.batch.clear();
    if (read && read->size() == uids.size()) r.batch = std::move(*read);
    else r.batch.resize(uids.size());  // the mailbox went away: nothing to read
  }
  std::optional<std::string> out = std::move(r.batch[r.next - r.batch_first]);
  ++r.next;
  co_return out;
}

kio::task<std::vector<sort_fields>> session::sort_fields_of(const std::vector<std::size_t>& hits, bool uid) {
  std::vector<sort_fields> out;
  out.reserve(hits.size());
  std::vector<message_info> messages;
  read_ahead reads;
  for (auto i : hits) {
    messages.push_back(_snapshot.messages[i]);
    reads.add(_snapshot.messages[i]);
  }
  for (std::size_t k = 0; k < messages.size(); ++k) {
    auto bytes = co_await next_message(reads);
    std::string message = bytes ? std::move(*bytes) : std::string();
    std::uint32_t number = uid ? messages[k].uid : std::uint32_t(hits[k] + 1);
    out.push_back(fields_of(message, messages[k], number));
  }
  co_return out;
}

kio::task<bool> session::on_sort(const std::string& tag, const sort_command& cmd) {
  if (cmd.returns.present) {
    bool ok = co_await bad(tag, "SORT RETURN: ESORT is not available");
    co_return ok;
  }
  bool alive = true;
  auto hits = co_await run_search_program(tag, cmd.charset, cmd.keys, alive);
  if (!hits) co_return alive;
  auto fields = co_await sort_fields_of(*hits, cmd.uid);
  std::vector<std::size_t> order(fields.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  // RFC 5256: ties under every criterion go by sequence number, which is
  // the order of `hits`; stable_sort keeps it.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    for (const auto& criterion : cmd.criteria) {
      int c = compare_by(criterion.key, fields[a], fields[b]);
      if (c != 0) return criterion.reverse ? c > 0 : c < 0;
    }
    return false;
  });
  std::string out = "* SORT";
  for (auto k : order) out += ' ' + std::to_string(fields[k].keys.number);
  out += "\r\n";
  if (!co_await send(out)) co_return false;
  if (!co_await refresh(cmd.uid)) co_return false;
  std::string text = std::string(cmd.uid ? "UID SORT" : "SORT") + " completed";
  bool ok = co_await tagged(tag, "OK", text);
  co_return ok;
}

kio::task<bool> session::on_thread(const std::string& tag, const thread_command& cmd) {
  if (cmd.algorithm == thread_algorithm::refs) {
    bool ok = co_await bad(tag, "THREAD=REFS is not available");
    co_return ok;
  }
  bool alive = true;
  auto hits = co_await run_search_program(tag, cmd.charset, cmd.keys, alive);
  if (!hits) co_return alive;
  auto fields = co_await sort_fields_of(*hits, cmd.uid);
  std::vector<search::message_keys> keys;
  keys.reserve(fields.size());
  for (auto& f : fields) keys.push_back(std::move(f.keys));
  std::string threads = cmd.algorithm == thread_algorithm::references ? search::thread_references(keys)
                                                                      : search::thread_ordered_subject(keys);
  std::string out = "* THREAD";
  if (!threads.empty()) out += ' ' + threads;
  out += "\r\n";
  if (!co_await send(out)) co_return false;
  if (!co_await refresh(cmd.uid)) co_return false;
  std::string text = std::string(cmd.uid ? "UID THREAD" : "THREAD") + " completed";
  bool ok = co_await tagged(tag, "OK", text);
  co_return ok;
}

kio::task<bool> session::evaluate_search(const std::vector<search_key>& keys, bool need_message,
                                         std::vector<std::size_t>& hits) {
  search_context c;
  c.largest_seq = std::uint32_t(_snapshot.messages.size());
  c.largest_uid = _snapshot.messages.empty() ? 0 : _snapshot.messages.back().uid;
  c.saved = &_saved;
  c.now_ms = std::int64_t(std::time(nullptr)) * 1000;
  // A copy: awaiting read_message must not invalidate what we iterate.
  std::vector<message_info> messages = _snapshot.messages;
  read_ahead reads;
  if (need_message)
    for (const auto& m : messages) reads.add(m);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    std::string message;
    if (need_message) {
      auto bytes = co_await next_message(reads);
      if (bytes) message = std::move(*bytes);  // an expunged message matches no text key
    }
    c.seq = std::uint32_t(i + 1);
    c.info = &messages[i];
    c.message = message;
    c.body_text.reset();
    c.header_text.reset();
    c.sent_day.reset();
    bool all = true;
    for (const auto& key : keys)
      if (!matches(key, c)) {
        all = false;
        break;
      }
    if (all) hits.push_back(i);
  }
  co_return true;
}

kio::task<bool> session::on_fetch(const std::string& tag, const fetch_command& cmd) {
  auto indices = resolve_indices(cmd.set, cmd.uid);
  if (!indices) {
    bool ok = co_await bad(tag, "Invalid message sequence set");
    co_return ok;
  }
  bool need_message = false, sets_seen = false, want_modseq = cmd.changed_since.has_value();
  for (const auto& a : cmd.attributes) {
    switch (a.kind) {
      case fetch_kind::envelope: case fetch_kind::rfc822_header: case fetch_kind::body:
      case fetch_kind::body_structure:
        need_message = true;
        break;
      case fetch_kind::rfc822: case fetch_kind::rfc822_text:
        need_message = true;
        sets_seen = true;
        break;
      case fetch_kind::body_section:
        need_message = true;
        if (!a.peek) sets_seen = true;
        break;
      case fetch_kind::modseq: want_modseq = true; break;
      case fetch_kind::flags: case fetch_kind::internal_date: case fetch_kind::rfc822_size: case fetch_kind::uid:
        break;
      case fetch_kind::binary:
        need_message = true;
        if (!a.peek) sets_seen = true;
        break;
      case fetch_kind::binary_size: need_message = true; break;
      case fetch_kind::save_date: case fetch_kind::email_id: case fetch_kind::thread_id: {
        bool ok = co_await bad(tag, "Fetch item not supported");
        co_return ok;
      }
    }
  }
  if (want_modseq) _condstore = true;  // RFC 7162 3.1
  if (_read_only) sets_seen = false;
  if (cmd.vanished) {
    if (!_qresync) {
      bool ok = co_await bad(tag, "VANISHED needs ENABLE QRESYNC");  // RFC 7162 3.2.6
      co_return ok;
    }
    // Expunged UIDs within the command's set, before the FETCHes.
    auto vanished = co_await vanished_since(*cmd.changed_since, cmd.set);
    if (!vanished) {
      bool ok = co_await refuse(tag, vanished.error());
      co_return ok;
    }
    if (!vanished->empty() && !co_await send("* VANISHED (EARLIER) " + *vanished + "\r\n")) co_return false;
  }

  // \Seen first, so the responses carry the flags the client will have.
  std::vector<std::uint32_t> seen_now;
  if (sets_seen) {
    std::vector<std::uint32_t> uids;
    for (auto i : *indices)
      if (!(_snapshot.messages[i].flags & message_flag::seen)) uids.push_back(_snapshot.messages[i].uid);
    if (!uids.empty()) {
      flags_change change;
      change.flags = message_flag::seen;
      change.op = flags_op::add;
      auto stored = co_await _account->store_flags(_selected, uids, change);
      if (stored) {
        for (auto uid : stored->uids) {
          auto i = index_of_uid(uid);
          if (i == _snapshot.messages.size()) continue;
          _snapshot.messages[i].flags |= message_flag::seen;
          _snapshot.messages[i].modseq = stored->modseq;
          seen_now.push_back(uid);
        }
      }
    }
  }

  // The messages the loop below reads, in its order (same filters).
  read_ahead reads;
  if (need_message) {
    for (auto index : *indices) {
      if (index >= _snapshot.messages.size()) break;
      const message_info& info = _snapshot.messages[index];
      if (cmd.changed_since && info.modseq <= *cmd.changed_since) continue;
      reads.add(info);
    }
  }
  for (auto index : *indices) {
    if (index >= _snapshot.messages.size()) break;
    const message_info info = _snapshot.messages[index];
    if (cmd.changed_since && info.modseq <= *cmd.changed_since) continue;
    std::string message;
    mime::message_tree tree;
    if (need_message) {
      auto bytes = co_await next_message(reads);
      if (!bytes) continue;  // expunged meanwhile: RFC 3501 lets us omit it
      message = std::move(*bytes);
      tree = mime::parse_message(message);
    }
    std::string out = "* " + std::to_string(index + 1) + " FETCH (";
    std::string items;
    auto item = [&](std::string_view text) {
      if (!items.empty()) items += ' ';
      items += text;
    };
    bool sent_uid = false, sent_flags = false, sent_modseq = false;
    if (cmd.uid) {
      item("UID " + std::to_string(info.uid));
      sent_uid = true;
    }
    for (const auto& a : cmd.attributes) {
      switch (a.kind) {
        case fetch_kind::uid:
          if (!sent_uid) item("UID " + std::to_string(info.uid));
          sent_uid = true;
          break;
        case fetch_kind::flags: {
          if (sent_flags) break;
          std::string f = "FLAGS ";
          append_flags(f, info);
          item(f);
          sent_flags = true;
          break;
        }
        case fetch_kind::internal_date: {
          std::string d = "INTERNALDATE ";
          append_internal_date(d, info.internal_date_ms);
          item(d);
          break;
        }
        case fetch_kind::rfc822_size: item("RFC822.SIZE " + std::to_string(info.size_bytes)); break;
        case fetch_kind::modseq:
          if (!sent_modseq) item("MODSEQ (" + std::to_string(info.modseq) + ")");
          sent_modseq = true;
          break;
        case fetch_kind::envelope: item("ENVELOPE " + mime::render_envelope(tree, message, 0)); break;
        case fetch_kind::body: item("BODY " + mime::render_bodystructure(tree, message, false)); break;
        case fetch_kind::body_structure: item("BODYSTRUCTURE " + mime::render_bodystructure(tree, message, true)); break;
        case fetch_kind::rfc822:
        case fetch_kind::rfc822_header:
        case fetch_kind::rfc822_text:
        case fetch_kind::body_section: {
          std::string section;
          std::string name;
          if (a.kind == fetch_kind::rfc822) name = "RFC822";
          else if (a.kind == fetch_kind::rfc822_header) section = "HEADER", name = "RFC822.HEADER";
          else if (a.kind == fetch_kind::rfc822_text) section = "TEXT", name = "RFC822.TEXT";
          else section = section_text_of(a.section), name = "BODY[" + section + "]";
          auto data = mime::section_bytes(tree, message, section);
          std::string_view bytes = data ? data->bytes() : std::string_view();
          if (a.partial) {
            std::uint64_t origin = std::min<std::uint64_t>(a.partial->origin, bytes.size());
            bytes = bytes.substr(origin, std::min<std::uint64_t>(a.partial->count, bytes.size() - origin));
            name += "<" + std::to_string(a.partial->origin) + ">";
          }
          std::string text = name + " ";
          append_literal(text, bytes);
          item(text);
          break;
        }
        case fetch_kind::binary:
        case fetch_kind::binary_size: {
          auto decoded = binary_section(tree, message, a.section);
          if (!decoded) {
            // RFC 3516 4.3: a transfer encoding we cannot undo.
            bool ok = co_await tagged(tag, "NO", "[UNKNOWN-CTE] Cannot decode the part's Content-Transfer-Encoding");
            co_return ok;
          }
          std::string name = section_text_of(a.section);
          if (a.kind == fetch_kind::binary_size) {
            item("BINARY.SIZE[" + name + "] " + std::to_string(decoded->size()));
            break;
          }
          std::string_view bytes = *decoded;
          name = "BINARY[" + name + "]";
          if (a.partial) {
            std::uint64_t origin = std::min<std::uint64_t>(a.partial->origin, bytes.size());
            bytes = bytes.substr(origin, std::min<std::uint64_t>(a.partial->count, bytes.size() - origin));
            name += "<" + std::to_string(a.partial->origin) + ">";
          }
          std::string text = name + " ";
          // literal8 when the bytes hold a NUL (RFC 3516 4.2).
          if (bytes.find('\0') != std::string_view::npos) text += '~';
          append_literal(text, bytes);
          item(text);
          break;
        }
        case fetch_kind::save_date: case fetch_kind::email_id: case fetch_kind::thread_id:
          break;  // refused above
      }
    }
    // A \Seen we just set is reported with the message (RFC 3501 6.4.5).
    if (!sent_flags && std::find(seen_now.begin(), seen_now.end(), info.uid) != seen_now.end()) {
      std::string f = "FLAGS ";
      append_flags(f, info);
      item(f);
      sent_flags = true;
    }
    // RFC 7162 3.1.4.1: with CONDSTORE on, FLAGS travel with MODSEQ;
    // CHANGEDSINCE always reports it.
    if ((cmd.changed_since || (_condstore && sent_flags)) && !sent_modseq)
      item("MODSEQ (" + std::to_string(info.modseq) + ")");
    out += items + ")\r\n";
    // Queued, not flushed per message: the stream sends past its buffer
    // limit, and the tagged reply flushes the rest.
    if (!(co_await _stream.write(out)).has_value()) co_return false;
  }
  if (!co_await refresh(cmd.uid, seen_now)) co_return false;
  std::string text = std::string(cmd.uid ? "UID FETCH" : "FETCH") + " completed";
  bool ok = co_await tagged(tag, "OK", text);
  co_return ok;
}

kio::task<bool> session::on_store(const std::string& tag, const store_command& cmd) {
  if (_read_only) {
    bool ok = co_await tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
    co_return ok;
  }
  auto indices = resolve_indices(cmd.set, cmd.uid);
  if (!indices) {
    bool ok = co_await bad(tag, "Invalid message sequence set");
    co_return ok;
  }
  auto flags = split_flags(cmd.flags);
  if (!flags) {
    bool ok = co_await bad(tag, "Invalid system flag");
    co_return ok;
  }
  if (cmd.unchanged_since) _condstore = true;
  std::vector<std::uint32_t> uids, modified;
  for (auto i : *indices) {
    const auto& m = _snapshot.messages[i];
    // RFC 7162 3.2: a message modified since UNCHANGEDSINCE is not touched
    // and is named in [MODIFIED].
    if (cmd.unchanged_since && m.modseq > *cmd.unchanged_since) modified.push_back(cmd.uid ? m.uid : std::uint32_t(i + 1));
    else uids.push_back(m.uid);
  }
  std::vector<std::uint32_t> changed;
  if (!uids.empty()) {
    flags_change change;
    change.flags = flags->flags;
    change.keywords = std::move(flags->keywords);
    change.op = cmd.mode == store_mode::add ? flags_op::add
                : cmd.mode == store_mode::remove ? flags_op::remove
                                                 : flags_op::replace;
    change.unchanged_since = cmd.unchanged_since;
    auto stored = co_await _account->store_flags(_selected, uids, change);
    if (!stored) {
      bool ok = co_await refuse(tag, stored.error());
      co_return ok;
    }
    changed = stored->uids;
  }
  std::vector<std::uint32_t> silent = cmd.silent ? changed : std::vector<std::uint32_t>{};
  std::vector<std::uint32_t> forced = cmd.silent ? std::vector<std::uint32_t>{} : uids;
  if (!co_await refresh(cmd.uid, silent, forced, true)) co_return false;
  std::string text;
  if (!modified.empty()) text = "[MODIFIED " + compress_sequence_set(modified) + "] Conditional STORE failed";
  else text = std::string(cmd.uid ? "UID STORE" : "STORE") + " completed";
  bool ok = co_await tagged(tag, "OK", text);
  co_return ok;
}

kio::task<bool> session::on_copy(const std::string& tag, const copy_command& cmd) {
  if (cmd.move && _read_only) {
    bool ok = co_await tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
    co_return ok;
  }
  auto indices = resolve_indices(cmd.set, cmd.uid);
  if (!indices) {
    bool ok = co_await bad(tag, "Invalid message sequence set");
    co_return ok;
  }
  std::vector<std::uint32_t> uids;
  for (auto i : *indices) uids.push_back(_snapshot.messages[i].uid);
  std::string name = cmd.move ? "MOVE" : "COPY";
  if (cmd.uid) name = "UID " + name;
  if (uids.empty()) {
    bool ok = co_await tagged(tag, "OK", name + " completed (no messages)");
    co_return ok;
  }
  auto copied = co_await _account->copy(_selected, uids, cmd.mailbox, cmd.move);
  if (!copied) {
    if (copied.error().code == service_errc::no_such_mailbox) {
      bool ok = co_await tagged(tag, "NO", "[TRYCREATE] Target mailbox does not exist");
      co_return ok;
    }
    bool ok = co_await refuse(tag, copied.error());
    co_return ok;
  }
  std::string code = "[COPYUID " + std::to_string(copied->uid_validity) + " " +
                     compress_sequence_set(copied->source_uids) + " " + compress_sequence_set(copied->target_uids) + "]";
  if (cmd.move) {
    // RFC 6851 4.3: COPYUID travels untagged, before the EXPUNGEs.
    if (!co_await send("* OK " + code + " Moved\r\n")) co_return false;
    if (!co_await refresh(true)) co_return false;
    bool ok = co_await tagged(tag, "OK", name + " completed");
    co_return ok;
  }
  if (cmd.mailbox == _selected && !co_await refresh(cmd.uid)) co_return false;
  bool ok = co_await tagged(tag, "OK", code + " " + name + " completed");
  co_return ok;
}

kio::task<bool> session::on_quota(const std::string& tag, std::string_view root, bool with_root) {
  if (!with_root && !root.empty()) {
    bool ok = co_await tagged(tag, "NO", "[NONEXISTENT] No such quota root");
    co_return ok;
  }
  auto quota = co_await _account->quota();
  if (!quota) {
    bool ok = co_await refuse(tag, quota.error());
    co_return ok;
  }
  std::string out;
  if (with_root) {
    out += "* QUOTAROOT ";
    append_mailbox(out, root, encoding());
    out += " \"\"\r\n";
  }
  std::string resources;
  if (quota->quota_bytes)
    resources += "STORAGE " + std::to_string(quota->used_bytes / 1024) + " " + std::to_string(quota->quota_bytes / 1024);
  if (quota->quota_messages) {
    if (!resources.empty()) resources += ' ';
    resources += "MESSAGE " + std::to_string(quota->used_messages) + " " + std::to_string(quota->quota_messages);
  }
  out += "* QUOTA \"\" (" + resources + ")\r\n";
  if (!co_await send(out)) co_return false;
  std::string_view text = with_root ? "GETQUOTAROOT completed" : "GETQUOTA completed";
  bool ok = co_await tagged(tag, "OK", text);
  co_return ok;
}

}  // namespace session_detail

kio::task<void> run_session(std::unique_ptr<kio::connection> conn, const session_config& config, authenticator& auth,
                            std::string session_id) {
  session_detail::session s(*conn, config, auth, std::move(session_id));
  co_await s.run();
}

}  // namespace imap
