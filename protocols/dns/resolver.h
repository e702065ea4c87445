#pragma once
// dns::resolver: the lookups mail needs, as coroutines on the calling core.
//
// The interface is what SMTP delivery (MX, A, AAAA), message authentication
// (TXT for SPF/DKIM/DMARC; A/AAAA/MX for SPF mechanisms; PTR) and tests
// program against. `ares_resolver` (ares_resolver.h) is the real one, one
// per core, driven by that core's io_uring; `static_resolver`
// (static_resolver.h) answers from a table, for unit tests.
//
// Names may be given in U-label (UTF-8) or A-label form, with or without a
// trailing dot; implementations convert with to_a_label() and answer
// bad_name when that fails. Answers carry no TTL: nothing here caches
// across lookups (the caller decides how long an answer is good for one
// delivery attempt or one message).
//
// Lifetime: a resolver lives on one core and must outlive every lookup
// awaited on it; lookups on a resolver that is being destroyed complete
// with errc::shutting_down.

#include <string>
#include <vector>

#include "kernel_io/ring/task.h"
#include "protocols/dns/records.h"

namespace dns {

class resolver {
 public:
  virtual ~resolver() = default;

  // MX records in answer order (callers sort by preference; RFC 5321 §5.1
  // randomises equal preferences). no_data when the name exists without MX.
  virtual kio::task<lookup<std::vector<mx_record>>> mx(std::string name) = 0;
  virtual kio::task<lookup<std::vector<ip_address>>> a(std::string name) = 0;
  virtual kio::task<lookup<std::vector<ip_address>>> aaaa(std::string name) = 0;
  virtual kio::task<lookup<std::vector<txt_record>>> txt(std::string name) = 0;
  // PTR names for an address (A-label form, no trailing dot).
  virtual kio::task<lookup<std::vector<std::string>>> ptr(ip_address address) = 0;
};

}  // namespace dns
