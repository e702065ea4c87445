#pragma once
// The cryptography DKIM needs, over BoringSSL: SHA-256, RSA PKCS#1 v1.5
// (rsa-sha256, RFC 6376) and Ed25519 (ed25519-sha256, RFC 8463) signing and
// verification, key generation, and PKCS#8 PEM for keys on disk. No I/O.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct evp_pkey_st;

namespace msgauth {

class sha256 {
 public:
  sha256();
  void update(std::string_view bytes);
  std::array<uint8_t, 32> finish();

 private:
  alignas(8) unsigned char _state[112];  // SHA256_CTX, opaque here
};

enum class key_algorithm : uint8_t { rsa, ed25519 };
std::string_view key_algorithm_name(key_algorithm a);        // "rsa" / "ed25519"
std::string_view dkim_algorithm_name(key_algorithm a);       // "rsa-sha256" / "ed25519-sha256"

struct pkey_deleter {
  void operator()(evp_pkey_st* key) const;
};
using pkey_ptr = std::unique_ptr<evp_pkey_st, pkey_deleter>;

class private_key {
 public:
  // RSA keys are 2048 bits unless told otherwise; DKIM verifiers accept
  // 1024-4096 (RFC 8301), 2048 is the common recommendation.
  static std::optional<private_key> generate(key_algorithm algorithm, unsigned rsa_bits = 2048);
  static std::optional<private_key> from_pem(std::string_view pem);
  std::string to_pem() const;  // "-----BEGIN PRIVATE KEY-----" PKCS#8
  key_algorithm algorithm() const { return _algorithm; }
  // The p= value of the DKIM key record: base64 of the SubjectPublicKeyInfo
  // (RSA) or of the raw 32-byte public key (Ed25519, RFC 8463 §4.2).
  std::string dkim_public_key() const;
  // Signs a SHA-256 digest: PKCS#1 v1.5 over the digest for RSA, Ed25519
  // over the 32 digest bytes (RFC 8463 §3). Returns the raw signature.
  std::optional<std::string> sign_digest(const std::array<uint8_t, 32>& digest) const;

 private:
  pkey_ptr _key;
  key_algorithm _algorithm = key_algorithm::rsa;
};

// Verifies `signature` over `digest` with a DKIM key record's decoded p=
// bytes. RSA keys below rsa_bits_min are refused (RFC 8301: 1024).
enum class verify_outcome : uint8_t { good, bad_signature, bad_key, weak_key };
verify_outcome verify_digest(key_algorithm algorithm, std::string_view public_key_bytes,
                             const std::array<uint8_t, 32>& digest, std::string_view signature,
                             unsigned rsa_bits_min = 1024);

}  // namespace msgauth
