#include "protocols/tls/context.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pool.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kernel_io/base/assert.h"
#include "protocols/tls/detail/pem_io.h"

namespace tls {

struct server_context::certificate_entry {
  std::vector<bssl::UniquePtr<CRYPTO_BUFFER>> chain;  // DER, leaf first
  std::vector<CRYPTO_BUFFER*> chain_raw;              // what SSL_set_chain_and_key takes
  bssl::UniquePtr<EVP_PKEY> key;
};

namespace {

// TLS 1.2 suites: ECDHE only, AEAD only. BoringSSL's "[a|b]" makes a group of
// equal preference, within which the client's order wins: a client without
// AES hardware puts ChaCha20 first and gets it. TLS 1.3 suites are not
// configurable in BoringSSL and are all AEAD with (EC)DHE already.
constexpr const char* tls12_cipher_list =
    "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]:"
    "[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";

constexpr const char* group_list = "X25519:P-256";

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// SNI names compare case-insensitively and without a trailing root dot.
std::string normalise_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return lower_ascii(name);
}

// Ex-data slot on SSL_CTX that points back to its server_context, so the
// C callback can reach the certificate table.
int server_context_ex_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Common policy for both directions.
result<void> apply_common_policy(SSL_CTX* ctx, protocol_version max_version) {
  if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
      !SSL_CTX_set_max_proto_version(ctx, static_cast<uint16_t>(max_version))) {
    return kio::fail(detail::make_error(errc::library_failure, "cannot set protocol versions"));
  }
  if (!SSL_CTX_set_strict_cipher_list(ctx, tls12_cipher_list)) {
    return kio::fail(detail::make_error(errc::library_failure, "cannot set cipher list"));
  }
  if (!SSL_CTX_set1_curves_list(ctx, group_list)) {
    return kio::fail(detail::make_error(errc::library_failure, "cannot set groups"));
  }
  return {};
}

// Parses every CERTIFICATE block of a PEM into DER buffers, leaf first.
result<std::vector<bssl::UniquePtr<CRYPTO_BUFFER>>> parse_chain(const std::string& pem) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return kio::fail(detail::make_error(errc::library_failure, "BIO_new_mem_buf"));
  std::vector<bssl::UniquePtr<CRYPTO_BUFFER>> chain;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    uint8_t* data = nullptr;
    long length = 0;
    if (!PEM_read_bio(bio.get(), &name, &header, &data, &length)) {
      uint32_t last = ERR_peek_last_error();
      if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
        ERR_clear_error();  // the normal end of the input
        break;
      }
      return kio::fail(detail::make_error(errc::pem_invalid, "certificate PEM"));
    }
    bssl::UniquePtr<char> name_owner(name), header_owner(header);
    bssl::UniquePtr<uint8_t> data_owner(data);
    if (std::strcmp(name, "CERTIFICATE") != 0) continue;  // tolerate keys/params in the same file
    // Check the DER parses as a certificate now rather than in a handshake.
    const uint8_t* cursor = data;
    bssl::UniquePtr<X509> x509(d2i_X509(nullptr, &cursor, length));
    if (!x509 || cursor != data + length) {
      return kio::fail(detail::make_error(errc::pem_invalid, "certificate DER"));
    }
    chain.emplace_back(CRYPTO_BUFFER_new(data, static_cast<size_t>(length), nullptr));
    if (!chain.back()) return kio::fail(detail::make_error(errc::library_failure, "CRYPTO_BUFFER_new"));
  }
  if (chain.empty()) return kio::fail(error{errc::pem_invalid, "no CERTIFICATE block in chain PEM"});
  return chain;
}

result<bssl::UniquePtr<EVP_PKEY>> parse_key(const std::string& pem) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return kio::fail(detail::make_error(errc::library_failure, "BIO_new_mem_buf"));
  // A null password callback with an empty password: encrypted keys fail
  // instead of prompting on a terminal the daemon does not have.
  bssl::UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")));
  if (!key) return kio::fail(detail::make_error(errc::pem_invalid, "private key PEM"));
  return key;
}

bssl::UniquePtr<X509> leaf_x509(const CRYPTO_BUFFER* der) {
  const uint8_t* cursor = CRYPTO_BUFFER_data(der);
  return bssl::UniquePtr<X509>(d2i_X509(nullptr, &cursor, static_cast<long>(CRYPTO_BUFFER_len(der))));
}

