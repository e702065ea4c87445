#include "appliance/accounts/protocols.h"

namespace appliance {

namespace {
constexpr protocol all_protocols[] = {protocol::imap, protocol::pop3, protocol::submission};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::string_view to_string(protocol p) {
  switch (p) {
    case protocol::imap: return "imap";
    case protocol::pop3: return "pop3";
    case protocol::submission: return "submission";
  }
  return "?";
}

std::optional<protocol> parse_protocol(std::string_view text) {
  for (protocol p : all_protocols)
    if (text == to_string(p)) return p;
  // "smtp" is what an operator thinks of for sending; it means submission
  // (port 25 has no login).
  if (text == "smtp") return protocol::submission;
  return std::nullopt;
}

std::string protocol_set::to_string() const {
  std::string out;
  for (protocol p : all_protocols) {
    if (!has(p)) continue;
    if (!out.empty()) out += ',';
    out += appliance::to_string(p);
  }
  return out.empty() ? "none" : out;
}

std::optional<protocol_set> protocol_set::parse(std::string_view text) {
  text = trim(text);
  if (text == "all") return all();
  if (text == "none") return none();
  protocol_set set = none();
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = trim(text.substr(0, comma));
    auto p = parse_protocol(item);
    if (!p) return std::nullopt;
    set.add(*p);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return set;
}

}  // namespace appliance
