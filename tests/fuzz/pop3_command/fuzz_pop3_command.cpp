// Fuzzes the POP3 line reader, command parser, dot-stuffer and TOP filter:
//  - the line reader gives the same lines and errors however the input is cut;
//  - dot-stuffing is chunking-independent, ends in CRLF "." CRLF, has no
//    early terminator line, and unstuffs to the CRLF-normalised input;
//  - top_filter keeps the same prefix however the input is cut.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocols/pop3/parser/parser.h"

namespace {

[[noreturn]] void property_failed(const char* what) {
  std::fprintf(stderr, "property failed: %s\n", what);
  std::abort();
}

std::vector<std::string> read_lines(std::string_view input, std::size_t step) {
  pop3::line_reader reader(64);
  std::vector<std::string> out;
  std::string pending;
  for (std::size_t at = 0; at < input.size(); at += step) {
    pending.append(input.substr(at, step));
    std::string_view rest = pending;
    while (true) {
      auto ev = reader.read(rest);
      rest.remove_prefix(ev.consumed_bytes);
      if (ev.status == pop3::read_status::need_more) break;
      if (ev.status == pop3::read_status::line) {
        auto cmd = pop3::parse_command(ev.line);
        out.push_back("L" + std::string(ev.line) + (cmd ? "+" : "-" + std::string(to_string(cmd.error()))));
      } else {
        out.push_back("E");
      }
    }
    pending.assign(rest);
  }
  return out;
}

std::string stuff(std::string_view input, std::size_t step) {
  pop3::dot_stuffer stuffer;
  std::string out;
  for (std::size_t at = 0; at < input.size(); at += step) stuffer.append(input.substr(at, step), out);
  stuffer.finish(out);
  return out;
}

std::size_t top_kept(std::string_view input, std::size_t step, std::uint32_t lines) {
  pop3::top_filter filter(lines);
  std::size_t kept = 0;
  for (std::size_t at = 0; at < input.size() && !filter.done(); at += step) {
    std::string_view chunk = input.substr(at, step);
    std::size_t k = filter.keep(chunk);
    kept += k;
    if (k < chunk.size() && !filter.done()) property_failed("top_filter kept less without finishing");
  }
  return kept;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto whole_lines = read_lines(input, size == 0 ? 1 : size);
  for (std::size_t step : {1u, 3u, 7u}) {
    if (read_lines(input, step) != whole_lines) property_failed("line reader depends on chunking");
  }

  std::string whole = stuff(input, size == 0 ? 1 : size);
  for (std::size_t step : {1u, 2u, 5u}) {
    if (stuff(input, step) != whole) property_failed("dot-stuffing depends on chunking");
  }
  if (whole.size() < 3 || whole.compare(whole.size() - 3, 3, ".\r\n") != 0) property_failed("no terminator");
  if (whole.size() > 3 && whole.compare(whole.size() - 5, 2, "\r\n") != 0) property_failed("terminator not on its own line");
  // Unstuff line by line; only the last line may be ".".
  std::string unstuffed;
  std::size_t pos = 0;
  while (true) {
    std::size_t end = whole.find("\r\n", pos);
    if (end == std::string::npos) property_failed("output not CRLF-terminated");
    std::string_view line(whole.data() + pos, end - pos);
    if (line == ".") {
      if (end + 2 != whole.size()) property_failed("early terminator");
      break;
    }
    if (!line.empty() && line[0] == '.') {
      if (line.size() < 2 || line[1] != '.') property_failed("unstuffed dot at line start");
      line.remove_prefix(1);
    }
    unstuffed.append(line);
    unstuffed.append("\r\n");
    pos = end + 2;
  }
  // Expected: the input with bare LF as CRLF and a final CRLF if missing.
  std::string expected;
  for (std::size_t i = 0; i < size; ++i) {
    if (input[i] == '\n' && (i == 0 || input[i - 1] != '\r')) expected.push_back('\r');
    expected.push_back(input[i]);
  }
  if (!expected.empty() && !(expected.size() >= 2 && expected.compare(expected.size() - 2, 2, "\r\n") == 0)) {
    if (expected.back() == '\r') {
      expected.push_back('\n');
    } else {
      expected.append("\r\n");
    }
  }
  if (unstuffed != expected) property_failed("unstuffing does not give the normalised input");

  std::uint32_t lines = size > 0 ? data[0] % 8 : 0;
  std::size_t kept = top_kept(input, size == 0 ? 1 : size, lines);
  for (std::size_t step : {1u, 4u}) {
    if (top_kept(input, step, lines) != kept) property_failed("top_filter depends on chunking");
  }
  return 0;
}
