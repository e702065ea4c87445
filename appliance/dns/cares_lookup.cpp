#include "appliance/dns/cares_lookup.h"

#include <arpa/inet.h>
#include <ares.h>
#include <netdb.h>
#include <poll.h>

#include <chrono>
#include <cstring>
#include <mutex>

namespace appliance {

namespace {

constexpr int type_a = 1, type_ptr = 12, type_mx = 15, type_txt = 16, type_aaaa = 28, type_srv = 33;

struct raw_answer {
  int status = ARES_ETIMEOUT;
  std::vector<unsigned char> bytes;
};

msgauth::dns_status status_of(int ares_status) {
  switch (ares_status) {
    case ARES_SUCCESS: return msgauth::dns_status::ok;
    case ARES_ENODATA: return msgauth::dns_status::no_data;
    case ARES_ENOTFOUND: return msgauth::dns_status::nxdomain;
    case ARES_EFORMERR:
    case ARES_EBADNAME:
    case ARES_EBADRESP: return msgauth::dns_status::permanent;
    default: return msgauth::dns_status::temporary;  // timeout, SERVFAIL, refused, no server
  }
}

void on_answer(void* arg, int status, int, unsigned char* abuf, int alen) {
  auto* out = static_cast<raw_answer*>(arg);
  out->status = status;
  if (status == ARES_SUCCESS && abuf && alen > 0) out->bytes.assign(abuf, abuf + alen);
}

// One query on a fresh channel, polled to completion. A channel per query
// costs a socket and a resolv.conf read; lookups are few per message and
// this keeps the function thread-safe with no shared state.
raw_answer query(const dns_settings& s, const std::string& name, int type) {
  static std::once_flag init;
  std::call_once(init, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  raw_answer out;
  ares_channel channel = nullptr;
  ares_options options{};
  options.timeout = static_cast<int>(s.timeout_ms);
  options.tries = static_cast<int>(s.tries);
  if (ares_init_options(&channel, &options, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS) {
    out.status = ARES_ENOMEM;
    return out;
  }
  if (!s.servers.empty()) {
    std::string csv;
    for (const auto& server : s.servers) csv += (csv.empty() ? "" : ",") + server;
    if (ares_set_servers_ports_csv(channel, csv.c_str()) != ARES_SUCCESS) {
      ares_destroy(channel);
      out.status = ARES_EBADSTR;
      return out;
    }
  }
  ares_query(channel, name.c_str(), 1 /* IN */, type, on_answer, &out);
  // Overall bound, in case the library's own timeouts misbehave.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(s.timeout_ms * (s.tries + 1));
  while (std::chrono::steady_clock::now() < deadline) {
    ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(channel, sockets, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    nfds_t n = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
      if (events) fds[n++] = {sockets[i], events, 0};
    }
    if (n == 0) break;  // the query finished
    timeval tv{}, max{0, 100'000};
    timeval* wait = ares_timeout(channel, &max, &tv);
    int timeout_ms = static_cast<int>(wait->tv_sec * 1000 + wait->tv_usec / 1000);
    int ready = ::poll(fds, n, timeout_ms);
    if (ready <= 0) {
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
      continue;
    }
    for (nfds_t i = 0; i < n; ++i) {
      ares_socket_t r = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD;
      ares_socket_t w = (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD;
      if (r != ARES_SOCKET_BAD || w != ARES_SOCKET_BAD) ares_process_fd(channel, r, w);
    }
  }
  ares_destroy(channel);  // calls on_answer with ARES_EDESTRUCTION if still pending
  if (out.status == ARES_EDESTRUCTION) out.status = ARES_ETIMEOUT;
  return out;
}

}  // namespace

msgauth::txt_answer lookup_txt(const dns_settings& s, const std::string& name) {
  msgauth::txt_answer out;
  raw_answer raw = query(s, name, type_txt);
  out.status = status_of(raw.status);
  if (out.status != msgauth::dns_status::ok) return out;
  ares_txt_ext* reply = nullptr;
  int rc = ares_parse_txt_reply_ext(raw.bytes.data(), static_cast<int>(raw.bytes.size()), &reply);
  if (rc != ARES_SUCCESS) {
    out.status = rc == ARES_ENODATA ? msgauth::dns_status::no_data : msgauth::dns_status::permanent;
    return out;
  }
  for (ares_txt_ext* t = reply; t; t = t->next) {
    if (t->record_start || out.records.empty()) out.records.emplace_back();
    out.records.back().append(reinterpret_cast<const char*>(t->txt), t->length);
  }
  ares_free_data(reply);
  if (out.records.empty()) out.status = msgauth::dns_status::no_data;
  return out;
}

static msgauth::address_answer lookup_address(const dns_settings& s, const std::string& name, bool v6) {
  msgauth::address_answer out;
  raw_answer raw = query(s, name, v6 ? type_aaaa : type_a);
  out.status = status_of(raw.status);
  if (out.status != msgauth::dns_status::ok) return out;
  int count = 64;
  if (v6) {
    ares_addr6ttl addresses[64];
    int rc = ares_parse_aaaa_reply(raw.bytes.data(), static_cast<int>(raw.bytes.size()), nullptr, addresses, &count);
    if (rc != ARES_SUCCESS) count = 0;
    for (int i = 0; i < count; ++i) {
      msgauth::ip_address ip;
      ip.v6 = true;
      std::memcpy(ip.bytes.data(), &addresses[i].ip6addr, 16);
      out.addresses.push_back(ip);
    }
  } else {
    ares_addrttl addresses[64];
    int rc = ares_parse_a_reply(raw.bytes.data(), static_cast<int>(raw.bytes.size()), nullptr, addresses, &count);
    if (rc != ARES_SUCCESS) count = 0;
    for (int i = 0; i < count; ++i) {
      msgauth::ip_address ip;
      std::memcpy(ip.bytes.data(), &addresses[i].ipaddr, 4);
      out.addresses.push_back(ip);
    }
  }
  if (out.addresses.empty()) out.status = msgauth::dns_status::no_data;
  return out;
}

msgauth::address_answer lookup_a(const dns_settings& s, const std::string& name) { return lookup_address(s, name, false); }
msgauth::address_answer lookup_aaaa(const dns_settings& s, const std::string& name) {
  return lookup_address(s, name, true);
}

msgauth::mx_answer lookup_mx(const dns_settings& s, const std::string& name) {
  msgauth::mx_answer out;
  raw_answer raw = query(s, name, type_mx);
  out.status = status_of(raw.status);
  if (out.status != msgauth::dns_status::ok) return out;
  ares_mx_reply* reply = nullptr;
  if (ares_parse_mx_reply(raw.bytes.data(), static_cast<int>(raw.bytes.size()), &reply) != ARES_SUCCESS) {
    out.status = msgauth::dns_status::no_data;
    return out;
  }
  for (ares_mx_reply* m = reply; m; m = m->next) out.records.push_back({m->priority, m->host});
  ares_free_data(reply);
  if (out.records.empty()) out.status = msgauth::dns_status::no_data;
  return out;
}

srv_answer lookup_srv(const dns_settings& s, const std::string& name) {
  srv_answer out;
  raw_answer raw = query(s, name, type_srv);
  out.status = status_of(raw.status);
  if (out.status != msgauth::dns_status::ok) return out;
  ares_srv_reply* reply = nullptr;
  if (ares_parse_srv_reply(raw.bytes.data(), static_cast<int>(raw.bytes.size()), &reply) != ARES_SUCCESS) {
    out.status = msgauth::dns_status::no_data;
    return out;
  }
  for (ares_srv_reply* r = reply; r; r = r->next) out.records.push_back({r->priority, r->weight, r->port, r->host});
  ares_free_data(reply);
  if (out.records.empty()) out.status = msgauth::dns_status::no_data;
  return out;
}

msgauth::name_answer lookup_ptr(const dns_settings& s, const msgauth::ip_address& address) {
  msgauth::name_answer out;
  raw_answer raw = query(s, address.reverse_name(), type_ptr);
  out.status = status_of(raw.status);
  if (out.status != msgauth::dns_status::ok) return out;
  hostent* host = nullptr;
  int rc = ares_parse_ptr_reply(raw.bytes.data(), static_cast<int>(raw.bytes.size()), address.bytes.data(),
                                address.v6 ? 16 : 4, address.v6 ? AF_INET6 : AF_INET, &host);
  if (rc != ARES_SUCCESS || !host) {
    out.status = msgauth::dns_status::no_data;
    return out;
  }
  if (host->h_name) out.names.emplace_back(host->h_name);
  for (char** alias = host->h_aliases; alias && *alias; ++alias) out.names.emplace_back(*alias);
  ares_free_hostent(host);
  if (out.names.empty()) out.status = msgauth::dns_status::no_data;
  return out;
}

kio::task<msgauth::txt_answer> blocking_dns::txt(std::string name) { co_return lookup_txt(_settings, name); }
kio::task<msgauth::address_answer> blocking_dns::a(std::string name) { co_return lookup_a(_settings, name); }
kio::task<msgauth::address_answer> blocking_dns::aaaa(std::string name) { co_return lookup_aaaa(_settings, name); }
kio::task<msgauth::mx_answer> blocking_dns::mx(std::string name) { co_return lookup_mx(_settings, name); }
kio::task<msgauth::name_answer> blocking_dns::ptr(msgauth::ip_address address) {
  co_return lookup_ptr(_settings, address);
}

}  // namespace appliance
