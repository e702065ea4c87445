#include "protocols/msgauth/crypto.h"

#include <openssl/bn.h>
#include <openssl/bytestring.h>
#include <openssl/err.h>
#include <openssl/curve25519.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <cstring>

#include "protocols/common/base64.h"

namespace msgauth {

static_assert(sizeof(SHA256_CTX) <= 112, "sha256 state buffer too small");

sha256::sha256() { SHA256_Init(reinterpret_cast<SHA256_CTX*>(_state)); }
void sha256::update(std::string_view bytes) {
  SHA256_Update(reinterpret_cast<SHA256_CTX*>(_state), bytes.data(), bytes.size());
}
std::array<uint8_t, 32> sha256::finish() {
  std::array<uint8_t, 32> out{};
  SHA256_Final(out.data(), reinterpret_cast<SHA256_CTX*>(_state));
  return out;
}

std::string_view key_algorithm_name(key_algorithm a) { return a == key_algorithm::rsa ? "rsa" : "ed25519"; }
std::string_view dkim_algorithm_name(key_algorithm a) {
  return a == key_algorithm::rsa ? "rsa-sha256" : "ed25519-sha256";
}

void pkey_deleter::operator()(evp_pkey_st* key) const { EVP_PKEY_free(key); }

std::optional<private_key> private_key::generate(key_algorithm algorithm, unsigned rsa_bits) {
  private_key out;
  out._algorithm = algorithm;
  if (algorithm == key_algorithm::ed25519) {
    uint8_t public_key[32], secret[64];
    ED25519_keypair(public_key, secret);
    out._key.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, secret, 32));
    OPENSSL_cleanse(secret, sizeof secret);
  } else {
    RSA* rsa = RSA_new();
    BIGNUM* e = BN_new();
    bool ok = rsa && e && BN_set_word(e, RSA_F4) && RSA_generate_key_ex(rsa, static_cast<int>(rsa_bits), e, nullptr);
    BN_free(e);
    if (!ok) {
      RSA_free(rsa);
      return std::nullopt;
    }
    out._key.reset(EVP_PKEY_new());
    if (!out._key || !EVP_PKEY_assign_RSA(out._key.get(), rsa)) {
      RSA_free(rsa);
      return std::nullopt;
    }
  }
  if (!out._key) return std::nullopt;
  return out;
}

static constexpr std::string_view pem_begin = "-----BEGIN PRIVATE KEY-----";
static constexpr std::string_view pem_end = "-----END PRIVATE KEY-----";

std::optional<private_key> private_key::from_pem(std::string_view pem) {
  size_t begin = pem.find(pem_begin), end = pem.find(pem_end);
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) return std::nullopt;
  std::string_view body = pem.substr(begin + pem_begin.size(), end - begin - pem_begin.size());
  auto der = proto::base64_decode(body, proto::base64_mode::lenient, 16384);
  if (!der) return std::nullopt;
  CBS cbs;
  CBS_init(&cbs, reinterpret_cast<const uint8_t*>(der->data()), der->size());
  private_key out;
  out._key.reset(EVP_parse_private_key(&cbs));
  if (!out._key || CBS_len(&cbs) != 0) return std::nullopt;
  switch (EVP_PKEY_id(out._key.get())) {
    case EVP_PKEY_RSA: out._algorithm = key_algorithm::rsa; break;
    case EVP_PKEY_ED25519: out._algorithm = key_algorithm::ed25519; break;
    default: return std::nullopt;
  }
  return out;
}

std::string private_key::to_pem() const {
  CBB cbb;
  uint8_t* der = nullptr;
  size_t der_len = 0;
  if (!CBB_init(&cbb, 0) || !EVP_marshal_private_key(&cbb, _key.get()) || !CBB_finish(&cbb, &der, &der_len)) {
    CBB_cleanup(&cbb);
    return {};
  }
  std::string encoded = proto::base64_encode(std::string_view(reinterpret_cast<const char*>(der), der_len));
  OPENSSL_cleanse(der, der_len);
  OPENSSL_free(der);
  std::string out(pem_begin);
  out += '\n';
  for (size_t i = 0; i < encoded.size(); i += 64) {
    out.append(encoded, i, 64);
    out += '\n';
  }
  out += pem_end;
  out += '\n';
  return out;
}

