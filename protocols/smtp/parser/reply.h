#pragma once
// SMTP replies: a reply code (RFC 5321 section 4.2), an enhanced status code
// (RFC 3463, RFC 2034) and text. Parsers return canned replies whose text is
// static storage, so reporting an error never allocates.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace smtp {

struct reply {
  std::uint16_t code = 0;         // 200..599
  std::string_view enhanced;      // "5.5.4", or empty where none applies (220 greeting)
  std::string_view text;          // one line, no CR/LF; static storage for canned replies

  friend bool operator==(const reply&, const reply&) = default;
};

// RFC 5321 section 4.5.3.1.5: a reply line is at most 512 octets with CRLF.
inline constexpr std::size_t reply_line_length_max = 512;

// Appends a reply of one or more lines to `output`: "250-first\r\n" ...
// "250 last\r\n". The enhanced code, when non-empty, follows the code on
// every line (RFC 2034 section 4). Each line is cut to `line_length_max`
// octets including CRLF, and CR, LF and NUL inside the text become spaces, so
// text taken from elsewhere (a client's EHLO name, a filter verdict) can never
// inject a reply line. An empty `lines` gives one line with no text.
void format_reply(std::string& output, std::uint16_t code, std::string_view enhanced,
                  std::span<const std::string_view> lines, std::size_t line_length_max = reply_line_length_max);
void format_reply(std::string& output, const reply& r, std::size_t line_length_max = reply_line_length_max);
std::string format_reply(const reply& r);

// Canned replies shared by the parsers and the session.
namespace replies {
inline constexpr reply line_too_long{500, "5.5.2", "Line too long"};
inline constexpr reply syntax_error{500, "5.5.2", "Syntax error"};
inline constexpr reply unrecognized{500, "5.5.1", "Command unrecognized"};
inline constexpr reply bad_arguments{501, "5.5.4", "Syntax error in parameters or arguments"};
inline constexpr reply unknown_parameter{555, "5.5.4", "Unrecognized MAIL FROM or RCPT TO parameter"};
inline constexpr reply message_too_big{552, "5.3.4", "Message size exceeds fixed maximum message size"};
// Issue 5 asks for 500 5.5.2 for over-long lines, in commands and in data alike.
inline constexpr reply message_line_too_long{500, "5.5.2", "Message line too long (limit 1000 octets including CRLF)"};
inline constexpr reply bare_line_ending{550, "5.6.11", "Bare CR or LF in message content; lines must end with CRLF"};
}  // namespace replies

}  // namespace smtp
