#pragma once
// The Authentication-Results header field (RFC 8601) for the SPF, DKIM and
// DMARC verdicts of one message, and the streaming check that produces
// them on the inbound (port 25) path.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/ring/task.h"
#include "protocols/msgauth/dkim.h"
#include "protocols/msgauth/dmarc.h"
#include "protocols/msgauth/spf.h"

namespace msgauth {

struct auth_summary {
  spf_outcome spf;
  std::string spf_sender;  // the MAIL FROM identity checked ("" = null sender, HELO used)
  std::string helo;
  std::vector<dkim_result> dkim;
  dmarc_outcome dmarc;
};

// "Authentication-Results: <authserv-id>;\r\n\tspf=pass ...;\r\n\tdkim=...\r\n"
std::string format_authentication_results(std::string_view authserv_id, const auth_summary& summary);

struct inbound_check_limits {
  dkim_verify_limits dkim;
  spf_limits spf;
};

// One message's SPF + DKIM + DMARC check. Lifecycle: created when DATA
// starts on the session's core, fed the message bytes as they arrive, and
// finished once at the end of data; it owns nothing beyond the verifier's
// bounded state. `dns` and `suffixes` outlive it.
class inbound_check {
 public:
  inbound_check(dns_resolver& dns, const public_suffix_list& suffixes, spf_context spf, inbound_check_limits limits);
  void feed(std::string_view bytes) { _dkim.feed(bytes); }
  kio::task<auth_summary> finish(unsigned sample_percent);

 private:
  dns_resolver& _dns;
  const public_suffix_list& _suffixes;
  spf_context _spf_context;
  inbound_check_limits _limits;
  dkim_verifier _dkim;
};

}  // namespace msgauth
