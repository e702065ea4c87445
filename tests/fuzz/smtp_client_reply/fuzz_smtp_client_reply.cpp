// Feeds server reply lines to the client's reply assembler and EHLO parser.
// Property: a complete reply has 1..reply_lines_max lines, a code in
// 200..599, and its summary starts with that code.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/smtp/parser/client_reply.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  smtp::reply_assembler a;
  while (!input.empty()) {
    size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto s = a.feed(line);
    if (s == smtp::reply_assembler::status::complete) {
      smtp::server_reply r = a.take();
      if (r.code < 200 || r.code > 599 || r.lines.empty() || r.lines.size() > smtp::reply_lines_max) std::abort();
      if (r.summary().rfind(std::to_string(r.code), 0) != 0) std::abort();
      (void)smtp::parse_ehlo(r);
    } else if (s == smtp::reply_assembler::status::error) {
      a = smtp::reply_assembler();
    }
    if (nl == std::string_view::npos) break;
    input.remove_prefix(nl + 1);
  }
  return 0;
}