// The dNSName SANs of a leaf, or its CN when it has no SAN at all.
std::vector<std::string> names_of(X509* leaf) {
  std::vector<std::string> names;
  bssl::UniquePtr<GENERAL_NAMES> sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr)));
  if (sans) {
    for (size_t i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
      if (gn->type != GEN_DNS) continue;
      const ASN1_IA5STRING* s = gn->d.dNSName;
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    }
    return names;
  }
  X509_NAME* subject = X509_get_subject_name(leaf);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                       static_cast<size_t>(ASN1_STRING_length(cn)));
  }
  return names;
}

}  // namespace

// The select-certificate callback runs before BoringSSL looks at ciphers or
// resumption, so the certificate chosen by SNI decides which signature
// algorithms and TLS 1.2 suites (ECDSA or RSA) are possible. Choosing per
// SSL with SSL_set_chain_and_key avoids one SSL_CTX per name (and the
// ticket-key and session-cache split that SSL_set_SSL_CTX would bring).
struct server_context_access {
  static ssl_select_cert_result_t select_certificate(const SSL_CLIENT_HELLO* hello) {
    SSL* ssl = hello->ssl;
    auto* self = static_cast<const server_context*>(
        SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), server_context_ex_index()));
    RM_ASSERT(self != nullptr);
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const std::size_t index = self->select_certificate_index(sni ? std::string_view(sni) : std::string_view());
    const auto& entry = self->_certificates[index];
    if (!SSL_set_chain_and_key(ssl, entry.chain_raw.data(), entry.chain_raw.size(), entry.key.get(), nullptr)) {
      return ssl_select_cert_error;
    }
    return ssl_select_cert_success;
  }

  static result<std::shared_ptr<const server_context>> create(const server_config& config) {
    if (config.certificates.empty()) {
      return kio::fail(error{errc::config_invalid, "server context needs at least one certificate"});
    }
    std::shared_ptr<server_context> self(new server_context());
    // TLS_with_buffers_method: the server never needs X509 objects (no client
    // certificates), so certificates stay DER and are not parsed per handshake.
    self->_ctx = SSL_CTX_new(TLS_with_buffers_method());
    if (!self->_ctx) return kio::fail(detail::make_error(errc::library_failure, "SSL_CTX_new"));
    SSL_CTX* ctx = self->_ctx;

    if (auto r = apply_common_policy(ctx, config.max_version); !r) return kio::fail(r.error());
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (!config.session_tickets) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_ex_data(ctx, server_context_ex_index(), self.get());
    SSL_CTX_set_select_certificate_cb(ctx, &server_context_access::select_certificate);

    for (std::size_t i = 0; i < config.certificates.size(); ++i) {
      const certificate_pem& source = config.certificates[i];
      auto chain = parse_chain(source.chain_pem);
      if (!chain) return kio::fail(chain.error());
      auto key = parse_key(source.key_pem);
      if (!key) return kio::fail(key.error());
      bssl::UniquePtr<X509> leaf = leaf_x509(chain->front().get());
      RM_ASSERT(leaf != nullptr);  // parse_chain checked it
      if (!X509_check_private_key(leaf.get(), key->get())) {
        return kio::fail(detail::make_error(errc::key_mismatch,
                                            "certificate " + std::to_string(i) + ": key does not match"));
      }
      std::vector<std::string> names = source.names.empty() ? names_of(leaf.get()) : source.names;
      for (const std::string& raw : names) {
        std::string name = normalise_name(raw);
        if (name.rfind("*.", 0) == 0) {
          if (name.size() < 3 || name.find('*', 1) != std::string::npos) {
            return kio::fail(error{errc::config_invalid, "bad wildcard name: " + raw});
          }
          self->_wildcard_names.emplace_back(name.substr(2), i);
        } else if (!name.empty() && name.find('*') == std::string::npos) {
          self->_exact_names.emplace_back(std::move(name), i);
        } else {
          return kio::fail(error{errc::config_invalid, "bad certificate name: " + raw});
        }
      }
      server_context::certificate_entry entry;
      entry.chain = std::move(*chain);
      for (auto& der : entry.chain) entry.chain_raw.push_back(der.get());
      entry.key = std::move(*key);
      self->_certificates.push_back(std::move(entry));
    }
    // Earlier entries win on duplicate names: stable sort keeps config order.
    auto by_name = [](const auto& a, const auto& b) { return a.first < b.first; };
    std::stable_sort(self->_exact_names.begin(), self->_exact_names.end(), by_name);
    std::stable_sort(self->_wildcard_names.begin(), self->_wildcard_names.end(), by_name);

    // The default chain also sits on the SSL_CTX, so a handshake that skips
    // the callback (none does today) still has a certificate.
    const auto& first = self->_certificates.front();
    if (!SSL_CTX_set_chain_and_key(ctx, first.chain_raw.data(), first.chain_raw.size(), first.key.get(), nullptr)) {
      return kio::fail(detail::make_error(errc::library_failure, "SSL_CTX_set_chain_and_key"));
    }
    return std::shared_ptr<const server_context>(std::move(self));
  }
};

