#include "protocols/imap/parser/serialise.h"

#include <charconv>

#include "protocols/imap/parser/response.h"

namespace imap {
namespace {

constexpr std::string_view month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Client strings may carry 8-bit (the parser accepts it in quoted strings).
const quoting_options client_quoting{true, 1024};

void append_number(std::string& out, std::uint64_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

void append_two_digits(std::string& out, unsigned n) {
  out.push_back(static_cast<char>('0' + n / 10 % 10));
  out.push_back(static_cast<char>('0' + n % 10));
}

void append_date(std::string& out, const date& d) {
  append_number(out, d.day);
  out.push_back('-');
  out.append(month_names[(d.month - 1) % 12]);
  out.push_back('-');
  char year[8];
  year[0] = static_cast<char>('0' + d.year / 1000 % 10);
  year[1] = static_cast<char>('0' + d.year / 100 % 10);
  year[2] = static_cast<char>('0' + d.year / 10 % 10);
  year[3] = static_cast<char>('0' + d.year % 10);
  out.append(year, 4);
}

void append_date_time(std::string& out, const date_time& t) {
  out.push_back('"');
  append_two_digits(out, t.day.day);
  out.push_back('-');
  out.append(month_names[(t.day.month - 1) % 12]);
  out.push_back('-');
  append_two_digits(out, t.day.year / 100);
  append_two_digits(out, t.day.year % 100);
  out.push_back(' ');
  append_two_digits(out, t.hour);
  out.push_back(':');
  append_two_digits(out, t.minute);
  out.push_back(':');
  append_two_digits(out, t.second);
  out.push_back(' ');
  int zone = t.zone_minutes;
  out.push_back(zone < 0 ? '-' : '+');
  if (zone < 0) zone = -zone;
  append_two_digits(out, static_cast<unsigned>(zone / 60));
  append_two_digits(out, static_cast<unsigned>(zone % 60));
  out.push_back('"');
}

void append_mailbox_arg(std::string& out, const std::string& name, mailbox_encoding encoding) {
  quoting_options options = client_quoting;
  options.utf8_allowed = encoding == mailbox_encoding::utf8;
  auto wire = encoding == mailbox_encoding::utf8 ? kio::result<std::string, errc>(name) : encode_modified_utf7(name);
  append_quote_or_literal(out, wire ? *wire : name, options);
}

void append_flags(std::string& out, const std::vector<std::string>& flags) { append_flag_list(out, flags); }

void append_status_items(std::string& out, std::uint16_t items) {
  static constexpr std::pair<std::uint16_t, std::string_view> names[] = {
      {status_messages, "MESSAGES"}, {status_recent, "RECENT"}, {status_uid_next, "UIDNEXT"},
      {status_uid_validity, "UIDVALIDITY"}, {status_unseen, "UNSEEN"}, {status_deleted, "DELETED"},
      {status_size, "SIZE"}, {status_highest_modseq, "HIGHESTMODSEQ"}, {status_append_limit, "APPENDLIMIT"},
      {status_mailbox_id, "MAILBOXID"},
  };
  out.push_back('(');
  bool first = true;
  for (auto [bit, name] : names) {
    if (!(items & bit)) continue;
    if (!first) out.push_back(' ');
    first = false;
    out.append(name);
  }
  out.push_back(')');
}

void append_returns(std::string& out, const search_return& r) {
  if (!r.present) return;
  out.append("RETURN (");
  std::string_view sep;
  auto item = [&](bool on, std::string_view name) {
    if (!on) return;
    out.append(sep);
    out.append(name);
    sep = " ";
  };
  item(r.min, "MIN");
  item(r.max, "MAX");
  item(r.all, "ALL");
  item(r.count, "COUNT");
  item(r.save, "SAVE");
  out.append(") ");
}

void append_keys(std::string& out, const std::vector<search_key>& keys) {
  bool first = true;
  for (const search_key& k : keys) {
    if (!first) out.push_back(' ');
    first = false;
    append_search_key(out, k);
  }
}

std::string_view kind_name(search_kind kind) {
  switch (kind) {
    case search_kind::all: return "ALL";
    case search_kind::answered: return "ANSWERED";
    case search_kind::deleted: return "DELETED";
    case search_kind::draft: return "DRAFT";
    case search_kind::flagged: return "FLAGGED";
    case search_kind::new_: return "NEW";
    case search_kind::old: return "OLD";
    case search_kind::recent: return "RECENT";
    case search_kind::seen: return "SEEN";
    case search_kind::unanswered: return "UNANSWERED";
    case search_kind::undeleted: return "UNDELETED";
    case search_kind::undraft: return "UNDRAFT";
    case search_kind::unflagged: return "UNFLAGGED";
    case search_kind::unseen: return "UNSEEN";
    case search_kind::bcc: return "BCC";
    case search_kind::body: return "BODY";
    case search_kind::cc: return "CC";
    case search_kind::from: return "FROM";
    case search_kind::subject: return "SUBJECT";
    case search_kind::text: return "TEXT";
    case search_kind::to: return "TO";
    case search_kind::header: return "HEADER";
    case search_kind::keyword: return "KEYWORD";
    case search_kind::unkeyword: return "UNKEYWORD";
    case search_kind::before: return "BEFORE";
    case search_kind::on: return "ON";
    case search_kind::since: return "SINCE";
    case search_kind::sentbefore: return "SENTBEFORE";
    case search_kind::senton: return "SENTON";
    case search_kind::sentsince: return "SENTSINCE";
    case search_kind::larger: return "LARGER";
    case search_kind::smaller: return "SMALLER";
    case search_kind::older: return "OLDER";
    case search_kind::younger: return "YOUNGER";
    case search_kind::sequence_set: return "";
    case search_kind::uid: return "UID";
    case search_kind::modseq: return "MODSEQ";
    case search_kind::not_: return "NOT";
    case search_kind::or_: return "OR";
    case search_kind::and_: return "";
  }
  return "";
}

void append_section(std::string& out, const section& s) {
  out.push_back('[');
  bool first = true;
  for (std::uint32_t p : s.part) {
    if (!first) out.push_back('.');
    first = false;
    append_number(out, p);
  }
  if (s.text != section_text::none && !s.part.empty()) out.push_back('.');
  switch (s.text) {
    case section_text::none: break;
    case section_text::header: out.append("HEADER"); break;
    case section_text::text: out.append("TEXT"); break;
    case section_text::mime: out.append("MIME"); break;
    case section_text::header_fields:
    case section_text::header_fields_not: {
      out.append(s.text == section_text::header_fields ? "HEADER.FIELDS (" : "HEADER.FIELDS.NOT (");
      bool first_field = true;
      for (const std::string& f : s.fields) {
        if (!first_field) out.push_back(' ');
        first_field = false;
        append_astring(out, f, client_quoting);
      }
      out.push_back(')');
      break;
    }
  }
  out.push_back(']');
}

}  // namespace

void append_search_key(std::string& out, const search_key& key) {
  switch (key.kind) {
    case search_kind::and_:
      out.push_back('(');
      append_keys(out, key.children);
      out.push_back(')');
      return;
    case search_kind::sequence_set:
      append_sequence_set(out, key.set);
      return;
    default:
      break;
  }
  out.append(kind_name(key.kind));
  switch (key.kind) {
    case search_kind::bcc: case search_kind::body: case search_kind::cc: case search_kind::from:
    case search_kind::subject: case search_kind::text: case search_kind::to:
      out.push_back(' ');
      append_quote_or_literal(out, key.text, client_quoting);
      break;
    case search_kind::header:
      out.push_back(' ');
      append_astring(out, key.field, client_quoting);
      out.push_back(' ');
      append_quote_or_literal(out, key.text, client_quoting);
      break;
    case search_kind::keyword: case search_kind::unkeyword:
      out.push_back(' ');
      out.append(key.text);
      break;
    case search_kind::before: case search_kind::on: case search_kind::since:
    case search_kind::sentbefore: case search_kind::senton: case search_kind::sentsince:
      out.push_back(' ');
      append_date(out, key.day);
      break;
    case search_kind::larger: case search_kind::smaller: case search_kind::older: case search_kind::younger:
      out.push_back(' ');
      append_number(out, key.number);
      break;
    case search_kind::uid:
      out.push_back(' ');
      append_sequence_set(out, key.set);
      break;
    case search_kind::modseq:
      out.push_back(' ');
      if (!key.field.empty() || !key.text.empty()) {
        append_quote_or_literal(out, key.field, quoting_options{true, SIZE_MAX});
        out.push_back(' ');
        out.append(key.text);
        out.push_back(' ');
      }
      append_number(out, key.number);
      break;
    case search_kind::not_:
      out.push_back(' ');
      append_search_key(out, key.children.at(0));
      break;
    case search_kind::or_:
      out.push_back(' ');
      append_search_key(out, key.children.at(0));
      out.push_back(' ');
      append_search_key(out, key.children.at(1));
      break;
    default:
      break;
  }
}

void append_fetch_attribute(std::string& out, const fetch_attribute& a) {
  switch (a.kind) {
    case fetch_kind::envelope: out.append("ENVELOPE"); return;
    case fetch_kind::flags: out.append("FLAGS"); return;
    case fetch_kind::internal_date: out.append("INTERNALDATE"); return;
    case fetch_kind::rfc822: out.append("RFC822"); return;
    case fetch_kind::rfc822_header: out.append("RFC822.HEADER"); return;
    case fetch_kind::rfc822_size: out.append("RFC822.SIZE"); return;
    case fetch_kind::rfc822_text: out.append("RFC822.TEXT"); return;
    case fetch_kind::body: out.append("BODY"); return;
    case fetch_kind::body_structure: out.append("BODYSTRUCTURE"); return;
    case fetch_kind::uid: out.append("UID"); return;
    case fetch_kind::modseq: out.append("MODSEQ"); return;
    case fetch_kind::save_date: out.append("SAVEDATE"); return;
    case fetch_kind::email_id: out.append("EMAILID"); return;
    case fetch_kind::thread_id: out.append("THREADID"); return;
    case fetch_kind::body_section: out.append(a.peek ? "BODY.PEEK" : "BODY"); break;
    case fetch_kind::binary: out.append(a.peek ? "BINARY.PEEK" : "BINARY"); break;
    case fetch_kind::binary_size: out.append("BINARY.SIZE"); break;
  }
  append_section(out, a.section);
  if (a.partial) {
    out.push_back('<');
    append_number(out, a.partial->origin);
    out.push_back('.');
    append_number(out, a.partial->count);
    out.push_back('>');
  }
}

namespace {

struct serialiser {
  std::string& out;
  mailbox_encoding encoding;

