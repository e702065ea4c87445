#include "protocols/tls/self_signed.h"

#include <openssl/bn.h>
#include <openssl/bytestring.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "protocols/tls/detail/pem_io.h"

namespace tls {
namespace {

error fail_here(const char* what) { return detail::make_error(errc::library_failure, what); }

std::string bio_to_string(BIO* bio) {
  const uint8_t* data = nullptr;
  size_t length = 0;
  BIO_mem_contents(bio, &data, &length);
  return std::string(reinterpret_cast<const char*>(data), length);
}

bool add_extension(X509* cert, int nid, void* value, bool critical) {
  return X509_add1_ext_i2d(cert, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT) == 1;
}

// Hostnames go into a DER certificate: refuse anything that is not a plain
// DNS name (or a leading wildcard label) rather than sign garbage.
bool valid_hostname(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || (c == '*' && i == 0 && name.size() > 2 && name[1] == '.');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

result<pem_pair> generate_self_signed(std::span<const std::string> hostnames, int valid_days) {
  if (hostnames.empty()) return kio::fail(error{errc::config_invalid, "self-signed certificate needs a hostname"});
  for (const std::string& name : hostnames) {
    if (!valid_hostname(name)) return kio::fail(error{errc::config_invalid, "not a DNS name: " + name});
  }
  if (valid_days <= 0 || valid_days > 3650) {
    return kio::fail(error{errc::config_invalid, "valid_days must be within 1..3650"});
  }

  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  if (!ec || !EC_KEY_generate_key(ec.get())) return kio::fail(fail_here("EC key generation"));
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  if (!key || !EVP_PKEY_assign_EC_KEY(key.get(), ec.release())) return kio::fail(fail_here("EVP_PKEY"));

  bssl::UniquePtr<X509> cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), X509_VERSION_3)) return kio::fail(fail_here("X509_new"));

  // 128 random bits, top bit cleared so the INTEGER stays positive.
  uint8_t serial_bytes[16];
  RAND_bytes(serial_bytes, sizeof(serial_bytes));
  serial_bytes[0] &= 0x7f;
  serial_bytes[0] |= 0x01;  // and non-zero leading byte: a full 16-byte serial
  bssl::UniquePtr<BIGNUM> serial_bn(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  bssl::UniquePtr<ASN1_INTEGER> serial(serial_bn ? BN_to_ASN1_INTEGER(serial_bn.get(), nullptr) : nullptr);
  if (!serial || !X509_set_serialNumber(cert.get(), serial.get())) return kio::fail(fail_here("serial"));

  // Backdate an hour: a client whose clock is a little behind still accepts it.
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(valid_days) * 86400)) {
    return kio::fail(fail_here("validity"));
  }

  X509_NAME* subject = X509_get_subject_name(cert.get());
  const std::string& common_name = hostnames.front();
  if (!X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8, reinterpret_cast<const uint8_t*>("ringmail"), -1, -1,
                                  0) ||
      !X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const uint8_t*>(common_name.data()),
                                  static_cast<int>(common_name.size()), -1, 0) ||
      !X509_set_issuer_name(cert.get(), subject) || !X509_set_pubkey(cert.get(), key.get())) {
    return kio::fail(fail_here("subject"));
  }

  bssl::UniquePtr<GENERAL_NAMES> sans(GENERAL_NAMES_new());
  if (!sans) return kio::fail(fail_here("GENERAL_NAMES_new"));
  for (const std::string& name : hostnames) {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    if (!gn || !ia5 || !ASN1_STRING_set(ia5, name.data(), static_cast<int>(name.size()))) {
      GENERAL_NAME_free(gn);
      ASN1_IA5STRING_free(ia5);
      return kio::fail(fail_here("dNSName"));
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
    if (!bssl::PushToStack(sans.get(), bssl::UniquePtr<GENERAL_NAME>(gn))) return kio::fail(fail_here("SAN stack"));
  }

  bssl::UniquePtr<BASIC_CONSTRAINTS> constraints(BASIC_CONSTRAINTS_new());
  bssl::UniquePtr<ASN1_BIT_STRING> usage(ASN1_BIT_STRING_new());
  bssl::UniquePtr<EXTENDED_KEY_USAGE> extended(sk_ASN1_OBJECT_new_null());
  if (!constraints || !usage || !extended) return kio::fail(fail_here("extensions"));
  constraints->ca = 1;
  // digitalSignature (bit 0) for ECDHE handshakes, keyCertSign (bit 5)
  // because it is its own issuer.
  if (!ASN1_BIT_STRING_set_bit(usage.get(), 0, 1) || !ASN1_BIT_STRING_set_bit(usage.get(), 5, 1) ||
      !sk_ASN1_OBJECT_push(extended.get(), OBJ_nid2obj(NID_server_auth))) {
    return kio::fail(fail_here("key usage"));
  }
  // A subject key identifier lets verifiers link the cert to itself as issuer.
  uint8_t key_hash[EVP_MAX_MD_SIZE];
  unsigned key_hash_length = 0;
  if (!X509_pubkey_digest(cert.get(), EVP_sha1(), key_hash, &key_hash_length)) return kio::fail(fail_here("SKI"));
  bssl::UniquePtr<ASN1_OCTET_STRING> key_id(ASN1_OCTET_STRING_new());
  if (!key_id || !ASN1_OCTET_STRING_set(key_id.get(), key_hash, static_cast<int>(key_hash_length))) {
    return kio::fail(fail_here("SKI"));
  }

  if (!add_extension(cert.get(), NID_basic_constraints, constraints.get(), true) ||
      !add_extension(cert.get(), NID_key_usage, usage.get(), true) ||
      !add_extension(cert.get(), NID_ext_key_usage, extended.get(), false) ||
      !add_extension(cert.get(), NID_subject_alt_name, sans.get(), false) ||
      !add_extension(cert.get(), NID_subject_key_identifier, key_id.get(), false)) {
    return kio::fail(fail_here("add extensions"));
  }
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) return kio::fail(fail_here("X509_sign"));

  bssl::UniquePtr<BIO> cert_bio(BIO_new(BIO_s_mem()));
  bssl::UniquePtr<BIO> key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || !PEM_write_bio_X509(cert_bio.get(), cert.get()) ||
      !PEM_write_bio_PKCS8PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)) {
    return kio::fail(fail_here("PEM encoding"));
  }
  return pem_pair{bio_to_string(cert_bio.get()), bio_to_string(key_bio.get())};
}

result<void> write_pem_files(const pem_pair& pems, const std::string& directory) {
  // Key first: a certificate without its key is useless, the other way round
  // the next start simply regenerates.
  if (auto r = detail::write_file_atomic(directory + "/" + key_file_name, pems.key_pem, 0600); !r) return r;
  return detail::write_file_atomic(directory + "/" + cert_file_name, pems.cert_pem, 0644);
}

}  // namespace tls