server_context::server_context() = default;

std::size_t server_context::certificate_count() const noexcept { return _certificates.size(); }

server_context::~server_context() {
  if (_ctx) SSL_CTX_free(_ctx);
}

result<std::shared_ptr<const server_context>> server_context::create(const server_config& config) {
  return server_context_access::create(config);
}

std::size_t server_context::select_certificate_index(std::string_view server_name) const noexcept {
  if (server_name.empty()) return 0;
  if (server_name.back() == '.') server_name.remove_suffix(1);
  // SNI is at most 255 bytes in practice; longer cannot match a certificate.
  char lowered[256];
  if (server_name.size() >= sizeof(lowered)) return 0;
  for (std::size_t i = 0; i < server_name.size(); ++i) {
    char c = server_name[i];
    lowered[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view name(lowered, server_name.size());
  // A client cannot ask for a wildcard; such an SNI matches nothing.
  if (name.find('*') != std::string_view::npos) return 0;
  auto find = [](const auto& table, std::string_view key) -> const std::pair<std::string, std::size_t>* {
    auto it = std::lower_bound(table.begin(), table.end(), key,
                               [](const auto& entry, std::string_view k) { return entry.first < k; });
    return (it != table.end() && it->first == key) ? &*it : nullptr;
  };
  if (auto* hit = find(_exact_names, name)) return hit->second;
  // A wildcard covers exactly one leftmost label (RFC 6125 6.4.3).
  const std::size_t dot = name.find('.');
  if (dot != std::string_view::npos && dot > 0 && dot + 1 < name.size()) {
    if (auto* hit = find(_wildcard_names, name.substr(dot + 1))) return hit->second;
  }
  return 0;
}

result<certificate_pem> load_certificate_files(const std::string& chain_path, const std::string& key_path) {
  certificate_pem out;
  auto chain = detail::read_file_bounded(chain_path, pem_file_size_max);
  if (!chain) return kio::fail(chain.error());
  auto key = detail::read_file_bounded(key_path, pem_file_size_max);
  if (!key) return kio::fail(key.error());
  out.chain_pem = std::move(*chain);
  out.key_pem = std::move(*key);
  return out;
}

// ---------------------------------------------------------------- client

client_context::~client_context() {
  if (_ctx) SSL_CTX_free(_ctx);
}

result<std::shared_ptr<const client_context>> client_context::create(const client_config& config) {
  std::shared_ptr<client_context> self(new client_context());
  self->_mode = config.mode;
  // TLS_method (X509-based): verification needs X509 objects anyway.
  self->_ctx = SSL_CTX_new(TLS_method());
  if (!self->_ctx) return kio::fail(detail::make_error(errc::library_failure, "SSL_CTX_new"));
  SSL_CTX* ctx = self->_ctx;
  if (auto r = apply_common_policy(ctx, config.max_version); !r) return kio::fail(r.error());

  if (config.mode == verify_mode::opportunistic) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return std::shared_ptr<const client_context>(std::move(self));
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!config.ca_pem.empty()) {
    bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(config.ca_pem.data(), static_cast<int>(config.ca_pem.size())));
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    while (bssl::UniquePtr<X509> ca{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
      if (!X509_STORE_add_cert(store, ca.get())) {
        return kio::fail(detail::make_error(errc::library_failure, "X509_STORE_add_cert"));
      }
      ++added;
    }
    ERR_clear_error();  // the read that ended the loop
    if (added == 0) return kio::fail(error{errc::pem_invalid, "ca_pem holds no certificate"});
  } else {
    if (!SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr)) {
      return kio::fail(detail::make_error(errc::file_unreadable, "CA file " + config.ca_file));
    }
  }
  return std::shared_ptr<const client_context>(std::move(self));
}

}  // namespace tls
