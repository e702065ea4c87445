#pragma once
// The client side of SMTP replies: assembling a multi-line reply from the
// lines a server sends ("250-first", "250 last"), and reading the EHLO
// capabilities out of it. Pure: lines in, values out; bounded by
// reply_lines_max so a server that never ends a reply cannot grow memory.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtp {

inline constexpr std::size_t reply_lines_max = 100;

struct server_reply {
  std::uint16_t code = 0;
  std::string enhanced;             // "5.1.1" if the server sent one (RFC 2034), else ""
  std::vector<std::string> lines;   // text of each line, without code and enhanced code
  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }
  // "550 5.1.1 text / second line": for logs, DSN diagnostic codes, bounces.
  std::string summary() const;
};

class reply_assembler {
 public:
  enum class status { need_more, complete, error };
  // Feeds one line (without CRLF). `complete`: take() the reply. `error`: the
  // line is not a reply line, changes code mid-reply, or the reply is too
  // long; the connection should be dropped.
  status feed(std::string_view line);
  server_reply take();

 private:
  server_reply _reply;
  bool _started = false;
};

// What EHLO said the server supports.
struct server_capabilities {
  bool esmtp = false;
  bool starttls = false;
  bool pipelining = false;
  bool eightbitmime = false;
  bool smtputf8 = false;
  bool chunking = false;
  bool dsn = false;
  bool enhanced_status_codes = false;
  std::optional<std::uint64_t> size_max;  // SIZE n (0: no announced limit)
  std::vector<std::string> auth_mechanisms;
};
server_capabilities parse_ehlo(const server_reply& ehlo);

}  // namespace smtp
