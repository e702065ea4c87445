#pragma once
// A self-signed certificate for the embedded default configuration's first
// start, so `ringmail serve` on a laptop speaks TLS without an operator step.
// ECDSA P-256 key, SHA-256 signature, random 128-bit serial, the hostnames
// as subjectAltName dNSName entries (the first also as CN). It is its own CA
// (basicConstraints CA:TRUE, keyCertSign) so stock clients accept it as a
// trust anchor with `--cacert cert.pem` without partial-chain flags.

#include <span>
#include <string>

#include "protocols/tls/error.h"

namespace tls {

struct pem_pair {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8, unencrypted
};

result<pem_pair> generate_self_signed(std::span<const std::string> hostnames, int valid_days);

inline constexpr const char* cert_file_name = "cert.pem";
inline constexpr const char* key_file_name = "key.pem";

// Writes `directory`/cert.pem (mode 0644) and `directory`/key.pem (mode 0600),
// each atomically (temporary file, fsync, rename). The directory must exist.
result<void> write_pem_files(const pem_pair& pems, const std::string& directory);

}  // namespace tls
