#include "appliance/dns/ring_dns.h"

#include <sys/socket.h>

#include <algorithm>

namespace appliance {

kio::result<std::unique_ptr<dns::ares_resolver>, std::string> create_core_resolver(const dns_section& dns) {
  dns::resolver_options o;
  o.servers = dns.servers;
  o.timeout_ms = dns.timeout_ms;
  o.attempts = dns.tries;
  return dns::ares_resolver::create(o);
}

msgauth::dns_status to_msgauth_status(dns::errc e) {
  switch (e) {
    case dns::errc::not_found: return msgauth::dns_status::nxdomain;
    case dns::errc::no_data: return msgauth::dns_status::no_data;
    case dns::errc::bad_name: return msgauth::dns_status::permanent;
    // A malformed answer may be a truncated or corrupted packet: SPF and
    // DKIM say temperror, as for a timeout, rather than judging the sender.
    case dns::errc::malformed:
    case dns::errc::temporary:
    case dns::errc::shutting_down: return msgauth::dns_status::temporary;
  }
  return msgauth::dns_status::temporary;
}

msgauth::ip_address to_msgauth_address(const dns::ip_address& a) {
  msgauth::ip_address out;
  out.v6 = a.family == AF_INET6;
  out.bytes = a.bytes;
  if (!out.v6) std::fill(out.bytes.begin() + 4, out.bytes.end(), uint8_t(0));
  return out;
}

dns::ip_address to_dns_address(const msgauth::ip_address& a) {
  dns::ip_address out;
  out.family = a.v6 ? AF_INET6 : AF_INET;
  out.bytes = a.bytes;
  return out;
}

namespace {

// The answer of a lookup that could not be made (no resolver).
template <class Answer>
Answer unavailable() {
  Answer answer;
  answer.status = msgauth::dns_status::temporary;
  return answer;
}

msgauth::address_answer addresses_of(const dns::lookup<std::vector<dns::ip_address>>& r) {
  msgauth::address_answer out;
  if (!r) {
    out.status = to_msgauth_status(r.error());
    return out;
  }
  for (const auto& a : *r) out.addresses.push_back(to_msgauth_address(a));
  out.status = out.addresses.empty() ? msgauth::dns_status::no_data : msgauth::dns_status::ok;
  return out;
}

}  // namespace

kio::task<msgauth::txt_answer> ring_dns::txt(std::string name) {
  if (!_resolver) co_return unavailable<msgauth::txt_answer>();
  auto r = co_await _resolver->txt(std::move(name));
  msgauth::txt_answer out;
  if (!r) {
    out.status = to_msgauth_status(r.error());
    co_return out;
  }
  out.records = std::move(*r);
  out.status = out.records.empty() ? msgauth::dns_status::no_data : msgauth::dns_status::ok;
  co_return out;
}

kio::task<msgauth::address_answer> ring_dns::a(std::string name) {
  if (!_resolver) co_return unavailable<msgauth::address_answer>();
  auto r = co_await _resolver->a(std::move(name));
  co_return addresses_of(r);
}

kio::task<msgauth::address_answer> ring_dns::aaaa(std::string name) {
  if (!_resolver) co_return unavailable<msgauth::address_answer>();
  auto r = co_await _resolver->aaaa(std::move(name));
  co_return addresses_of(r);
}

kio::task<msgauth::mx_answer> ring_dns::mx(std::string name) {
  if (!_resolver) co_return unavailable<msgauth::mx_answer>();
  auto r = co_await _resolver->mx(std::move(name));
  msgauth::mx_answer out;
  if (!r) {
    out.status = to_msgauth_status(r.error());
    co_return out;
  }
  for (auto& m : *r) out.records.push_back({m.preference, std::move(m.host)});
  out.status = out.records.empty() ? msgauth::dns_status::no_data : msgauth::dns_status::ok;
  co_return out;
}

kio::task<msgauth::name_answer> ring_dns::ptr(msgauth::ip_address address) {
  if (!_resolver) co_return unavailable<msgauth::name_answer>();
  auto r = co_await _resolver->ptr(to_dns_address(address));
  msgauth::name_answer out;
  if (!r) {
    out.status = to_msgauth_status(r.error());
    co_return out;
  }
  out.names = std::move(*r);
  out.status = out.names.empty() ? msgauth::dns_status::no_data : msgauth::dns_status::ok;
  co_return out;
}

}  // namespace appliance
