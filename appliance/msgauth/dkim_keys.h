#pragma once
// DKIM keys per domain under the data directory, and the outbound signing
// hook. Layout: DATA/dkim/<domain>/<selector>.pem (PKCS#8, mode 0600) and
// DATA/dkim/<domain>/active (the selector that signs). Generating a new key
// makes it active; the old file stays, so its DNS record can be withdrawn
// after the messages signed with it have been delivered.
//
// File I/O here is blocking: it runs in the CLI, or at start-up and reload
// in the daemon, never on a reactor's data path.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"
#include "protocols/msgauth/crypto.h"

namespace appliance {

struct dkim_domain_key {
  std::string domain;
  std::string selector;
  msgauth::private_key key;
};

// Creates a key for `domain`, writes it and makes it active. The selector
// is "rm" + YYYYMMDD + "e" (Ed25519) or "r" (RSA) unless given.
kio::result<dkim_domain_key, std::string> generate_dkim_key(const std::string& data_dir, std::string_view domain,
                                                            msgauth::key_algorithm algorithm,
                                                            std::string selector = {});

// The active key of `domain`, if one was generated.
kio::result<dkim_domain_key, std::string> load_dkim_key(const std::string& data_dir, std::string_view domain);

// The DNS records an operator publishes for a domain, as zone-file lines.
struct dns_record_advice {
  std::string name;    // "example.org."
  std::string type;    // "TXT", "MX", "SRV"
  std::string value;   // as written in a zone file
  std::string why;     // one line
};
std::vector<dns_record_advice> recommended_records(std::string_view domain, std::string_view mail_host,
                                                   const dkim_domain_key* key);
// "name TTL IN TYPE value" with long TXT values split into 255-byte strings.
std::string zone_line(const dns_record_advice& r);

// Outbound signing hook: the DKIM-Signature field for a message sent from
// `domain`, or nullopt when the domain has no key (the message goes out
// unsigned). Keys are loaded at construction (start-up, reload). An RSA
// signature costs about a millisecond: callers on a reactor run sign() on
// the worker pool.
class dkim_signer {
 public:
  static dkim_signer load(const std::string& data_dir, const std::vector<std::string>& domains);
  // Every domain with an active key under DATA/dkim (the daemon at start).
  static dkim_signer load_all(const std::string& data_dir);
  bool has_key(std::string_view domain) const;
  std::optional<std::string> sign(std::string_view domain, std::string_view message, uint64_t now_seconds) const;
  size_t size() const { return _keys.size(); }

 private:
  std::map<std::string, dkim_domain_key, std::less<>> _keys;
};

}  // namespace appliance
