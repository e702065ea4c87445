#pragma once
// Blocking DNS lookups with c-ares for the CLI (`ringmail domain check`):
// synchronous functions (one c-ares channel per lookup, polled until the
// answer or the timeout) and blocking_dns, the msgauth::dns_resolver whose
// lookups block the calling thread. Never used on a reactor: the daemon's
// message authentication resolves on the ring (ring_dns.h).

#include <cstdint>
#include <string>
#include <vector>

#include "protocols/msgauth/dns.h"

namespace appliance {

struct dns_settings {
  std::vector<std::string> servers;  // "127.0.0.1:5353"; empty = /etc/resolv.conf
  uint32_t timeout_ms = 2000;        // per try
  uint32_t tries = 2;
};

msgauth::txt_answer lookup_txt(const dns_settings& s, const std::string& name);
msgauth::address_answer lookup_a(const dns_settings& s, const std::string& name);
msgauth::address_answer lookup_aaaa(const dns_settings& s, const std::string& name);
msgauth::mx_answer lookup_mx(const dns_settings& s, const std::string& name);
msgauth::name_answer lookup_ptr(const dns_settings& s, const msgauth::ip_address& address);
struct srv_record {
  uint16_t priority = 0, weight = 0, port = 0;
  std::string target;
};
struct srv_answer {
  msgauth::dns_status status = msgauth::dns_status::no_data;
  std::vector<srv_record> records;
};
srv_answer lookup_srv(const dns_settings& s, const std::string& name);

class blocking_dns final : public msgauth::dns_resolver {
 public:
  explicit blocking_dns(dns_settings s) : _settings(std::move(s)) {}
  kio::task<msgauth::txt_answer> txt(std::string name) override;
  kio::task<msgauth::address_answer> a(std::string name) override;
  kio::task<msgauth::address_answer> aaaa(std::string name) override;
  kio::task<msgauth::mx_answer> mx(std::string name) override;
  kio::task<msgauth::name_answer> ptr(msgauth::ip_address address) override;

 private:
  dns_settings _settings;
};

}  // namespace appliance
