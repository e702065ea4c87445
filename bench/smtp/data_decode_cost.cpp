// smtp_data_decode_cost [--reference] [--passes N] [--chunk BYTES] FILE...
// Each file is turned into what a client sends after DATA (CRLF line ends,
// dot-stuffed, "\r\n.\r\n" at the end), then decoded in chunks of --chunk
// bytes (16384: one receive buffer) --passes times. Prints ns and, for
// callgrind (--toggle-collect='*feed*'), the bytes decoded. --reference
// decodes with the pre-session-10 byte-at-a-time decoder instead.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "protocols/smtp/parser/data_decoder.h"
#include "tests/unit/smtp_parser/data_decoder_lockstep.h"

namespace {

std::string wire_form(const std::string& raw) { return smtp::testing_reference::dot_stuffed(raw) + ".\r\n"; }

template <typename Decoder>
std::size_t decode_all(const std::vector<std::string>& messages, std::size_t chunk_size, std::string& scratch) {
  std::size_t content = 0;
  Decoder decoder;
  for (const std::string& message : messages) {
    decoder.reset();
    for (std::size_t at = 0; at < message.size(); at += chunk_size) {
      const std::size_t n = std::min(chunk_size, message.size() - at);
      scratch.assign(message, at, n);  // a receive buffer is decoded in place
      std::size_t offset = 0;
      while (offset < n) {
        const smtp::data_step step =
            decoder.feed(std::as_writable_bytes(std::span(scratch.data() + offset, n - offset)));
        content += step.prefix.size() + step.content_size;
        offset += step.consumed;
        if (step.end_of_data) break;
      }
    }
    if (!decoder.done()) std::abort();
  }
  return content;
}

}  // namespace

int main(int argc, char** argv) {
  bool reference = false;
  int passes = 5;
  std::size_t chunk = 16384;
  std::vector<std::string> messages;
  std::size_t bytes = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reference") == 0) {
      reference = true;
    } else if (std::strcmp(argv[i], "--passes") == 0 && i + 1 < argc) {
      passes = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--chunk") == 0 && i + 1 < argc) {
      chunk = std::strtoul(argv[++i], nullptr, 10);
    } else {
      std::ifstream in(argv[i], std::ios::binary);
      messages.push_back(wire_form(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>())));
      bytes += messages.back().size();
    }
  }
  if (messages.empty() || chunk == 0) {
    std::fprintf(stderr, "usage: smtp_data_decode_cost [--reference] [--passes N] [--chunk BYTES] FILE...\n");
    return 2;
  }
  std::string scratch;
  std::size_t content = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int p = 0; p < passes; ++p) {
    content += reference ? decode_all<smtp::testing_reference::reference_data_decoder>(messages, chunk, scratch)
                         : decode_all<smtp::data_decoder>(messages, chunk, scratch);
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %zu messages, %zu wire bytes x %d passes, chunk %zu: %.3f ns/byte, %.0f ns/message (content %zu)\n",
              reference ? "reference" : "data_decoder", messages.size(), bytes, passes, chunk,
              ns / double(bytes) / passes, ns / double(messages.size()) / passes, content);
  return 0;
}
