#include "protocols/mime/imap_render.h"

#include "protocols/mime/address.h"
#include "protocols/mime/header.h"

namespace mime {

namespace {

// Longer strings go as literals so a client's line buffer is not taxed.
constexpr std::size_t quoted_size_max = 4096;

void append_nil(std::string& out) { out += "NIL"; }

std::string_view first_value(const header_block& block, std::string_view name, std::string& scratch,
                             bool& found) {
  const header_field* f = block.find(name);
  found = f != nullptr;
  if (!found) return {};
  return f->unfolded(scratch);
}

void append_nstring_field(std::string& out, const header_block& block, std::string_view name) {
  std::string scratch;
  bool found = false;
  std::string_view v = first_value(block, name, scratch, found);
  if (!found) append_nil(out);
  else append_imap_string(out, v);
}

void append_string_or_nil(std::string& out, std::string_view s) {
  if (s.empty()) append_nil(out);
  else append_imap_string(out, s);
}

void append_address_list(std::string& out, const header_block& block, std::string_view name,
                         std::string_view fallback, const limits& lim) {
  const header_field* f = block.find(name);
  if (f == nullptr && !fallback.empty()) f = block.find(fallback);
  if (f == nullptr) {
    append_nil(out);
    return;
  }
  std::vector<address> list = parse_address_list(f->raw_value, lim);
  if (list.empty()) {
    append_nil(out);
    return;
  }
  out.push_back('(');
  for (const address& a : list) {
    out.push_back('(');
    switch (a.what) {
      case address::kind::group_start:
        out += "NIL NIL ";
        append_imap_string(out, a.name);
        out += " NIL";
        break;
      case address::kind::group_end:
        out += "NIL NIL NIL NIL";
        break;
      case address::kind::mailbox:
        append_string_or_nil(out, a.name);
        out.push_back(' ');
        append_string_or_nil(out, a.route);
        out.push_back(' ');
        // A NIL host would read as group syntax; name what is missing
        // instead, as Dovecot does.
        append_imap_string(out, a.mailbox.empty() ? std::string_view("MISSING_MAILBOX") : a.mailbox);
        out.push_back(' ');
        append_imap_string(out, a.host.empty() ? std::string_view("MISSING_DOMAIN") : a.host);
        break;
    }
    out.push_back(')');
  }
  out.push_back(')');
}

void append_params(std::string& out, const parameter_list& params) {
  if (params.items.empty()) {
    append_nil(out);
    return;
  }
  out.push_back('(');
  bool first = true;
  for (const parameter& p : params.items) {
    if (!first) out.push_back(' ');
    first = false;
    append_imap_string(out, p.extended ? p.name + "*" : p.name);
    out.push_back(' ');
    append_imap_string(out, p.value);
  }
  out.push_back(')');
}

struct extension_fields {
  header_block block;
};

void append_disposition(std::string& out, const header_block& block) {
  const header_field* f = block.find("content-disposition");
  if (f == nullptr) {
    append_nil(out);
    return;
  }
  content_disposition d = parse_content_disposition(f->unfolded_value());
  if (d.type.empty()) {
    append_nil(out);
    return;
  }
  out.push_back('(');
  append_imap_string(out, d.type);
  out.push_back(' ');
  append_params(out, d.params);
  out.push_back(')');
}

void append_language(std::string& out, const header_block& block) {
  const header_field* f = block.find("content-language");
  if (f == nullptr) {
    append_nil(out);
    return;
  }
  std::string value = f->unfolded_value();
  std::vector<std::string_view> tags;
  std::string_view rest = value;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view tag = trim_blanks(rest.substr(0, comma));
    if (!tag.empty()) tags.push_back(tag);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (tags.empty()) {
    append_nil(out);
  } else if (tags.size() == 1) {
    append_imap_string(out, tags[0]);
  } else {
    out.push_back('(');
    for (std::size_t i = 0; i < tags.size(); ++i) {
      if (i > 0) out.push_back(' ');
      append_imap_string(out, tags[i]);
    }
    out.push_back(')');
  }
}

// Extension data common to leaves and multiparts: dsp, lang, loc.
void append_dsp_lang_loc(std::string& out, const header_block& block) {
  out.push_back(' ');
  append_disposition(out, block);
  out.push_back(' ');
  append_language(out, block);
  out.push_back(' ');
  append_nstring_field(out, block, "content-location");
}

header_block part_header(const message_tree& tree, std::string_view message, const part_node& node) {
  const part_info& p = node.info;
  return parse_header_block(message.substr(p.header_start, p.body_start - p.header_start));
}

void append_number(std::string& out, std::size_t n) { out += std::to_string(n); }

void append_body(std::string& out, const message_tree& tree, std::string_view message, const part_node& node,
                 bool extended) {
  const part_info& p = node.info;
  header_block block = part_header(tree, message, node);
  out.push_back('(');
  if (p.kind == part_kind::multipart) {
    if (node.child_count == 0) {
      // IMAP requires at least one body in a multipart; Dovecot sends an
      // empty text/plain in its place, and so do we.
      out += "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0";
      if (extended) out += " NIL NIL NIL NIL";
      out.push_back(')');
    }
    for (std::uint32_t c = node.first_child; c != no_part; c = tree.parts[c].next_sibling)
      append_body(out, tree, message, tree.parts[c], extended);
    out.push_back(' ');
    append_imap_string(out, p.type.subtype);
    if (extended) {
      out.push_back(' ');
      append_params(out, p.type.params);
      append_dsp_lang_loc(out, block);
    }
    out.push_back(')');
    return;
  }
  append_imap_string(out, p.type.type);
  out.push_back(' ');
  append_imap_string(out, p.type.subtype);
  out.push_back(' ');
  append_params(out, p.type.params);
  out.push_back(' ');
  append_nstring_field(out, block, "content-id");
  out.push_back(' ');
  append_nstring_field(out, block, "content-description");
  out.push_back(' ');
  {
    // The encoding as written (lowercased), "7bit" when absent.
    const header_field* f = block.find("content-transfer-encoding");
    std::string enc = f == nullptr ? std::string() : to_lower_ascii(f->unfolded_value());
    append_imap_string(out, enc.empty() ? std::string_view("7bit") : std::string_view(enc));
  }
  out.push_back(' ');
  append_number(out, p.body_size());
  if (p.kind == part_kind::message && node.first_child != no_part) {
    const part_node& inner = tree.parts[node.first_child];
    out.push_back(' ');
    out += render_envelope(tree, message, inner.info.id);
    out.push_back(' ');
    append_body(out, tree, message, inner, extended);
    out.push_back(' ');
    append_number(out, p.body_lines);
  } else if (p.type.type == "text") {
    out.push_back(' ');
    append_number(out, p.body_lines);
  }
  if (extended) {
    out += " ";
    append_nstring_field(out, block, "content-md5");
    append_dsp_lang_loc(out, block);
  }
  out.push_back(')');
}

bool parse_number(std::string_view& s, std::uint32_t& n) {
  std::size_t i = 0;
  n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 9) n = n * 10 + static_cast<std::uint32_t>(s[i++] - '0');
  if (i == 0 || (i < s.size() && s[i] >= '0' && s[i] <= '9')) return false;
  s.remove_prefix(i);
  return n > 0;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// "(A "B" C)" -> field names.
bool parse_field_list(std::string_view s, std::vector<std::string>& names) {
  s = trim_blanks(s);
  if (s.size() < 2 || s.front() != '(' || s.back() != ')') return false;
  s = s.substr(1, s.size() - 2);
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ') {
      ++i;
      continue;
    }
    std::string name;
    if (s[i] == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        name.push_back(s[i++]);
      }
      if (i >= s.size()) return false;
      ++i;
    } else {
      while (i < s.size() && s[i] != ' ') name.push_back(s[i++]);
    }
    names.push_back(std::move(name));
  }
  return !names.empty();
}

}  // namespace

