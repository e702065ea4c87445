#pragma once
// DKIM (RFC 6376; Ed25519 per RFC 8463): the DKIM-Signature field and key
// record parsers (pure), the signer (pure: message bytes in, field out),
// and the streaming verifier, which sees the message as SMTP receives it
// and asks DNS for keys at the end.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"
#include "kernel_io/ring/task.h"
#include "protocols/msgauth/canonical.h"
#include "protocols/msgauth/crypto.h"
#include "protocols/msgauth/dns.h"
#include "protocols/msgauth/message.h"

namespace msgauth {

struct dkim_signature {
  key_algorithm algorithm = key_algorithm::rsa;
  canonicalization_pair canon;
  std::string domain;                        // d=, lowercased
  std::string selector;                      // s=
  std::string identity;                      // i=, default "@" + d
  std::vector<std::string> signed_headers;   // h=, lowercased, in order
  std::string body_hash;                     // bh=, decoded
  std::string signature;                     // b=, decoded
  std::string signature_base64;              // b= as written, whitespace removed
  std::optional<uint64_t> body_length;       // l=
  std::optional<uint64_t> timestamp;         // t=
  std::optional<uint64_t> expiration;        // x=
};

// Parses a DKIM-Signature field value. The error is a short reason for the
// Authentication-Results comment ("missing d=", "unsupported a=").
kio::result<dkim_signature, std::string> parse_dkim_signature(std::string_view value);

struct dkim_key {
  key_algorithm algorithm = key_algorithm::rsa;
  std::string public_key;    // p=, decoded; empty = revoked
  bool testing = false;      // t=y
  bool strict_subdomains = false;  // t=s: i= must be d= exactly
};
kio::result<dkim_key, std::string> parse_dkim_key(std::string_view record);

// The header hash input for a signature: the h= fields (each name taking
// the bottom-most unused instance), then the signature field itself with
// b= emptied and no final CRLF (RFC 6376 §3.7).
std::string dkim_header_hash_input(const std::vector<header_field>& fields, size_t signature_index,
                                   const dkim_signature& signature);

struct dkim_sign_options {
  std::string domain;
  std::string selector;
  const private_key* key = nullptr;
  uint64_t timestamp = 0;  // t=; 0 omits it
  // Header names to sign when present; "from" is signed once more than it
  // appears (over-signing), so a second From cannot be added unnoticed.
  std::vector<std::string> header_names = {"from", "to", "cc", "subject", "date", "message-id", "reply-to",
                                           "in-reply-to", "references", "mime-version", "content-type",
                                           "content-transfer-encoding", "list-unsubscribe"};
};
// Signs `message` (header, empty line, body; CRLF line ends) with
// relaxed/relaxed canonicalization and returns the complete field,
// "DKIM-Signature: ...\r\n", to prepend. nullopt when the message has no
// header/body separator or the key cannot sign.
std::optional<std::string> dkim_sign(std::string_view message, const dkim_sign_options& options);

enum class dkim_verdict : uint8_t { pass, fail, neutral, temperror, permerror, policy };
std::string_view dkim_verdict_name(dkim_verdict v);

struct dkim_result {
  dkim_verdict verdict = dkim_verdict::permerror;
  std::string domain;      // header.d
  std::string selector;    // header.s
  std::string identity;    // header.i
  std::string b_prefix;    // header.b: first 8 characters of b=
  std::string reason;      // for the comment: "body hash mismatch", ...
  key_algorithm algorithm = key_algorithm::rsa;
  bool testing = false;
};

struct dkim_verify_limits {
  size_t header_bytes_max = 256 * 1024;
  size_t signatures_max = 5;     // more are reported as neutral, not checked
  unsigned rsa_bits_min = 1024;  // RFC 8301
  uint64_t now_seconds = 0;      // for x=; 0 skips the expiry check
};

// Verifies every DKIM-Signature of a message streamed through feed().
// Lifecycle: one per message, on the session's core; feed() the bytes as
// they come (bounded memory: the header section up to its limit and a
// SHA-256 state per signature), then co_await verify() once.
class dkim_verifier {
 public:
  explicit dkim_verifier(dkim_verify_limits limits);
  ~dkim_verifier();
  dkim_verifier(const dkim_verifier&) = delete;
  dkim_verifier& operator=(const dkim_verifier&) = delete;
  void feed(std::string_view bytes);
  // Ends the message and checks the signatures against DNS keys.
  kio::task<std::vector<dkim_result>> verify(dns_resolver& dns);
  // The header section seen so far (for DMARC's From).
  const std::string& header() const { return _headers.header(); }

 private:
  struct pending;
  void start_body();
  dkim_verify_limits _limits;
  header_collector _headers;
  std::vector<header_field> _fields;
  std::vector<std::unique_ptr<pending>> _pending;
  std::vector<dkim_result> _early;  // signatures that failed before DNS
  bool _body_started = false;
};

}  // namespace msgauth
