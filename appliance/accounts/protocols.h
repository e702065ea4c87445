#pragma once
// The protocols an account may log in with. A small bit set so a directory
// snapshot stores it in a byte and the check is one AND.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace appliance {

enum class protocol : uint8_t { imap = 1, pop3 = 2, submission = 4 };

class protocol_set {
 public:
  constexpr protocol_set() = default;
  static constexpr protocol_set all() { return protocol_set(7); }
  static constexpr protocol_set none() { return protocol_set(0); }
  constexpr bool has(protocol p) const { return (_bits & uint8_t(p)) != 0; }
  constexpr void add(protocol p) { _bits |= uint8_t(p); }
  constexpr void remove(protocol p) { _bits &= uint8_t(~uint8_t(p)); }
  constexpr uint8_t bits() const { return _bits; }
  constexpr bool operator==(const protocol_set&) const = default;

  // "imap,pop3,submission"; "none" for the empty set.
  std::string to_string() const;
  // Parses a comma-separated list ("imap, submission", "all", "none").
  static std::optional<protocol_set> parse(std::string_view text);

 private:
  constexpr explicit protocol_set(uint8_t bits) : _bits(bits) {}
  uint8_t _bits = 7;
};

std::string_view to_string(protocol p);
std::optional<protocol> parse_protocol(std::string_view text);

}  // namespace appliance
