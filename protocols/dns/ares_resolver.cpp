#include "protocols/dns/ares_resolver.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <liburing.h>
#include <netdb.h>
#include <poll.h>

#include <algorithm>
#include <coroutine>
#include <cstring>
#include <mutex>

#include "kernel_io/base/assert.h"
#include "kernel_io/ring/completion.h"
#include "kernel_io/ring/reactor.h"

namespace dns {

// A c-ares socket and its poll. The poll's CQE points at this object, so it
// lives until that CQE has arrived even when c-ares closed the socket first.
struct ares_resolver::socket_watch : kio::completion {
  ares_resolver* owner = nullptr;  // null once the resolver is gone: the CQE deletes the watch
  int fd = -1;
  unsigned events = 0;     // what c-ares wants now (POLLIN / POLLOUT)
  bool in_ring = false;    // a poll for this watch is in flight
  bool closed = false;     // c-ares no longer wants this socket
  bool processing = false; // inside ares_process_fd for this socket
};

struct ares_resolver::query {
  int type = 0;
  std::string name;
  int status = ARES_SUCCESS;
  std::vector<unsigned char> answer;
  std::coroutine_handle<> waiter;
  bool done = false;
};

namespace {

// The completion for POLL_REMOVE requests: nothing to do on its CQE.
kio::completion ignore_cqe{[](kio::completion*, int32_t, uint32_t) {}};

errc from_ares(int status) {
  switch (status) {
    case ARES_ENODATA: return errc::no_data;
    case ARES_ENOTFOUND: return errc::not_found;
    case ARES_EBADNAME: return errc::bad_name;
    case ARES_EFORMERR:
    case ARES_EBADRESP: return errc::malformed;
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED: return errc::shutting_down;
    default: return errc::temporary;  // ETIMEOUT, ESERVFAIL, EREFUSED, ECONNREFUSED, ENOMEM...
  }
}

void on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* q = static_cast<ares_resolver::query*>(arg);
  q->status = status;
  if (status == ARES_SUCCESS && abuf && alen > 0) q->answer.assign(abuf, abuf + alen);
  q->done = true;
  if (q->waiter) kio::reactor::current()->schedule(q->waiter);
}

std::once_flag library_once;
int library_status = ARES_SUCCESS;

}  // namespace

// Suspends until c-ares has called on_answer for the query. ares_query may
// call it before returning (a bad name, a destroyed channel): then the
// coroutine does not suspend at all. Starting a query starts c-ares's
// clock, so the timer is set here, before the coroutine sleeps.
struct ares_resolver::query_awaiter {
  ares_resolver* owner;
  query& q;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    ares_query(owner->_channel, q.name.c_str(), ns_c_in, q.type, &on_answer, &q);
    if (q.done) return false;
    q.waiter = h;
    owner->reschedule_timer();
    return true;
  }
  void await_resume() const noexcept {}
};

ares_resolver::ares_resolver() { _timer.owner = this; }

