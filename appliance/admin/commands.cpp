#include "appliance/admin/commands.h"

#include <charconv>
#include <cstdio>

#include "appliance/accounts/password.h"
#include "appliance/accounts/quota.h"

namespace appliance {

namespace {

std::string escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '%' || c == '\n' || c == '\r' || c == '\0') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", unsigned(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> unescape(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '%') {
      out += v[i];
      continue;
    }
    if (i + 2 >= v.size()) return std::nullopt;
    unsigned code = 0;
    auto [end, ec] = std::from_chars(v.data() + i + 1, v.data() + i + 3, code, 16);
    if (ec != std::errc() || end != v.data() + i + 3) return std::nullopt;
    out += char(code);
    i += 2;
  }
  return out;
}

// Splits "k=v\n" lines up to the empty line.
std::optional<std::map<std::string, std::string>> decode_lines(std::string_view text) {
  std::map<std::string, std::string> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line.empty()) return out;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    auto value = unescape(line.substr(eq + 1));
    if (!value) return std::nullopt;
    out[std::string(line.substr(0, eq))] = std::move(*value);
  }
  return std::nullopt;
}

admin_response ok_text(const admin_request& r, const std::string& text, const std::string& json_fields = "") {
  admin_response resp;
  if (r.json) resp.out = "{\"ok\":true" + (json_fields.empty() ? "" : "," + json_fields) + "}\n";
  else resp.out = text + "\n";
  return resp;
}

std::optional<bool> parse_yes_no(std::string_view v) {
  if (v == "yes" || v == "true" || v == "on" || v == "1") return true;
  if (v == "no" || v == "false" || v == "off" || v == "0") return false;
  return std::nullopt;
}

std::optional<uint32_t> parse_u32(std::string_view v) {
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t c = s.find(',');
    std::string item(s.substr(0, c));
    if (!item.empty()) out.push_back(item);
    if (c == std::string_view::npos) break;
    s.remove_prefix(c + 1);
  }
  return out;
}

std::string account_json(const account& a) {
  return "{\"address\":" + json_quote(a.address) + ",\"id\":" + std::to_string(a.id.get()) +
         ",\"protocols\":" + json_quote(a.protocols.to_string()) +
         ",\"require_tls\":" + (a.require_tls ? (*a.require_tls ? "true" : "false") : "null") +
         ",\"quota_bytes\":" + std::to_string(a.quota_bytes) +
         ",\"send_messages_per_hour\":" + std::to_string(a.send_messages_per_hour) +
         ",\"send_recipients_per_hour\":" + std::to_string(a.send_recipients_per_hour) +
         ",\"disabled\":" + (a.disabled ? "true" : "false") + "}";
}

std::string account_text(const account& a) {
  std::string s = a.address + "  protocols=" + a.protocols.to_string() +
                  "  quota=" + (a.quota_bytes ? format_size(a.quota_bytes) : std::string("unlimited")) +
                  "  require_tls=" + (a.require_tls ? (*a.require_tls ? "yes" : "no") : "default");
  if (a.send_messages_per_hour) s += "  send_messages_per_hour=" + std::to_string(a.send_messages_per_hour);
  if (a.send_recipients_per_hour) s += "  send_recipients_per_hour=" + std::to_string(a.send_recipients_per_hour);
  if (a.disabled) s += "  DISABLED";
  return s;
}

}  // namespace

