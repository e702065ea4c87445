#pragma once
// TLS contexts: the immutable, shareable half of TLS (certificates, keys,
// protocol policy). One context serves every connection of every core; an
// engine (engine.h) holds a shared_ptr to the context it was made from, so a
// reload (SIGHUP) builds a new context and hands it to the cores by message
// while connections already open finish on the old one. Contexts are never
// mutated after create(), which is what makes sharing them across cores
// without locks safe (BoringSSL's SSL_CTX is itself reference-counted and
// thread-safe for this use).
//
// Policy, fixed on purpose (DESIGN.md "TLS 1.2+ only, ECDHE only"):
// TLS 1.2 and 1.3 only; for TLS 1.2 only ECDHE key exchange with AEAD
// ciphers (AES-GCM, ChaCha20-Poly1305); groups X25519 then P-256; no
// renegotiation and no compression (BoringSSL implements neither for a
// server); session tickets on, stateful session cache off (it would grow
// with the number of clients).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/tls/error.h"

// BoringSSL's opaque types, so this header does not drag ssl.h into every
// session file.
struct ssl_ctx_st;
struct evp_pkey_st;
struct crypto_buffer_st;

namespace tls {

enum class protocol_version : std::uint16_t {
  tls1_2 = 0x0303,
  tls1_3 = 0x0304,
};

// One certificate chain (leaf first, then intermediates) and its private key,
// both PEM. `names` are the SNI names it answers for ("mail.example.com",
// "*.example.com"); when empty they are taken from the leaf's subjectAltName
// dNSName entries (or its CN if it has none).
struct certificate_pem {
  std::string chain_pem;
  std::string key_pem;
  std::vector<std::string> names;
};

// Reads a chain file and a key file (each at most pem_file_size_max bytes).
inline constexpr std::size_t pem_file_size_max = 1024 * 1024;
result<certificate_pem> load_certificate_files(const std::string& chain_path, const std::string& key_path);

struct server_config {
  // The first entry is the default: it answers clients without SNI and
  // clients whose SNI matches no entry.
  std::vector<certificate_pem> certificates;
  bool session_tickets = true;
  // Tests and interop only; production keeps TLS 1.3.
  protocol_version max_version = protocol_version::tls1_3;
};

class server_context {
 public:
  // Parses and checks every certificate and key (a key that does not match
  // its certificate is an error here, not at the first handshake).
  static result<std::shared_ptr<const server_context>> create(const server_config& config);

  // SIGHUP: builds a fresh context from new PEMs. This one is untouched, so
  // engines made from it keep working; callers swap the shared_ptr they use
  // for new connections. Identical to create(); named for the call site.
  static result<std::shared_ptr<const server_context>> reload(const server_config& config) {
    return create(config);
  }

  ~server_context();
  server_context(const server_context&) = delete;
  server_context& operator=(const server_context&) = delete;

  // Index into config.certificates chosen for an SNI name (exact name first,
  // then a one-label wildcard, then the default 0). Exposed for tests and for
  // logging which certificate a connection got.
  std::size_t select_certificate_index(std::string_view server_name) const noexcept;
  std::size_t certificate_count() const noexcept;

  ssl_ctx_st* native_handle() const noexcept { return _ctx; }

 private:
  struct certificate_entry;
  server_context();

  ssl_ctx_st* _ctx = nullptr;
  std::vector<certificate_entry> _certificates;
  // (lower-case name, index) sorted by name; wildcard keys are the part
  // after "*.". Sorted vectors: a few entries, no hashing, no rehash.
  std::vector<std::pair<std::string, std::size_t>> _exact_names;
  std::vector<std::pair<std::string, std::size_t>> _wildcard_names;

  friend struct server_context_access;
};

enum class verify_mode {
  // Encrypt, do not authenticate: opportunistic STARTTLS between MTAs
  // (RFC 7435). A failed verification does not stop the handshake.
  opportunistic,
  // Verify the chain against the CA bundle and the name against the hostname.
  verify,
};

inline constexpr std::string_view system_ca_file = "/etc/ssl/certs/ca-certificates.crt";

struct client_config {
  verify_mode mode = verify_mode::verify;
  // Trust anchors in verify mode: ca_pem if non-empty (tests, private CAs),
  // otherwise ca_file.
  std::string ca_file = std::string(system_ca_file);
  std::string ca_pem;
  protocol_version max_version = protocol_version::tls1_3;
};

class client_context {
 public:
  static result<std::shared_ptr<const client_context>> create(const client_config& config);
  ~client_context();
  client_context(const client_context&) = delete;
  client_context& operator=(const client_context&) = delete;

  verify_mode mode() const noexcept { return _mode; }
  ssl_ctx_st* native_handle() const noexcept { return _ctx; }

 private:
  client_context() = default;
  ssl_ctx_st* _ctx = nullptr;
  verify_mode _mode = verify_mode::verify;
};

}  // namespace tls
