#pragma once
// xtext (RFC 3461 section 4): the encoding of ENVID, ORCPT and AUTH= values.
// xchar is any of "!" to "~" except "+" and "="; anything else is "+" and two
// hex digits. RFC 3461 says the hex digits are upper case; lower case is
// accepted on input because some clients send it, and always written upper.

#include <cstddef>
#include <string>
#include <string_view>

#include "kernel_io/base/result.h"

namespace smtp {

enum class xtext_errc { invalid_character, bad_escape, too_long };

// Decodes `input`; the result is at most `decoded_size_max` bytes.
kio::result<std::string, xtext_errc> xtext_decode(std::string_view input, std::size_t decoded_size_max);
// Appends the xtext encoding of `input` to `output`.
void xtext_encode(std::string_view input, std::string& output);

}  // namespace smtp
