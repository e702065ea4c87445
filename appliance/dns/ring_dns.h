#pragma once
// ring_dns: message authentication's resolver (msgauth::dns_resolver) on
// the ring-driven c-ares resolver of one core (dns::resolver,
// protocols/dns/ares_resolver.h). Each lookup is a coroutine on the calling
// core; no thread and no blocking call is involved.
//
// Lifecycle: one per core, used only on that core. It points at the core's
// dns::resolver; after detach() (the resolver is being destroyed at
// shutdown) every lookup answers `temporary`, so a straggler gets a
// temperror instead of a dangling resolver.

#include <memory>
#include <string>

#include "appliance/config/config.h"
#include "protocols/dns/ares_resolver.h"
#include "protocols/dns/resolver.h"
#include "protocols/msgauth/dns.h"

namespace appliance {

// One core's ring resolver as the [dns] section configures it (message
// authentication and the outbound queue each make one on their core).
kio::result<std::unique_ptr<dns::ares_resolver>, std::string> create_core_resolver(const dns_section& dns);

// Pure conversions between the two vocabularies (unit-tested).
msgauth::dns_status to_msgauth_status(dns::errc e);
msgauth::ip_address to_msgauth_address(const dns::ip_address& a);
dns::ip_address to_dns_address(const msgauth::ip_address& a);

class ring_dns final : public msgauth::dns_resolver {
 public:
  explicit ring_dns(dns::resolver* resolver) : _resolver(resolver) {}
  void detach() { _resolver = nullptr; }

  kio::task<msgauth::txt_answer> txt(std::string name) override;
  kio::task<msgauth::address_answer> a(std::string name) override;
  kio::task<msgauth::address_answer> aaaa(std::string name) override;
  kio::task<msgauth::mx_answer> mx(std::string name) override;
  kio::task<msgauth::name_answer> ptr(msgauth::ip_address address) override;

 private:
  dns::resolver* _resolver;
};

}  // namespace appliance