const std::string& admin_request::arg(const std::string& key) const {
  static const std::string empty;
  auto it = args.find(key);
  return it == args.end() ? empty : it->second;
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

admin_response admin_failure(const admin_request& r, const std::string& message) {
  admin_response resp;
  resp.exit_code = 1;
  resp.err = "ringmail: " + message + "\n";
  if (r.json) resp.out = "{\"ok\":false,\"error\":" + json_quote(message) + "}\n";
  return resp;
}

std::string encode_request(const admin_request& r) {
  std::string out = "verb=" + escape(r.verb) + "\njson=" + (r.json ? "1" : "0") + "\n";
  for (const auto& [k, v] : r.args) out += "arg." + k + "=" + escape(v) + "\n";
  return out + "\n";
}

std::optional<admin_request> decode_request(std::string_view text) {
  auto lines = decode_lines(text);
  if (!lines || !lines->count("verb")) return std::nullopt;
  admin_request r;
  r.verb = (*lines)["verb"];
  r.json = (*lines)["json"] == "1";
  for (auto& [k, v] : *lines)
    if (k.starts_with("arg.")) r.args[k.substr(4)] = v;
  return r;
}

std::string encode_response(const admin_response& r) {
  return "exit=" + std::to_string(r.exit_code) + "\nout=" + escape(r.out) + "\nerr=" + escape(r.err) + "\n\n";
}

std::optional<admin_response> decode_response(std::string_view text) {
  auto lines = decode_lines(text);
  if (!lines || !lines->count("exit")) return std::nullopt;
  admin_response r;
  auto code = parse_u32((*lines)["exit"]);
  if (!code) return std::nullopt;
  r.exit_code = int(*code);
  r.out = (*lines)["out"];
  r.err = (*lines)["err"];
  return r;
}

bool carries_new_password(const admin_request& r) {
  return (r.verb == "account.add" || r.verb == "account.passwd") && r.has("password");
}

std::optional<admin_response> check_new_password(const admin_request& r, const config& cfg) {
  if (auto why = check_password_policy(r.arg("password"), cfg.auth.password, r.arg("address")))
    return admin_failure(r, *why);
  return std::nullopt;
}

admin_response execute(const admin_request& r, directory_data& data, const config& cfg, bool& changed) {
  (void)cfg;
  changed = false;
  const std::string& v = r.verb;
  auto done = [&](directory_data::outcome o, const std::string& text) {
    if (!o) return admin_failure(r, o.error());
    changed = true;
    return ok_text(r, text);
  };

  if (v == "domain.add")
    return done(data.add_domain(r.arg("name")), "added domain " + normalize_domain(r.arg("name")).value_or(""));
  if (v == "domain.remove") return done(data.remove_domain(r.arg("name")), "removed domain " + r.arg("name"));
  if (v == "alias_domain.add")
    return done(data.add_alias_domain(r.arg("alias"), r.arg("target")),
                "added alias domain " + r.arg("alias") + " -> " + r.arg("target"));
  if (v == "alias_domain.remove")
    return done(data.remove_alias_domain(r.arg("alias")), "removed alias domain " + r.arg("alias"));
  if (v == "domain.list") {
    admin_response resp;
    if (r.json) {
      std::string d, a;
      for (const auto& [name, unused] : data.domains) d += (d.empty() ? "" : ",") + json_quote(name);
      for (const auto& [alias, target] : data.alias_domains)
        a += (a.empty() ? "" : ",") + json_quote(alias) + ":" + json_quote(target);
      resp.out = "{\"domains\":[" + d + "],\"alias_domains\":{" + a + "}}\n";
    } else {
      for (const auto& [name, unused] : data.domains) resp.out += name + "\n";
      for (const auto& [alias, target] : data.alias_domains) resp.out += alias + " -> " + target + " (alias domain)\n";
    }
    return resp;
  }

  if (v == "account.add") {
    if (!r.has("password_hash")) return admin_failure(r, "internal: no password hash");
    auto added = data.add_account(r.arg("address"), r.arg("password_hash"));
    if (!added) return admin_failure(r, added.error());
    changed = true;
    return ok_text(r, "added account " + *normalize_address(r.arg("address")) + " (id " + std::to_string(added->get()) + ")",
                   "\"id\":" + std::to_string(added->get()));
  }
  if (v == "account.passwd") {
    if (!r.has("password_hash")) return admin_failure(r, "internal: no password hash");
    return done(data.set_password(r.arg("address"), r.arg("password_hash")), "password changed for " + r.arg("address"));
  }
  if (v == "account.remove") return done(data.remove_account(r.arg("address")), "removed account " + r.arg("address"));
  if (v == "account.list" || v == "account.show") {
    std::optional<std::string> domain;
    if (r.has("domain")) {
      domain = normalize_domain(r.arg("domain"));
      if (!domain) return admin_failure(r, "not a domain: " + r.arg("domain"));
    }
    std::vector<const account*> selected;
    if (v == "account.show") {
      const account* a = data.find(r.arg("address"));
      if (!a) return admin_failure(r, "no such account: " + r.arg("address"));
      selected.push_back(a);
    } else {
      for (const auto& [address, a] : data.accounts)
        if (!domain || address.substr(address.rfind('@') + 1) == *domain) selected.push_back(&a);
    }
    admin_response resp;
    if (r.json) {
      std::string items;
      for (const account* a : selected) items += (items.empty() ? "" : ",") + account_json(*a);
      resp.out = v == "account.show" ? items + "\n" : "{\"accounts\":[" + items + "]}\n";
    } else {
      for (const account* a : selected) resp.out += account_text(*a) + "\n";
    }
    return resp;
  }
  if (v == "account.set") {
    account* a = data.find(r.arg("address"));
    if (!a) return admin_failure(r, "no such account: " + r.arg("address"));
    account next = *a;
    if (r.has("protocols")) {
      auto p = protocol_set::parse(r.arg("protocols"));
      if (!p) return admin_failure(r, "bad protocol list \"" + r.arg("protocols") + "\" (use imap, pop3, submission, all, none)");
      next.protocols = *p;
    }
    if (r.has("mailbox_access")) {
      // The one-line "POP3 or IMAP, not both": a phone set up with the wrong
      // protocol then fails to log in instead of silently emptying the box.
      const std::string& m = r.arg("mailbox_access");
      if (m == "imap") { next.protocols.add(protocol::imap); next.protocols.remove(protocol::pop3); }
      else if (m == "pop3") { next.protocols.add(protocol::pop3); next.protocols.remove(protocol::imap); }
      else if (m == "both") { next.protocols.add(protocol::pop3); next.protocols.add(protocol::imap); }
      else if (m == "none") { next.protocols.remove(protocol::pop3); next.protocols.remove(protocol::imap); }
      else return admin_failure(r, "mailbox access must be imap, pop3, both or none");
    }
    if (r.has("require_tls")) {
      if (r.arg("require_tls") == "default") next.require_tls.reset();
      else if (auto b = parse_yes_no(r.arg("require_tls"))) next.require_tls = *b;
      else return admin_failure(r, "require-tls must be yes, no or default");
    }
    if (r.has("disabled")) {
      auto b = parse_yes_no(r.arg("disabled"));
      if (!b) return admin_failure(r, "disabled must be yes or no");
      next.disabled = *b;
    }
    for (const char* key : {"send_messages_per_hour", "send_recipients_per_hour"}) {
      if (!r.has(key)) continue;
      auto n = parse_u32(r.arg(key));
      if (!n) return admin_failure(r, std::string(key) + " must be a number (0 = the configured default)");
      (std::string_view(key) == "send_messages_per_hour" ? next.send_messages_per_hour : next.send_recipients_per_hour) = *n;
    }
    *a = next;
    changed = true;
    return ok_text(r, account_text(next), "\"account\":" + account_json(next));
  }

  if (v == "alias.add") {
    auto targets = split_commas(r.arg("targets"));
    return done(data.add_alias(r.arg("source"), targets), "alias " + r.arg("source") + " -> " + r.arg("targets"));
  }
  if (v == "alias.remove")
    return done(data.remove_alias(r.arg("source"), r.arg("target")),
                "removed " + (r.arg("target").empty() ? "alias " + r.arg("source") : r.arg("target") + " from " + r.arg("source")));
  if (v == "alias.list") {
    admin_response resp;
    if (r.json) {
      std::string items;
      for (const auto& [source, targets] : data.aliases) {
        std::string t;
        for (const auto& x : targets) t += (t.empty() ? "" : ",") + json_quote(x);
        items += (items.empty() ? "" : ",") + json_quote(source) + ":[" + t + "]";
      }
      resp.out = "{\"aliases\":{" + items + "}}\n";
    } else {
      for (const auto& [source, targets] : data.aliases) {
        resp.out += source + " ->";
        for (size_t i = 0; i < targets.size(); ++i) resp.out += (i ? ", " : " ") + targets[i];
        resp.out += source.starts_with("@") ? "  (catch-all)\n" : "\n";
      }
    }
    return resp;
  }

  if (v == "quota.set") {
    account* a = data.find(r.arg("address"));
    if (!a) return admin_failure(r, "no such account: " + r.arg("address"));
    auto size = parse_size(r.arg("size"));
    if (!size) return admin_failure(r, "bad size \"" + r.arg("size") + "\" (examples: 500M, 2G, unlimited)");
    if (r.has("messages")) {
      std::string_view m = r.arg("messages");
      uint64_t n = 0;
      if (m != "unlimited" && (std::from_chars(m.data(), m.data() + m.size(), n).ec != std::errc() ||
                               std::to_string(n) != m))
        return admin_failure(r, "bad message count \"" + r.arg("messages") + "\" (a number, or unlimited)");
      a->quota_messages = n;
    }
    a->quota_bytes = *size;
    if (*size == 0) a->quota_warning_sent = false;
    changed = true;
    std::string text = "quota of " + a->address + ": " + (*size ? format_size(*size) : std::string("unlimited"));
    if (a->quota_messages) text += ", " + std::to_string(a->quota_messages) + " messages";
    return ok_text(r, text,
                   "\"quota_bytes\":" + std::to_string(*size) + ",\"quota_messages\":" + std::to_string(a->quota_messages));
  }

  // Internal: the daemon's delivery path records that an account got its
  // quota warning (or that its usage fell below the threshold again), so a
  // warning is sent once per crossing, across restarts.
  if (v == "account.quota_warning_flag") {
    account* a = data.find(r.arg("address"));
    if (!a) return admin_failure(r, "no such account: " + r.arg("address"));
    bool sent = r.arg("sent") == "yes";
    changed = a->quota_warning_sent != sent;
    a->quota_warning_sent = sent;
    return ok_text(r, "quota warning flag of " + a->address + ": " + (sent ? "set" : "clear"),
                   std::string("\"quota_warning_sent\":") + (sent ? "true" : "false"));
  }

  if (v == "resolve") {
    directory snapshot(data);
    resolution res = snapshot.resolve_recipient(r.arg("address"));
    std::string list, ids;
    for (account_id id : res.accounts) {
      const account* a = snapshot.find_account(id);
      list += (list.empty() ? "" : ", ") + a->address;
      ids += (ids.empty() ? "" : ",") + json_quote(a->address);
    }
    admin_response resp;
    if (r.json) resp.out = "{\"status\":" + json_quote(to_string(res.status)) + ",\"accounts\":[" + ids + "]}\n";
    else resp.out = r.arg("address") + ": " + std::string(to_string(res.status)) + (list.empty() ? "" : " -> " + list) + "\n";
    resp.exit_code = res.status == resolve_status::local ? 0 : 1;
    return resp;
  }

  return admin_failure(r, "unknown command \"" + v + "\"");
}

}  // namespace appliance
