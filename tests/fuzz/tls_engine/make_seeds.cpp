// Writes the seed corpus of tls_engine_fuzz into the directory given as
// argv[1]: real first flights of ringmail's client engine (TLS 1.3 and
// TLS 1.2-only) with several chunkings, plus a few hostile shapes. Run by
// hand when the harness's input format changes; the seeds are committed.

#include <cstdio>
#include <string>
#include <vector>

#include "protocols/tls/context.h"
#include "protocols/tls/engine.h"

namespace {

std::vector<unsigned char> client_hello(tls::protocol_version max_version) {
  tls::client_config config;
  config.mode = tls::verify_mode::opportunistic;
  config.max_version = max_version;
  auto context = tls::client_context::create(config);
  auto client = tls::engine::create_client(*context, "fuzz.example");
  (void)client->handshake();
  auto out = client->pending_output();
  return {reinterpret_cast<const unsigned char*>(out.data()),
          reinterpret_cast<const unsigned char*>(out.data()) + out.size()};
}

void write_seed(const std::string& dir, const std::string& name, unsigned char mode,
                const std::vector<unsigned char>& body) {
  const std::string path = dir + "/" + name;
  FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) {
    std::perror(path.c_str());
    return;
  }
  std::fputc(mode, file);
  std::fwrite(body.data(), 1, body.size(), file);
  std::fclose(file);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s corpus_dir\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const auto hello13 = client_hello(tls::protocol_version::tls1_3);
  const auto hello12 = client_hello(tls::protocol_version::tls1_2);
  write_seed(dir, "hello13_whole", 0x7f, hello13);
  write_seed(dir, "hello13_bytewise", 0x00, hello13);
  write_seed(dir, "hello13_chunk7", 0x06, hello13);
  write_seed(dir, "hello12_whole", 0x7f, hello12);
  auto truncated = hello13;
  truncated.resize(truncated.size() / 2);
  write_seed(dir, "hello13_truncated", 0x7f, truncated);
  auto twice = hello13;
  twice.insert(twice.end(), hello13.begin(), hello13.end());
  write_seed(dir, "hello13_twice", 0x7f, twice);
  const std::string plaintext = "EHLO client.example\r\nSTARTTLS\r\n";
  write_seed(dir, "plaintext_smtp", 0x7f, {plaintext.begin(), plaintext.end()});
  // An SSLv2-format ClientHello header and a record claiming the maximum length.
  write_seed(dir, "sslv2_hello", 0x7f, {0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10});
  write_seed(dir, "huge_record", 0x7f, {0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00});
  // Established mode: a plaintext alert, an application record with a bad
  // tag, a record longer than TLS allows.
  write_seed(dir, "established_plain_alert", 0x80 | 0x7f, {0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00});
  std::vector<unsigned char> bad_tag = {0x17, 0x03, 0x03, 0x00, 0x20};
  bad_tag.resize(5 + 0x20, 0x41);
  write_seed(dir, "established_bad_tag", 0x80 | 0x10, bad_tag);
  write_seed(dir, "established_oversize", 0x80 | 0x7f, {0x17, 0x03, 0x03, 0x48, 0x01});
  return 0;
}
