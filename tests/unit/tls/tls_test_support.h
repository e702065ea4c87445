#pragma once
// Helpers for TLS tests: engine pairs talking in memory, and a raw BoringSSL
// client that can be configured outside ringmail's policy (old versions,
// RSA key exchange) to check that the server refuses it.

#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "protocols/tls/context.h"
#include "protocols/tls/engine.h"
#include "protocols/tls/self_signed.h"

namespace tls_test {

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Self-signed certificates are generated once per name list per process.
inline const tls::pem_pair& cert_for(const std::vector<std::string>& names) {
  static std::map<std::vector<std::string>, tls::pem_pair> cache;
  auto it = cache.find(names);
  if (it == cache.end()) {
    auto generated = tls::generate_self_signed(names, 30);
    if (!generated) {
      ADD_FAILURE() << "generate_self_signed: " << generated.error().reason;
      static tls::pem_pair empty;
      return empty;
    }
    it = cache.emplace(names, std::move(*generated)).first;
  }
  return it->second;
}

// An RSA-2048 self-signed certificate (ringmail itself only generates
// ECDSA): needed to test the TLS 1.2 RSA paths, since RSA key exchange and
// ECDHE-RSA are only possible with an RSA certificate.
inline const tls::pem_pair& rsa_cert_for(const std::string& name) {
  static std::map<std::string, tls::pem_pair> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  bssl::UniquePtr<RSA> rsa(RSA_new());
  bssl::UniquePtr<BIGNUM> e(BN_new());
  BN_set_word(e.get(), RSA_F4);
  EXPECT_EQ(1, RSA_generate_key_ex(rsa.get(), 2048, e.get(), nullptr));
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  EVP_PKEY_assign_RSA(key.get(), rsa.release());
  bssl::UniquePtr<X509> cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const uint8_t*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), subject);
  X509_set_pubkey(cert.get(), key.get());
  EXPECT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
  bssl::UniquePtr<BIO> cert_bio(BIO_new(BIO_s_mem())), key_bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(cert_bio.get(), cert.get());
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  auto text = [](BIO* bio) {
    const uint8_t* data = nullptr;
    size_t length = 0;
    BIO_mem_contents(bio, &data, &length);
    return std::string(reinterpret_cast<const char*>(data), length);
  };
  return cache.emplace(name, tls::pem_pair{text(cert_bio.get()), text(key_bio.get())}).first->second;
}

inline tls::certificate_pem entry_for(const std::vector<std::string>& names) {
  const tls::pem_pair& pems = cert_for(names);
  return tls::certificate_pem{pems.cert_pem, pems.key_pem, {}};
}

inline std::shared_ptr<const tls::server_context> make_server_context(
    const std::vector<std::vector<std::string>>& certificates,
    tls::protocol_version max_version = tls::protocol_version::tls1_3) {
  tls::server_config config;
  for (const auto& names : certificates) config.certificates.push_back(entry_for(names));
  config.max_version = max_version;
  auto context = tls::server_context::create(config);
  if (!context) {
    ADD_FAILURE() << "server_context::create: " << context.error().reason;
    return nullptr;
  }
  return *context;
}

inline std::shared_ptr<const tls::client_context> make_opportunistic_client(
    tls::protocol_version max_version = tls::protocol_version::tls1_3) {
  tls::client_config config;
  config.mode = tls::verify_mode::opportunistic;
  config.max_version = max_version;
  auto context = tls::client_context::create(config);
  if (!context) {
    ADD_FAILURE() << "client_context::create: " << context.error().reason;
    return nullptr;
  }
  return *context;
}

// A BoringSSL client outside ringmail's policy, over two memory BIOs.
class raw_client {
 public:
  raw_client(uint16_t min_version, uint16_t max_version, const char* cipher_list, const char* sni = nullptr) {
    _ctx.reset(SSL_CTX_new(TLS_method()));
    SSL_CTX_set_min_proto_version(_ctx.get(), min_version);
    SSL_CTX_set_max_proto_version(_ctx.get(), max_version);
    if (cipher_list) {
      EXPECT_EQ(1, SSL_CTX_set_strict_cipher_list(_ctx.get(), cipher_list));
    }
    // BoringSSL hands TLS 1.3 tickets to the client only through this
    // callback; SSL_get1_session alone would return a non-resumable session.
    SSL_CTX_set_session_cache_mode(_ctx.get(), SSL_SESS_CACHE_CLIENT);
    SSL_CTX_sess_set_new_cb(_ctx.get(), [](SSL* ssl, SSL_SESSION* session) -> int {
      static_cast<raw_client*>(SSL_get_app_data(ssl))->_ticket_session.reset(session);
      return 1;  // we keep the reference
    });
    _ssl.reset(SSL_new(_ctx.get()));
    SSL_set_app_data(_ssl.get(), this);
    _in = BIO_new(BIO_s_mem());
    _out = BIO_new(BIO_s_mem());
    SSL_set_bio(_ssl.get(), _in, _out);
    if (sni) SSL_set_tlsext_host_name(_ssl.get(), sni);
    SSL_set_connect_state(_ssl.get());
  }
  // 1 done, 0 wants input, -1 failed.
  int step() {
    int rc = SSL_do_handshake(_ssl.get());
    if (rc == 1) return 1;
    return SSL_get_error(_ssl.get(), rc) == SSL_ERROR_WANT_READ ? 0 : -1;
  }
  void feed(std::span<const std::byte> bytes) { BIO_write(_in, bytes.data(), static_cast<int>(bytes.size())); }
  std::vector<std::byte> take_output() {
    const uint8_t* data = nullptr;
    size_t length = 0;
    BIO_mem_contents(_out, &data, &length);
    std::vector<std::byte> out(reinterpret_cast<const std::byte*>(data), reinterpret_cast<const std::byte*>(data) + length);
    BIO_reset(_out);
    return out;
  }
  // Processes post-handshake messages (TLS 1.3 tickets) already fed.
  void read_pending() {
    char buffer[256];
    (void)SSL_read(_ssl.get(), buffer, sizeof(buffer));
  }
  SSL* ssl() { return _ssl.get(); }
  // The newest resumable session the server gave us (ticket), or null.
  SSL_SESSION* ticket_session() { return _ticket_session.get(); }