std::string private_key::dkim_public_key() const {
  if (_algorithm == key_algorithm::ed25519) {
    uint8_t raw[32];
    size_t len = sizeof raw;
    if (!EVP_PKEY_get_raw_public_key(_key.get(), raw, &len)) return {};
    return proto::base64_encode(std::string_view(reinterpret_cast<const char*>(raw), len));
  }
  CBB cbb;
  uint8_t* der = nullptr;
  size_t der_len = 0;
  if (!CBB_init(&cbb, 0) || !EVP_marshal_public_key(&cbb, _key.get()) || !CBB_finish(&cbb, &der, &der_len)) {
    CBB_cleanup(&cbb);
    return {};
  }
  std::string out = proto::base64_encode(std::string_view(reinterpret_cast<const char*>(der), der_len));
  OPENSSL_free(der);
  return out;
}

std::optional<std::string> private_key::sign_digest(const std::array<uint8_t, 32>& digest) const {
  if (_algorithm == key_algorithm::ed25519) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::string signature(64, '\0');
    size_t len = signature.size();
    bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, _key.get()) &&
              EVP_DigestSign(ctx, reinterpret_cast<uint8_t*>(signature.data()), &len, digest.data(), digest.size());
    EVP_MD_CTX_free(ctx);
    if (!ok || len != 64) return std::nullopt;
    return signature;
  }
  RSA* rsa = EVP_PKEY_get0_RSA(_key.get());
  if (!rsa) return std::nullopt;
  std::string signature(RSA_size(rsa), '\0');
  unsigned len = 0;
  if (!RSA_sign(NID_sha256, digest.data(), digest.size(), reinterpret_cast<uint8_t*>(signature.data()), &len, rsa))
    return std::nullopt;
  signature.resize(len);
  return signature;
}

verify_outcome verify_digest(key_algorithm algorithm, std::string_view public_key_bytes,
                             const std::array<uint8_t, 32>& digest, std::string_view signature,
                             unsigned rsa_bits_min) {
  const auto* key = reinterpret_cast<const uint8_t*>(public_key_bytes.data());
  const auto* sig = reinterpret_cast<const uint8_t*>(signature.data());
  if (algorithm == key_algorithm::ed25519) {
    if (public_key_bytes.size() != 32) return verify_outcome::bad_key;
    if (signature.size() != 64) return verify_outcome::bad_signature;
    return ED25519_verify(digest.data(), digest.size(), sig, key) ? verify_outcome::good
                                                                  : verify_outcome::bad_signature;
  }
  // p= is a SubjectPublicKeyInfo (RFC 6376 §3.6.1); some publish the bare
  // RSAPublicKey, which deployed verifiers also accept.
  CBS cbs;
  CBS_init(&cbs, key, public_key_bytes.size());
  RSA* rsa = nullptr;
  EVP_PKEY* pkey = EVP_parse_public_key(&cbs);
  if (pkey) {
    rsa = EVP_PKEY_get1_RSA(pkey);
    EVP_PKEY_free(pkey);
  } else {
    CBS_init(&cbs, key, public_key_bytes.size());
    rsa = RSA_parse_public_key(&cbs);
  }
  if (!rsa) return verify_outcome::bad_key;
  verify_outcome out;
  if (RSA_bits(rsa) < rsa_bits_min) {
    out = verify_outcome::weak_key;
  } else {
    out = RSA_verify(NID_sha256, digest.data(), digest.size(), sig, signature.size(), rsa)
              ? verify_outcome::good
              : verify_outcome::bad_signature;
  }
  RSA_free(rsa);
  ERR_clear_error();  // a failed verify leaves errors on this thread's queue
  return out;
}

}  // namespace msgauth
