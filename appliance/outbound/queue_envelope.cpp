#include "appliance/outbound/queue_envelope.h"

#include <algorithm>
#include <charconv>

namespace appliance::outbound {

namespace {

std::string escape(std::string_view v) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if (c == '%' || c == '\r' || c == '\n' || c == ' ' || c == 0) {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
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
    unsigned value = 0;
    auto r = std::from_chars(v.data() + i + 1, v.data() + i + 3, value, 16);
    if (r.ec != std::errc() || r.ptr != v.data() + i + 3) return std::nullopt;
    out += char(value);
    i += 2;
  }
  return out;
}

std::optional<uint64_t> number(std::string_view v) {
  uint64_t n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size()) return std::nullopt;
  return n;
}

}  // namespace

std::string encode_envelope(const envelope& e) {
  std::string out = "RMQ1\n";
  auto kv = [&](std::string_view k, std::string_view v) {
    out += k;
    out += '=';
    out += escape(v);
    out += '\n';
  };
  kv("id", e.id);
  kv("from", e.sender);
  kv("account", std::to_string(e.account));
  kv("created", std::to_string(e.created_ms));
  kv("ret", e.ret);
  kv("envid", e.envid);
  kv("body8", e.eight_bit ? "1" : "0");
  kv("utf8", e.smtputf8 ? "1" : "0");
  for (const auto& r : e.recipients) {
    // One line per recipient: address, notify, orcpt, each escaped and
    // separated by a space (escape() turns spaces inside into %20).
    out += "rcpt=" + escape(r.address) + " " + escape(r.notify) + " " + escape(r.orcpt) + "\n";
  }
  out += '\n';
  out += e.trace_headers;
  return out;
}

std::optional<envelope> decode_envelope(std::string_view prefix) {
  if (!prefix.starts_with("RMQ1\n")) return std::nullopt;
  prefix.remove_prefix(5);
  envelope e;
  bool have_id = false, have_from = false;
  for (;;) {
    size_t nl = prefix.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view line = prefix.substr(0, nl);
    prefix.remove_prefix(nl + 1);
    if (line.empty()) break;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = line.substr(0, eq), raw = line.substr(eq + 1);
    if (key == "rcpt") {
      queued_recipient r;
      size_t s1 = raw.find(' ');
      size_t s2 = s1 == std::string_view::npos ? s1 : raw.find(' ', s1 + 1);
      if (s2 == std::string_view::npos) return std::nullopt;
      auto a = unescape(raw.substr(0, s1)), n = unescape(raw.substr(s1 + 1, s2 - s1 - 1)),
           o = unescape(raw.substr(s2 + 1));
      if (!a || !n || !o || a->empty()) return std::nullopt;
      e.recipients.push_back({*a, *n, *o});
      continue;
    }
    auto value = unescape(raw);
    if (!value) return std::nullopt;
    if (key == "id") {
      e.id = *value;
      have_id = true;
    } else if (key == "from") {
      e.sender = *value;
      have_from = true;
    } else if (key == "account") {
      auto n = number(*value);
      if (!n) return std::nullopt;
      e.account = *n;
    } else if (key == "created") {
      auto n = number(*value);
      if (!n) return std::nullopt;
      e.created_ms = *n;
    } else if (key == "ret") {
      e.ret = *value;
    } else if (key == "envid") {
      e.envid = *value;
    } else if (key == "body8") {
      e.eight_bit = *value == "1";
    } else if (key == "utf8") {
      e.smtputf8 = *value == "1";
    }
    // Unknown keys: written by a newer version; ignored.
  }
  if (!have_id || !have_from || e.recipients.empty()) return std::nullopt;
  e.trace_headers.assign(prefix);
  return e;
}

std::string delivered_keyword(size_t recipient) { return "$rmq-d" + std::to_string(recipient); }
std::string failed_keyword(size_t recipient) { return "$rmq-f" + std::to_string(recipient); }
std::string attempts_keyword(uint32_t attempts) { return "$rmq-a" + std::to_string(attempts); }

queue_state state_from_keywords(const std::vector<std::string>& keywords, size_t recipients) {
  queue_state s;
  s.recipients.resize(recipients);
  for (const auto& k : keywords) {
    std::string_view v = k;
    if (v == warned_keyword) {
      s.warned = true;
    } else if (v == held_keyword) {
      s.held = true;
    } else if (v.starts_with("$rmq-d") || v.starts_with("$rmq-f") || v.starts_with("$rmq-a")) {
      auto n = number(v.substr(6));
      if (!n) continue;
      if (v[5] == 'a') {
        s.attempts = std::max<uint32_t>(s.attempts, uint32_t(std::min<uint64_t>(*n, UINT32_MAX)));
      } else if (*n < recipients) {
        (v[5] == 'd' ? s.recipients[*n].delivered : s.recipients[*n].failed) = true;
      }
    }
  }
  return s;
}

uint64_t retry_delay_ms(uint32_t attempts, uint64_t initial_ms, uint64_t max_ms) {
  uint64_t d = initial_ms;
  for (uint32_t i = 1; i < attempts && d < max_ms; ++i) d *= 2;
  return std::min(d, max_ms);
}

std::string domain_of(std::string_view address) {
  size_t at = address.rfind('@');
  std::string d(at == std::string_view::npos ? std::string_view() : address.substr(at + 1));
  for (char& c : d)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return d;
}

bool needs_smtputf8(std::string_view address) {
  size_t at = address.rfind('@');
  std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
  return std::any_of(local.begin(), local.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

}  // namespace appliance::outbound