void append_imap_string(std::string& out, std::string_view s) {
  bool quotable = s.size() <= quoted_size_max;
  for (std::size_t i = 0; quotable && i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == 0 || c == '\r' || c == '\n' || c >= 0x80) quotable = false;
  }
  if (quotable) {
    out.push_back('"');
    for (char c : s) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
    return;
  }
  out.push_back('{');
  out += std::to_string(s.size());
  out += "}\r\n";
  out.append(s);
}

void append_imap_nstring(std::string& out, const std::string_view* s) {
  if (s == nullptr) append_nil(out);
  else append_imap_string(out, *s);
}

std::string render_envelope(std::string_view header, const limits& lim) {
  header_block block = parse_header_block(header, lim);
  std::string out;
  out.push_back('(');
  append_nstring_field(out, block, "date");
  out.push_back(' ');
  append_nstring_field(out, block, "subject");
  out.push_back(' ');
  append_address_list(out, block, "from", "", lim);
  out.push_back(' ');
  append_address_list(out, block, "sender", "from", lim);
  out.push_back(' ');
  append_address_list(out, block, "reply-to", "from", lim);
  out.push_back(' ');
  append_address_list(out, block, "to", "", lim);
  out.push_back(' ');
  append_address_list(out, block, "cc", "", lim);
  out.push_back(' ');
  append_address_list(out, block, "bcc", "", lim);
  out.push_back(' ');
  append_nstring_field(out, block, "in-reply-to");
  out.push_back(' ');
  append_nstring_field(out, block, "message-id");
  out.push_back(')');
  return out;
}

