#pragma once
// RFC 6376 §3.2 tag=value lists, the syntax of DKIM-Signature fields, DKIM
// key records and (close enough, RFC 7489 §6.4) DMARC records. Pure: views
// into the input, no allocation beyond the vector of tags.

#include <optional>
#include <string_view>
#include <vector>

namespace msgauth {

struct tag {
  std::string_view name;   // case-sensitive per RFC 6376
  std::string_view value;  // surrounding whitespace trimmed, inner FWS kept
};

// Parses "a=b; c = d ;" into tags. Fails (nullopt) on a tag without '=',
// an empty or invalid tag name, a duplicate tag (RFC 6376 §3.2: "MUST be
// treated as invalid"), or more than `tags_max` tags.
std::optional<std::vector<tag>> parse_tag_list(std::string_view text, size_t tags_max = 64);

// The value of `name`, if present.
std::optional<std::string_view> find_tag(const std::vector<tag>& tags, std::string_view name);

// Removes every folding whitespace character (SP, HTAB, CR, LF): base64
// values such as b= and p= may be folded anywhere.
std::string strip_whitespace(std::string_view value);

bool is_wsp(char c);
bool iequals(std::string_view a, std::string_view b);
std::string_view trim(std::string_view s);  // SP, HTAB, CR, LF both ends
std::string to_lower(std::string_view s);

}  // namespace msgauth
