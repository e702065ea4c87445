// tls_aead_speed: the cipher "physical limit" under ringmail's TLS.
// Seals and opens 16 KB records (TLS's maximum record) with BoringSSL's
// EVP_AEAD for about a second each and prints MB/s on one core. Debian's
// Android BoringSSL has no `bssl speed`, hence this loop.
//
// usage: tls_aead_speed [seconds_per_case]

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <openssl/aead.h>
#include <openssl/rand.h>

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

constexpr size_t record_bytes = 16 * 1024;
constexpr size_t batch_records = 64;  // check the clock every 1 MB

void run(const char* name, const EVP_AEAD* aead, double seconds) {
  std::vector<uint8_t> key(EVP_AEAD_key_length(aead));
  RAND_bytes(key.data(), key.size());
  EVP_AEAD_CTX ctx;
  if (!EVP_AEAD_CTX_init(&ctx, aead, key.data(), key.size(), EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr)) {
    std::fprintf(stderr, "%s: init failed\n", name);
    std::exit(1);
  }
  const size_t nonce_bytes = EVP_AEAD_nonce_length(aead);
  const size_t overhead = EVP_AEAD_max_overhead(aead);
  std::vector<uint8_t> plaintext(record_bytes), sealed(record_bytes + overhead), opened(record_bytes);
  std::vector<uint8_t> nonce(nonce_bytes, 0);
  uint8_t additional[13] = {0, 0, 0, 0, 0, 0, 0, 0, 23, 3, 3, 0x40, 0x11};  // TLS-like AD
  RAND_bytes(plaintext.data(), plaintext.size());

  // Seal.
  size_t sealed_length = 0;
  uint64_t records = 0;
  const double seal_start = thread_cpu_seconds();
  double seal_elapsed = 0;
  do {
    for (size_t i = 0; i < batch_records; ++i) {
      std::memcpy(nonce.data(), &records, sizeof(records) < nonce_bytes ? sizeof(records) : nonce_bytes);
      if (!EVP_AEAD_CTX_seal(&ctx, sealed.data(), &sealed_length, sealed.size(), nonce.data(), nonce_bytes,
                             plaintext.data(), plaintext.size(), additional, sizeof(additional))) {
        std::fprintf(stderr, "%s: seal failed\n", name);
        std::exit(1);
      }
      ++records;
    }
    seal_elapsed = thread_cpu_seconds() - seal_start;
  } while (seal_elapsed < seconds);
  const double seal_mb_per_second = static_cast<double>(records * record_bytes) / seal_elapsed / 1e6;

  // Open the last sealed record repeatedly (same nonce, so it verifies).
  uint64_t opens = 0;
  size_t opened_length = 0;
  const double open_start = thread_cpu_seconds();
  double open_elapsed = 0;
  do {
    for (size_t i = 0; i < batch_records; ++i) {
      if (!EVP_AEAD_CTX_open(&ctx, opened.data(), &opened_length, opened.size(), nonce.data(), nonce_bytes,
                             sealed.data(), sealed_length, additional, sizeof(additional))) {
        std::fprintf(stderr, "%s: open failed\n", name);
        std::exit(1);
      }
      ++opens;
    }
    open_elapsed = thread_cpu_seconds() - open_start;
  } while (open_elapsed < seconds);
  const double open_mb_per_second = static_cast<double>(opens * record_bytes) / open_elapsed / 1e6;
  EVP_AEAD_CTX_cleanup(&ctx);

  std::printf("%-20s seal %8.0f MB/s (%.3f ms CPU/MB)   open %8.0f MB/s (%.3f ms CPU/MB)   16 KB records, 1 core\n",
              name, seal_mb_per_second, 1000.0 / seal_mb_per_second, open_mb_per_second,
              1000.0 / open_mb_per_second);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  run("AES-128-GCM", EVP_aead_aes_128_gcm(), seconds);
  run("AES-256-GCM", EVP_aead_aes_256_gcm(), seconds);
  run("ChaCha20-Poly1305", EVP_aead_chacha20_poly1305(), seconds);
  return 0;
}
