#pragma once
// The named limits of the IMAP command reader and parser. Every quantity a
// client can grow has one here; the session fills this struct from config.
// Exceeding a limit is a protocol error (errc), never a crash or an
// unbounded allocation.

#include <cstddef>
#include <cstdint>

namespace imap {

struct parser_limits {
  // Bytes of one line segment (the text between two literals, or the whole
  // command when it has none), CRLF excluded. RFC 7162 section 4 asks servers
  // to accept lines of at least 8192 octets.
  std::size_t line_length_max = 64 * 1024;
  // Bytes of one literal, synchronising or not.
  std::uint64_t literal_size_max = 64ull * 1024 * 1024;
  // Bytes of one non-synchronising literal. 4096 is the LITERAL- ceiling
  // (RFC 7888 section 5); a LITERAL+ server raises it to literal_size_max.
  std::uint64_t non_sync_literal_size_max = 4096;
  // Bytes of a whole command: every line segment and every literal, buffered
  // or streamed. The reader never buffers more than this for one command.
  std::uint64_t command_size_max = 80ull * 1024 * 1024;
  // Literals in one command (MULTIAPPEND messages, LOGIN with two literals).
  std::uint32_t literals_max = 256;
  // Nested parentheses and NOT/OR operators in one command: bounds the
  // parser's recursion.
  std::uint32_t nesting_depth_max = 32;
  // Ranges ("1:5" or "7") across all sequence sets of one command.
  std::uint32_t sequence_ranges_max = 65536;
  // Tokens (atoms, strings, numbers, list items) in one command.
  std::uint32_t arguments_max = 100000;
  // Body section part path length ("1.2.3.4" has 4).
  std::uint32_t section_parts_max = 32;
  // ID (RFC 2971 section 3.3): at most 30 field-value pairs, field names of
  // at most 30 octets and values of at most 1024.
  std::uint32_t id_fields_max = 30;
  std::size_t id_field_length_max = 30;
  std::size_t id_value_length_max = 1024;
  // A continuation line (AUTHENTICATE response, IDLE's DONE), CRLF excluded.
  // SASL responses of GSSAPI/Kerberos can be large.
  std::size_t continuation_line_length_max = 64 * 1024;
};

}  // namespace imap
