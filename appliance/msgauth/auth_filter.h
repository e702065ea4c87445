#pragma once
// SPF, DKIM and DMARC on the MX listener, as the SMTP session's
// inbound_filter: fed the message as it streams in, it writes the
// Authentication-Results header into the delivery record (per delivery,
// never into the shared blob) and applies the configured DMARC action.
// A spam filter, when one is configured, runs inside it and is handed the
// Authentication-Results as an input (inbound_filter::set_authentication).
//
// Lifecycle: one per message, on the session's core; the shared state
// (Public Suffix List) lives for the daemon; the resolver is the session
// core's (appliance/dns/ring_dns.h).

#include <memory>
#include <string>

#include "appliance/config/config.h"
#include "appliance/observe/log.h"
#include "protocols/msgauth/auth_results.h"
#include "protocols/msgauth/public_suffix.h"
#include "protocols/smtp/session/services.h"

namespace appliance {

struct msgauth_shared {
  explicit msgauth_shared(msgauth::public_suffix_list list) : suffixes(std::move(list)) {}
  msgauth::public_suffix_list suffixes;
};

// Reads the Public Suffix List file named in the config (blocking: start-up
// only). A missing file gives an empty list and a warning in `warning`.
msgauth::public_suffix_list load_public_suffix_list(const std::string& path, std::string& warning);

class auth_filter final : public smtp::inbound_filter {
 public:
  auth_filter(msgauth_shared& shared, msgauth::dns_resolver& dns, std::shared_ptr<const config> cfg, const logger& log, const smtp::session_info& info,
              const smtp::envelope& env, std::unique_ptr<smtp::inbound_filter> inner);
  void feed(std::span<const std::byte> content) override;
  kio::task<outcome> finish(const smtp::envelope& env, const smtp::session_info& info) override;

 private:
  std::shared_ptr<const config> _config;  // held: a reload must not free it mid-message
  const logger& _log;
  msgauth::inbound_check _check;
  std::unique_ptr<smtp::inbound_filter> _inner;
};

}  // namespace appliance
