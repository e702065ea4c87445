#pragma once
// DKIM canonicalization (RFC 6376 §3.4): "simple" and "relaxed" for header
// fields and for the body. The body canonicalizer is a streaming state
// machine: it sees the body chunk by chunk as SMTP delivers it and holds
// back only what it cannot decide yet (a run of empty lines or of
// whitespace, which may turn out to be trailing), never a whole line.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace msgauth {

enum class canonicalization : uint8_t { simple, relaxed };

// Appends the canonical form of one header field (its raw bytes, folds and
// final CRLF included) to `out`, CRLF-terminated.
void canonicalize_header(canonicalization c, std::string_view raw_field, std::string& out);

class body_canonicalizer {
 public:
  explicit body_canonicalizer(canonicalization c) : _c(c) {}
  // Appends the canonical form of as much of `in` as can be decided.
  void feed(std::string_view in, std::string& out);
  // Appends what was held back, closing the body.
  void finish(std::string& out);

 private:
  void content(char c, std::string& out);
  canonicalization _c;
  uint64_t _pending_empty_lines = 0;  // empty lines not yet known to be inner
  bool _pending_wsp = false;          // relaxed: a whitespace run in this line
  bool _pending_cr = false;           // a CR waiting for its LF
  bool _line_has_content = false;
  bool _emitted_anything = false;
};

// Parses "relaxed/simple" (c= tag); a missing body part means simple.
struct canonicalization_pair {
  canonicalization header = canonicalization::simple;
  canonicalization body = canonicalization::simple;
};
std::optional<canonicalization_pair> parse_canonicalization(std::string_view value);

}  // namespace msgauth