 private:
  bssl::UniquePtr<SSL_CTX> _ctx;
  bssl::UniquePtr<SSL> _ssl;
  bssl::UniquePtr<SSL_SESSION> _ticket_session;
  BIO* _in = nullptr;   // owned by _ssl
  BIO* _out = nullptr;  // owned by _ssl
};

inline std::vector<std::byte> take_output(tls::engine& e) {
  std::vector<std::byte> out;
  while (!e.pending_output().empty()) {
    auto chunk = e.pending_output();
    out.insert(out.end(), chunk.begin(), chunk.end());
    e.consume_output(chunk.size());
  }
  return out;
}

// Feeds `bytes` into `to` in pieces that respect its input limit; the
// caller's `drain` runs between pieces so the engine consumes them.
template <class Drain>
void feed_all(tls::engine& to, std::span<const std::byte> bytes, Drain&& drain) {
  while (!bytes.empty()) {
    const std::size_t take = std::min(bytes.size(), to.input_space_bytes());
    ASSERT_GT(take, 0u) << "input full and the engine consumes nothing";
    ASSERT_TRUE(to.feed(bytes.first(take)));
    bytes = bytes.subspan(take);
    drain();
  }
}

struct handshake_outcome {
  bool client_done = false;
  bool server_done = false;
  std::optional<tls::error> client_error;
  std::optional<tls::error> server_error;
};

// Runs the handshake between a ringmail client engine and a server engine.
inline handshake_outcome run_handshake(tls::engine& client, tls::engine& server) {
  handshake_outcome outcome;
  for (int round = 0; round < 20; ++round) {
    if (!outcome.client_done && !outcome.client_error) {
      auto r = client.handshake();
      if (!r) outcome.client_error = r.error();
      else outcome.client_done = *r == tls::handshake_status::done;
    }
    auto to_server = take_output(client);
    if (!to_server.empty() && !outcome.server_error) {
      EXPECT_TRUE(server.feed(to_server));
    }
    if (!outcome.server_done && !outcome.server_error) {
      auto r = server.handshake();
      if (!r) outcome.server_error = r.error();
      else outcome.server_done = *r == tls::handshake_status::done;
    }
    auto to_client = take_output(server);
    if (!to_client.empty() && !outcome.client_error) {
      EXPECT_TRUE(client.feed(to_client));
    }
    if (outcome.client_done && outcome.server_done) break;
    if ((outcome.client_error || outcome.server_error) && to_client.empty() && to_server.empty()) break;
  }
  return outcome;
}

// Same with a raw BoringSSL client: returns the server's handshake result.
inline std::optional<tls::error> run_raw_handshake(raw_client& client, tls::engine& server, bool* client_failed) {
  std::optional<tls::error> server_error;
  bool server_done = false;
  *client_failed = false;
  for (int round = 0; round < 20; ++round) {
    int c = client.step();
    if (c < 0) *client_failed = true;
    auto to_server = client.take_output();
    if (!to_server.empty() && !server_error) {
      EXPECT_TRUE(server.feed(to_server));
    }
    if (!server_done && !server_error) {
      auto r = server.handshake();
      if (!r) server_error = r.error();
      else server_done = *r == tls::handshake_status::done;
    }
    auto to_client = take_output(server);
    if (!to_client.empty()) client.feed(to_client);
    if ((c == 1 && server_done) || ((server_error || *client_failed) && to_client.empty() && to_server.empty())) {
      break;
    }
  }
  return server_error;
}

// The peer certificate's subjectAltName dNSNames, as the client saw them.
inline std::vector<std::string> peer_dns_names(SSL* ssl) {
  std::vector<std::string> names;
  bssl::UniquePtr<X509> peer(SSL_get_peer_certificate(ssl));
  if (!peer) return names;
  bssl::UniquePtr<GENERAL_NAMES> sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(peer.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (size_t i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type == GEN_DNS) {
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                         ASN1_STRING_length(gn->d.dNSName));
    }
  }
  return names;
}

inline std::string peer_common_name(SSL* ssl) {
  bssl::UniquePtr<X509> peer(SSL_get_peer_certificate(ssl));
  if (!peer) return {};
  char buffer[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(peer.get()), NID_commonName, buffer, sizeof(buffer));
  return buffer;
}

}  // namespace tls_test
