#pragma once
// UTF-8 well-formedness (RFC 3629): SASL PLAIN fields and SMTPUTF8
// addresses must be valid UTF-8. Shortest form only, no surrogates, nothing
// above U+10FFFF.

#include <string_view>

namespace proto {

bool utf8_valid(std::string_view bytes) noexcept;

}  // namespace proto