kio::result<std::unique_ptr<ares_resolver>, std::string> ares_resolver::create(const resolver_options& options) {
  std::call_once(library_once, [] { library_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (library_status != ARES_SUCCESS)
    return kio::fail(std::string("c-ares: library init failed: ") + ares_strerror(library_status));
  std::unique_ptr<ares_resolver> self(new ares_resolver());
  self->_reactor = kio::reactor::current();
  RM_ASSERT(self->_reactor != nullptr);
  ares_options o{};
  o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_EDNS;
  o.timeout = int(std::max<uint32_t>(options.timeout_ms, 1));
  o.tries = int(std::max<uint32_t>(options.attempts, 1));
  o.ednspsz = 1232;  // the DNS flag day 2020 size: no IP fragmentation
  o.sock_state_cb = [](void* data, ares_socket_t fd, int r, int w) { socket_state_callback(data, fd, r, w); };
  o.sock_state_cb_data = self.get();
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_EDNSPSZ | ARES_OPT_SOCK_STATE_CB;
  int rc = ares_init_options(&self->_channel, &o, mask);
  if (rc != ARES_SUCCESS) return kio::fail(std::string("c-ares: cannot create a channel: ") + ares_strerror(rc));
  if (!options.servers.empty()) {
    std::string csv;
    for (const auto& s : options.servers) {
      if (!csv.empty()) csv += ',';
      csv += s;
    }
    rc = ares_set_servers_ports_csv(self->_channel, csv.c_str());
    if (rc != ARES_SUCCESS)
      return kio::fail("c-ares: bad DNS server list \"" + csv + "\": " + ares_strerror(rc));
  }
  return self;
}

ares_resolver::~ares_resolver() {
  _destroying = true;
  // Completes every query in flight with ARES_EDESTRUCTION and closes the
  // sockets (the state callback retires their watches).
  if (_channel) ares_destroy(_channel);
  _reactor->disarm(_timer);
  for (auto& [fd, w] : _watches) {
    if (w->in_ring) {
      w->owner = nullptr;
      (void)w.release();
    }
  }
  for (auto& w : _retired) {
    w->owner = nullptr;
    (void)w.release();
  }
}

void ares_resolver::socket_state_callback(void* data, int fd, int readable, int writable) {
  static_cast<ares_resolver*>(data)->on_socket_state(fd, readable != 0, writable != 0);
}

void ares_resolver::on_socket_state(int fd, bool readable, bool writable) {
  unsigned events = (readable ? POLLIN : 0u) | (writable ? POLLOUT : 0u);
  auto it = _watches.find(fd);
  if (events == 0) {
    if (it == _watches.end()) return;
    std::unique_ptr<socket_watch> w = std::move(it->second);
    _watches.erase(it);
    w->closed = true;
    if (w->in_ring) {
      // The fd is about to be closed and may be reused: take the poll out
      // of the ring now; its CQE (-ECANCELED or a late event) frees w.
      io_uring_sqe* s = _reactor->sqe();
      io_uring_prep_poll_remove(s, uint64_t(reinterpret_cast<uintptr_t>(static_cast<kio::completion*>(w.get()))));
      io_uring_sqe_set_data(s, &ignore_cqe);
      _retired.push_back(std::move(w));
    } else if (w->processing) {
      _retired.push_back(std::move(w));  // on_poll frees it after ares_process_fd returns
    }
    return;
  }
  if (it == _watches.end()) {
    auto w = std::make_unique<socket_watch>();
    w->owner = this;
    w->fd = fd;
    w->on_cqe = [](kio::completion* c, int32_t res, uint32_t) {
      auto* w = static_cast<socket_watch*>(c);
      if (!w->owner) {
        delete w;
        return;
      }
      w->owner->on_poll(*w, res);
    };
    it = _watches.emplace(fd, std::move(w)).first;
  }
  socket_watch& w = *it->second;
  bool changed = w.events != events;
  w.events = events;
  if (!w.in_ring) {
    if (!w.processing) arm_poll(w);
  } else if (changed) {
    // A one-shot poll cannot change its mask: remove it; its CQE re-arms
    // with the new one.
    io_uring_sqe* s = _reactor->sqe();
    io_uring_prep_poll_remove(s, uint64_t(reinterpret_cast<uintptr_t>(static_cast<kio::completion*>(&w))));
    io_uring_sqe_set_data(s, &ignore_cqe);
  }
}

void ares_resolver::arm_poll(socket_watch& w) {
  io_uring_sqe* s = _reactor->sqe();
  io_uring_prep_poll_add(s, w.fd, w.events);
  io_uring_sqe_set_data(s, static_cast<kio::completion*>(&w));
  w.in_ring = true;
}

void ares_resolver::on_poll(socket_watch& w, int32_t res) {
  w.in_ring = false;
  if (w.closed) {
    auto it = std::find_if(_retired.begin(), _retired.end(), [&](auto& p) { return p.get() == &w; });
    RM_ASSERT(it != _retired.end());
    _retired.erase(it);
    return;
  }
  if (res > 0) {
    bool readable = (res & (POLLIN | POLLERR | POLLHUP)) != 0;
    bool writable = (res & (POLLOUT | POLLERR)) != 0;
    w.processing = true;
    process(readable ? w.fd : ARES_SOCKET_BAD, writable ? w.fd : ARES_SOCKET_BAD);
    w.processing = false;
    if (w.closed) {
      auto it = std::find_if(_retired.begin(), _retired.end(), [&](auto& p) { return p.get() == &w; });
      if (it != _retired.end()) _retired.erase(it);
      return;
    }
  }
  if (!w.in_ring && w.events) arm_poll(w);
  reschedule_timer();
}

void ares_resolver::process(int read_fd, int write_fd) { ares_process_fd(_channel, read_fd, write_fd); }

void ares_resolver::on_timer(kio::timer* t) {
  auto* self = static_cast<clock_timer*>(t)->owner;
  self->process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // retries and timeouts
  self->reschedule_timer();
}

void ares_resolver::reschedule_timer() {
  if (_destroying) return;
  timeval tv{};
  if (!ares_timeout(_channel, nullptr, &tv)) {
    _reactor->disarm(_timer);
    return;
  }
  uint64_t ns = uint64_t(tv.tv_sec) * 1'000'000'000u + uint64_t(tv.tv_usec) * 1000u;
  _reactor->arm(_timer, kio::monotonic_ns() + std::max<uint64_t>(ns, 1'000'000u));
}

namespace {

template <class T>
lookup<T> status_error(const ares_resolver::query& q) {
  return kio::fail(from_ares(q.status));
}

}  // namespace

kio::task<lookup<std::vector<mx_record>>> ares_resolver::mx(std::string name) {
  auto label = to_a_label(name);
  if (!label) co_return kio::fail(label.error());
  query q{.type = ns_t_mx, .name = *label};
  co_await query_awaiter{this, q};
  if (q.status != ARES_SUCCESS) co_return status_error<std::vector<mx_record>>(q);
  ares_mx_reply* replies = nullptr;
  int rc = ares_parse_mx_reply(q.answer.data(), int(q.answer.size()), &replies);
  if (rc != ARES_SUCCESS) co_return kio::fail(from_ares(rc));
  std::vector<mx_record> out;
  for (ares_mx_reply* r = replies; r; r = r->next) {
    std::string host = r->host ? r->host : "";
    if (!host.empty() && host.back() == '.') host.pop_back();
    for (char& c : host)
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    out.push_back({r->priority, std::move(host)});
  }
  ares_free_data(replies);
  if (out.empty()) co_return kio::fail(errc::no_data);
  co_return out;
}

namespace {

lookup<std::vector<ip_address>> parse_addresses(const ares_resolver::query& q, int family) {
  hostent* host = nullptr;
  int rc = family == AF_INET ? ares_parse_a_reply(q.answer.data(), int(q.answer.size()), &host, nullptr, nullptr)
                             : ares_parse_aaaa_reply(q.answer.data(), int(q.answer.size()), &host, nullptr, nullptr);
  if (rc != ARES_SUCCESS) return kio::fail(from_ares(rc));
  std::vector<ip_address> out;
  size_t length = family == AF_INET ? 4 : 16;
  for (char** p = host->h_addr_list; p && *p; ++p) {
    ip_address a;
    a.family = family;
    std::memcpy(a.bytes.data(), *p, length);
    out.push_back(a);
  }
  ares_free_hostent(host);
  if (out.empty()) return kio::fail(errc::no_data);
  return out;
}

}  // namespace

kio::task<lookup<std::vector<ip_address>>> ares_resolver::a(std::string name) {
  auto label = to_a_label(name);
  if (!label) co_return kio::fail(label.error());
  query q{.type = ns_t_a, .name = *label};
  co_await query_awaiter{this, q};
  if (q.status != ARES_SUCCESS) co_return status_error<std::vector<ip_address>>(q);
  co_return parse_addresses(q, AF_INET);
}

kio::task<lookup<std::vector<ip_address>>> ares_resolver::aaaa(std::string name) {
  auto label = to_a_label(name);
  if (!label) co_return kio::fail(label.error());
  query q{.type = ns_t_aaaa, .name = *label};
  co_await query_awaiter{this, q};
  if (q.status != ARES_SUCCESS) co_return status_error<std::vector<ip_address>>(q);
  co_return parse_addresses(q, AF_INET6);
}

kio::task<lookup<std::vector<txt_record>>> ares_resolver::txt(std::string name) {
  auto label = to_a_label(name);
  if (!label) co_return kio::fail(label.error());
  query q{.type = ns_t_txt, .name = *label};
  co_await query_awaiter{this, q};
  if (q.status != ARES_SUCCESS) co_return status_error<std::vector<txt_record>>(q);
  ares_txt_ext* replies = nullptr;
  int rc = ares_parse_txt_reply_ext(q.answer.data(), int(q.answer.size()), &replies);
  if (rc != ARES_SUCCESS) co_return kio::fail(from_ares(rc));
  std::vector<txt_record> out;
  for (ares_txt_ext* r = replies; r; r = r->next) {
    // record_start marks the first character-string of each TXT record;
    // the strings of one record are joined without separators.
    if (r->record_start || out.empty()) out.emplace_back();
    out.back().append(reinterpret_cast<const char*>(r->txt), r->length);
  }
  ares_free_data(replies);
  if (out.empty()) co_return kio::fail(errc::no_data);
  co_return out;
}

kio::task<lookup<std::vector<std::string>>> ares_resolver::ptr(ip_address address) {
  if (address.family != AF_INET && address.family != AF_INET6) co_return kio::fail(errc::bad_name);
  query q{.type = ns_t_ptr, .name = reverse_name(address)};
  co_await query_awaiter{this, q};
  if (q.status != ARES_SUCCESS) co_return status_error<std::vector<std::string>>(q);
  hostent* host = nullptr;
  int rc = ares_parse_ptr_reply(q.answer.data(), int(q.answer.size()), address.bytes.data(), int(address.size()),
                                address.family, &host);
  if (rc != ARES_SUCCESS) co_return kio::fail(from_ares(rc));
  std::vector<std::string> out;
  auto add = [&](const char* n) {
    if (!n) return;
    std::string s = n;
    if (!s.empty() && s.back() == '.') s.pop_back();
    for (char& c : s)
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  };
  add(host->h_name);
  for (char** p = host->h_aliases; p && *p; ++p) add(*p);
  ares_free_hostent(host);
  if (out.empty()) co_return kio::fail(errc::no_data);
  co_return out;
}

}  // namespace dns