std::string render_envelope(const message_tree& tree, std::string_view message, std::uint32_t message_part) {
  const part_info& p = tree.parts[message_part].info;
  return render_envelope(message.substr(p.header_start, p.body_start - p.header_start));
}

std::string render_bodystructure(const message_tree& tree, std::string_view message, bool extended) {
  std::string out;
  append_body(out, tree, message, tree.root(), extended);
  return out;
}

kio::result<section_data, errc> section_bytes(const message_tree& tree, std::string_view message,
                                              std::string_view section) {
  const part_node* node = &tree.root();
  bool has_path = false;
  std::string_view s = section;
  // Part path (Dovecot's imap_msgpart_find): in a multipart pick the n-th
  // child; elsewhere only 1 is valid (BODY[1] of a single-part message is
  // its body); a message/rfc822 part is entered when more numbers follow.
  while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
    std::uint32_t n = 0;
    if (!parse_number(s, n)) return kio::fail(errc::bad_section);
    if (!s.empty()) {
      if (s[0] != '.') return kio::fail(errc::bad_section);
      s.remove_prefix(1);
      if (s.empty()) return kio::fail(errc::bad_section);
    }
    has_path = true;
    if (node->info.kind == part_kind::multipart) {
      node = tree.child(*node, n);
      if (node == nullptr) return kio::fail(errc::no_such_part);
    } else if (n != 1) {
      return kio::fail(errc::no_such_part);
    }
    if (node->info.kind == part_kind::message && !s.empty() && s[0] >= '0' && s[0] <= '9')
      node = &tree.parts[node->first_child];
  }
  const bool known = s.empty() || iequals(s, "MIME") || iequals(s, "HEADER") || iequals(s, "TEXT") ||
                     starts_with_ci(s, "HEADER.FIELDS ") || starts_with_ci(s, "HEADER.FIELDS.NOT ");
  if (!known) return kio::fail(errc::bad_section);
  const part_info& p = node->info;
  if (s.empty()) {
    if (!has_path) return section_data::view(message.substr(p.header_start));
    return section_data::view(message.substr(p.body_start, p.body_size()));
  }
  if (iequals(s, "MIME")) {
    if (!has_path) return kio::fail(errc::bad_section);
    return section_data::view(message.substr(p.header_start, p.header_size()));
  }
  // HEADER, HEADER.FIELDS, TEXT address a message: the root, or the
  // embedded message of a message/rfc822 part.
  const part_node* target = node;
  if (has_path) {
    if (node->info.kind != part_kind::message || node->first_child == no_part) return kio::fail(errc::not_a_message);
    target = &tree.parts[node->first_child];
  }
  const part_info& m = target->info;
  std::string_view header = message.substr(m.header_start, m.header_size());
  if (iequals(s, "HEADER")) return section_data::view(header);
  if (iequals(s, "TEXT")) return section_data::view(message.substr(m.body_start, m.body_size()));
  bool negate = false;
  std::string_view list;
  if (starts_with_ci(s, "HEADER.FIELDS.NOT ")) {
    negate = true;
    list = s.substr(18);
  } else if (starts_with_ci(s, "HEADER.FIELDS ")) {
    list = s.substr(14);
  } else {
    return kio::fail(errc::bad_section);
  }
  std::vector<std::string> names;
  if (!parse_field_list(list, names)) return kio::fail(errc::bad_section);
  header_block block = parse_header_block(header);
  std::string out;
  for (const header_field& f : block.fields) {
    bool listed = false;
    for (const std::string& name : names) listed = listed || iequals(f.name, name);
    if (listed == negate) continue;
    std::string_view raw = header.substr(f.offset, f.end_offset - f.offset);
    out.append(raw);
    if (raw.empty() || raw.back() != '\n') out += "\r\n";
  }
  out += "\r\n";
  return section_data::built(std::move(out));
}

}  // namespace mime
