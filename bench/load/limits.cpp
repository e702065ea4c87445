// ringmail-load limits: the physical limits the comparison table prints
// beside the servers, measured in the same run on the same machine.
//   fdatasync   4 KB appends each followed by fdatasync, in the directory
//               the servers spool to: the ceiling of one-fsync-per-message
//               durability (group commit is how a server beats it)
//   aes_gcm     AES-128-GCM seal of 16 KB records on one core (CPU time)
//   loopback    one TCP stream over 127.0.0.1, 64 KB blocking writes
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <openssl/aead.h>
#include <openssl/rand.h>

#include "bench/load/latency.h"

namespace bench_load {

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double fdatasync_per_second(const std::string& dir, double seconds) {
  std::string path = dir + "/ringmail-load-fsync.tmp";
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  std::vector<char> block(4096, 'x');
  uint64_t start = now_ns(), n = 0;
  uint64_t end = start + static_cast<uint64_t>(seconds * 1e9);
  while (now_ns() < end && n < 1'000'000) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) break;
    if (::fdatasync(fd) != 0) break;
    ++n;
  }
  double elapsed = static_cast<double>(now_ns() - start) / 1e9;
  ::close(fd);
  ::unlink(path.c_str());
  return static_cast<double>(n) / elapsed;
}

double aes_gcm_mb_per_second(double seconds) {
  const EVP_AEAD* aead = EVP_aead_aes_128_gcm();
  std::vector<uint8_t> key(EVP_AEAD_key_length(aead));
  RAND_bytes(key.data(), key.size());
  EVP_AEAD_CTX ctx;
  if (!EVP_AEAD_CTX_init(&ctx, aead, key.data(), key.size(), EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr)) return -1;
  constexpr size_t record = 16 * 1024;
  std::vector<uint8_t> plain(record), sealed(record + EVP_AEAD_max_overhead(aead));
  std::vector<uint8_t> nonce(EVP_AEAD_nonce_length(aead), 0);
  RAND_bytes(plain.data(), plain.size());
  uint8_t ad[13] = {0, 0, 0, 0, 0, 0, 0, 0, 23, 3, 3, 0x40, 0x11};
  uint64_t records = 0;
  double start = thread_cpu_seconds(), elapsed = 0;
  do {
    for (int i = 0; i < 64; ++i) {
      std::memcpy(nonce.data(), &records, sizeof records);
      size_t out = 0;
      if (!EVP_AEAD_CTX_seal(&ctx, sealed.data(), &out, sealed.size(), nonce.data(), nonce.size(), plain.data(),
                             plain.size(), ad, sizeof ad))
        return -1;
      ++records;
    }
    elapsed = thread_cpu_seconds() - start;
  } while (elapsed < seconds);
  EVP_AEAD_CTX_cleanup(&ctx);
  return static_cast<double>(records * record) / 1e6 / elapsed;
}

double loopback_mb_per_second(double seconds) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(listener);
    return -1;
  }
  uint64_t received = 0;
  std::thread reader([&] {
    int fd = ::accept(listener, nullptr, nullptr);
    std::vector<char> buf(1 << 16);
    for (;;) {
      auto n = ::read(fd, buf.data(), buf.size());
      if (n <= 0) break;
      received += static_cast<uint64_t>(n);
    }
    ::close(fd);
  });
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  double mb = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::vector<char> block(1 << 16, 'y');
    uint64_t start = now_ns();
    uint64_t end = start + static_cast<uint64_t>(seconds * 1e9);
    uint64_t sent = 0;
    while (now_ns() < end) {
      auto n = ::write(fd, block.data(), block.size());
      if (n <= 0) break;
      sent += static_cast<uint64_t>(n);
    }
    mb = static_cast<double>(sent) / 1e6 / (static_cast<double>(now_ns() - start) / 1e9);
  }
  ::close(fd);
  reader.join();
  ::close(listener);
  return mb;
}

}  // namespace

int run_limits(const std::string& dir, double seconds) {
  double fsyncs = fdatasync_per_second(dir, seconds);
  double aes = aes_gcm_mb_per_second(seconds);
  double loop = loopback_mb_per_second(seconds);
  std::printf(R"({"generator":"limits","fdatasync_per_s":%.1f,"aes128gcm_mb_per_s_core":%.1f,"loopback_mb_per_s":%.1f})"
              "\n",
              fsyncs, aes, loop);
  return fsyncs > 0 && aes > 0 && loop > 0 ? 0 : 1;
}

}  // namespace bench_load