  void mailbox(const std::string& name) { append_mailbox_arg(out, name, encoding); }
  void uid(bool on) {
    if (on) out.append("UID ");
  }

  void operator()(const capability_command&) { out.append("CAPABILITY"); }
  void operator()(const noop_command&) { out.append("NOOP"); }
  void operator()(const logout_command&) { out.append("LOGOUT"); }
  void operator()(const starttls_command&) { out.append("STARTTLS"); }
  void operator()(const authenticate_command& c) {
    out.append("AUTHENTICATE ");
    out.append(c.mechanism);
    if (c.initial_response) {
      out.push_back(' ');
      out.append(*c.initial_response);
    }
  }
  void operator()(const login_command& c) {
    out.append("LOGIN ");
    append_astring(out, c.user, client_quoting);
    out.push_back(' ');
    append_astring(out, c.password, client_quoting);
  }
  void operator()(const enable_command& c) {
    out.append("ENABLE");
    for (const std::string& cap : c.capabilities) {
      out.push_back(' ');
      out.append(cap);
    }
  }
  void operator()(const select_command& c) {
    out.append(c.read_only ? "EXAMINE " : "SELECT ");
    mailbox(c.mailbox);
    if (!c.condstore && !c.qresync) return;
    out.append(" (");
    if (c.condstore) out.append(c.qresync ? "CONDSTORE " : "CONDSTORE");
    if (c.qresync) {
      out.append("QRESYNC (");
      append_number(out, c.qresync->uid_validity);
      out.push_back(' ');
      append_number(out, c.qresync->modseq);
      if (c.qresync->known_uids) {
        out.push_back(' ');
        append_sequence_set(out, *c.qresync->known_uids);
      }
      if (c.qresync->known_sequence_numbers && c.qresync->known_sequence_uids) {
        out.append(" (");
        append_sequence_set(out, *c.qresync->known_sequence_numbers);
        out.push_back(' ');
        append_sequence_set(out, *c.qresync->known_sequence_uids);
        out.push_back(')');
      }
      out.push_back(')');
    }
    out.push_back(')');
  }
  void operator()(const create_command& c) {
    out.append("CREATE ");
    mailbox(c.mailbox);
    if (!c.special_use.empty()) {
      out.append(" (USE ");
      append_flags(out, c.special_use);
      out.push_back(')');
    }
  }
  void operator()(const delete_command& c) {
    out.append("DELETE ");
    mailbox(c.mailbox);
  }
  void operator()(const rename_command& c) {
    out.append("RENAME ");
    mailbox(c.source);
    out.push_back(' ');
    mailbox(c.target);
  }
  void operator()(const subscribe_command& c) {
    out.append("SUBSCRIBE ");
    mailbox(c.mailbox);
  }
  void operator()(const unsubscribe_command& c) {
    out.append("UNSUBSCRIBE ");
    mailbox(c.mailbox);
  }
  void operator()(const list_command& c) {
    out.append("LIST ");
    bool selection = c.select_subscribed || c.select_remote || c.select_recursive_match || c.select_special_use;
    bool returns = c.return_subscribed || c.return_children || c.return_special_use || c.return_status != 0 ||
                   c.return_my_rights;
    if (selection) {
      out.push_back('(');
      std::string_view sep;
      auto item = [&](bool on, std::string_view name) {
        if (!on) return;
        out.append(sep);
        out.append(name);
        sep = " ";
      };
      item(c.select_subscribed, "SUBSCRIBED");
      item(c.select_remote, "REMOTE");
      item(c.select_recursive_match, "RECURSIVEMATCH");
      item(c.select_special_use, "SPECIAL-USE");
      out.append(") ");
    }
    mailbox(c.reference);
    out.push_back(' ');
    bool parenthesised = c.extended && !selection && !returns ? true : c.patterns.size() != 1;
    if (parenthesised) out.push_back('(');
    bool first = true;
    for (const std::string& p : c.patterns) {
      if (!first) out.push_back(' ');
      first = false;
      mailbox(p);
    }
    if (parenthesised) out.push_back(')');
    if (returns) {
      out.append(" RETURN (");
      std::string_view sep;
      auto item = [&](bool on, std::string_view name) {
        if (!on) return;
        out.append(sep);
        out.append(name);
        sep = " ";
      };
      item(c.return_subscribed, "SUBSCRIBED");
      item(c.return_children, "CHILDREN");
      item(c.return_special_use, "SPECIAL-USE");
      item(c.return_my_rights, "MYRIGHTS");
      if (c.return_status != 0) {
        out.append(sep);
        out.append("STATUS ");
        append_status_items(out, c.return_status);
      }
      out.push_back(')');
    }
  }
  void operator()(const lsub_command& c) {
    out.append("LSUB ");
    mailbox(c.reference);
    out.push_back(' ');
    mailbox(c.pattern);
  }
  void operator()(const namespace_command&) { out.append("NAMESPACE"); }
  void operator()(const status_command& c) {
    out.append("STATUS ");
    mailbox(c.mailbox);
    out.push_back(' ');
    append_status_items(out, c.items);
  }
  void operator()(const append_command& c) {
    out.append("APPEND ");
    mailbox(c.mailbox);
    for (const append_message& m : c.messages) {
      out.push_back(' ');
      if (!m.flags.empty()) {
        append_flags(out, m.flags);
        out.push_back(' ');
      }
      if (m.internal_date) {
        append_date_time(out, *m.internal_date);
        out.push_back(' ');
      }
      if (m.message.binary) out.push_back('~');
      out.push_back('{');
      append_number(out, m.message.size_bytes);
      out.append("}\r\n");
      out.append(m.message.bytes);
    }
  }
  void operator()(const idle_command&) { out.append("IDLE"); }
  void operator()(const check_command&) { out.append("CHECK"); }
  void operator()(const close_command&) { out.append("CLOSE"); }
  void operator()(const unselect_command&) { out.append("UNSELECT"); }
  void operator()(const expunge_command& c) {
    if (!c.uid) {
      out.append("EXPUNGE");
      return;
    }
    out.append("UID EXPUNGE ");
    append_sequence_set(out, c.set);
  }
  void operator()(const search_command& c) {
    uid(c.uid);
    out.append("SEARCH ");
    append_returns(out, c.returns);
    if (!c.charset.empty()) {
      out.append("CHARSET ");
      append_astring(out, c.charset, client_quoting);
      out.push_back(' ');
    }
    append_keys(out, c.keys);
  }
  void operator()(const fetch_command& c) {
    uid(c.uid);
    out.append("FETCH ");
    append_sequence_set(out, c.set);
    out.append(" (");
    bool first = true;
    for (const fetch_attribute& a : c.attributes) {
      if (!first) out.push_back(' ');
      first = false;
      append_fetch_attribute(out, a);
    }
    out.push_back(')');
    if (c.changed_since) {
      out.append(" (CHANGEDSINCE ");
      append_number(out, *c.changed_since);
      if (c.vanished) out.append(" VANISHED");
      out.push_back(')');
    }
  }
  void operator()(const store_command& c) {
    uid(c.uid);
    out.append("STORE ");
    append_sequence_set(out, c.set);
    out.push_back(' ');
    if (c.unchanged_since) {
      out.append("(UNCHANGEDSINCE ");
      append_number(out, *c.unchanged_since);
      out.append(") ");
    }
    if (c.mode == store_mode::add) out.push_back('+');
    if (c.mode == store_mode::remove) out.push_back('-');
    out.append(c.silent ? "FLAGS.SILENT " : "FLAGS ");
    append_flags(out, c.flags);
  }
  void operator()(const copy_command& c) {
    uid(c.uid);
    out.append(c.move ? "MOVE " : "COPY ");
    append_sequence_set(out, c.set);
    out.push_back(' ');
    mailbox(c.mailbox);
  }
  void operator()(const sort_command& c) {
    uid(c.uid);
    out.append("SORT ");
    append_returns(out, c.returns);
    out.push_back('(');
    bool first = true;
    static constexpr std::string_view names[] = {"ARRIVAL", "CC", "DATE", "FROM", "SIZE",
                                                 "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"};
    for (const sort_criterion& s : c.criteria) {
      if (!first) out.push_back(' ');
      first = false;
      if (s.reverse) out.append("REVERSE ");
      out.append(names[static_cast<int>(s.key)]);
    }
    out.append(") ");
    append_astring(out, c.charset, client_quoting);
    out.push_back(' ');
    append_keys(out, c.keys);
  }
  void operator()(const thread_command& c) {
    uid(c.uid);
    out.append("THREAD ");
    static constexpr std::string_view names[] = {"ORDEREDSUBJECT", "REFERENCES", "REFS"};
    out.append(names[static_cast<int>(c.algorithm)]);
    out.push_back(' ');
    append_astring(out, c.charset, client_quoting);
    out.push_back(' ');
    append_keys(out, c.keys);
  }
  void operator()(const id_command& c) {
    if (c.fields.empty()) {
      out.append("ID NIL");
      return;
    }
    out.append("ID (");
    bool first = true;
    for (const auto& [field, value] : c.fields) {
      if (!first) out.push_back(' ');
      first = false;
      append_quote_or_literal(out, field, client_quoting);
      out.push_back(' ');
      if (value) {
        append_quote_or_literal(out, *value, client_quoting);
      } else {
        out.append("NIL");
      }
    }
    out.push_back(')');
  }
  void operator()(const getquota_command& c) {
    out.append("GETQUOTA ");
    append_astring(out, c.root, client_quoting);
  }
  void operator()(const getquotaroot_command& c) {
    out.append("GETQUOTAROOT ");
    mailbox(c.mailbox);
  }
  void operator()(const compress_command& c) {
    out.append("COMPRESS ");
    out.append(c.mechanism);
  }
};

}  // namespace

std::string serialise(const command& cmd, mailbox_encoding encoding) {
  std::string out = cmd.tag;
  out.push_back(' ');
  std::visit(serialiser{out, encoding}, cmd.body);
  return out;
}

}  // namespace imap
