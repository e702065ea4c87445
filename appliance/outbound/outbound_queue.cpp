#include "appliance/outbound/outbound_queue.h"

#include <algorithm>
#include <fstream>
#include <deque>
#include <cstdio>
#include <ctime>
#include <random>

#include "appliance/outbound/dsn.h"
#include "appliance/msgauth/dkim_keys.h"
#include "protocols/msgauth/dmarc.h"
#include "protocols/msgauth/message.h"
#include "appliance/smtp/cross_core.h"
#include "kernel_io/ring/ops.h"
#include "kernel_io/ring/reactor.h"
#include "appliance/dns/ring_dns.h"
#include "protocols/dns/ares_resolver.h"

namespace appliance::outbound {

namespace {

uint64_t wall_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
}

const store::account_id queue_account{queue_account_id};

std::string json_escape(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// A route: one host and its addresses, in the order to try them.
struct route_host {
  std::string name;
  std::vector<kio::socket_address> addresses;
};
struct route {
  std::vector<route_host> hosts;
  bool permanent_failure = false;  // the domain cannot receive mail (NXDOMAIN, null MX)
  std::string status;              // for failures: "5.1.2"
  std::string text;                // for failures
};

kio::socket_address with_port(const dns::ip_address& ip, uint16_t port) {
  std::string text = ip.family == AF_INET6 ? "[" + ip.to_string() + "]:" + std::to_string(port)
                                           : ip.to_string() + ":" + std::to_string(port);
  return *kio::socket_address::parse(text);
}

kio::task<std::vector<kio::socket_address>> addresses_of(dns::resolver& r, std::string host, uint16_t port,
                                                         bool& temporary) {
  std::vector<kio::socket_address> out;
  if (auto literal = dns::ip_address::parse(host)) {
    out.push_back(with_port(*literal, port));
    co_return out;
  }
  auto v4 = co_await r.a(host);
  auto v6 = co_await r.aaaa(host);
  if (v6)
    for (const auto& ip : *v6) out.push_back(with_port(ip, port));
  if (v4)
    for (const auto& ip : *v4) out.push_back(with_port(ip, port));
  if ((!v4 && v4.error() == dns::errc::temporary) || (!v6 && v6.error() == dns::errc::temporary)) temporary = true;
  co_return out;
}

// RFC 5321 §5.1: MX hosts by preference (equal preferences shuffled);
// no MX: the domain itself is the host; a null MX (RFC 7505): no mail.
kio::task<route> resolve_route(dns::resolver& r, std::string domain, uint16_t port, std::string smarthost) {
  route out;
  if (!smarthost.empty()) {
    std::string host = smarthost;
    uint16_t p = 25;
    if (size_t colon = smarthost.rfind(':'); colon != std::string::npos && smarthost.find(']') == std::string::npos) {
      host = smarthost.substr(0, colon);
      p = uint16_t(std::stoul(smarthost.substr(colon + 1)));
    }
    bool temporary = false;
    auto a = co_await addresses_of(r, host, p, temporary);
    if (a.empty()) {
      out.status = "4.4.3";
      out.text = "cannot resolve the smarthost " + host;
      co_return out;
    }
    out.hosts.push_back({host, std::move(a)});
    co_return out;
  }
  auto mx = co_await r.mx(domain);
  std::vector<dns::mx_record> hosts;
  if (mx) {
    hosts = *mx;
    if (hosts.size() == 1 && hosts[0].host.empty()) {
      out.permanent_failure = true;
      out.status = "5.1.10";
      out.text = "the domain " + domain + " accepts no mail (null MX)";
      co_return out;
    }
    static thread_local std::minstd_rand rng{std::random_device{}()};
    std::shuffle(hosts.begin(), hosts.end(), rng);
    std::ranges::stable_sort(hosts, {}, &dns::mx_record::preference);
  } else if (mx.error() == dns::errc::no_data) {
    hosts.push_back({0, domain});  // the implicit MX
  } else if (mx.error() == dns::errc::not_found || mx.error() == dns::errc::bad_name) {
    out.permanent_failure = true;
    out.status = "5.1.2";
    out.text = "the domain " + domain + " does not exist";
    co_return out;
  } else {
    out.status = "4.4.3";
    out.text = "DNS lookup of the MX of " + domain + " failed: " + std::string(dns::to_string(mx.error()));
    co_return out;
  }
  bool temporary = false;
  for (const auto& h : hosts) {
    auto a = co_await addresses_of(r, h.host, port, temporary);
    if (!a.empty()) out.hosts.push_back({h.host, std::move(a)});
  }
  if (out.hosts.empty()) {
    out.status = "4.4.3";
    out.text = "no address found for the mail hosts of " + domain;
  }
  co_return out;
}

}  // namespace

// One queued message, in memory. Shared by the loop and its delivery.
struct queue_item {
  uint32_t uid = 0;
  store::blob_key key;
  envelope env;
  queue_state state;
  uint64_t next_attempt_ms = 0;
  bool in_flight = false;
  bool removed = false;
  std::vector<std::string> last_reply;  // per recipient: the last answer or failure
  std::vector<std::string> last_host;   // per recipient: the server that gave it
  // The DKIM-Signature field, made at the first attempt after a (re)start
  // and prepended on every delivery of this message (empty: unsigned).
  std::string dkim_field;
  bool dkim_done = false;
};

void outbound_queue::wake_timer::fire(kio::timer* t) {
  auto* w = static_cast<wake_timer*>(t);
  if (w->waiter) kio::reactor::current()->schedule(std::exchange(w->waiter, nullptr));
}

outbound_queue::outbound_queue(smtp_shared& shared, unsigned core) : _shared(shared), _core(core) {}

outbound_queue::~outbound_queue() = default;

uint64_t outbound_queue::mailbox() const {
  const auto* box = _shared.store.find_mailbox(queue_account, "INBOX");
  return box ? box->id.get() : 0;
}

kio::result<store::store_ticket, store::errc> outbound_queue::append(const envelope& e, const store::blob_key& key) {
  const auto* box = _shared.store.find_mailbox(queue_account, "INBOX");
  if (!box) return kio::fail(store::errc::unknown_account);
  store::delivery_request d;
  d.account = queue_account;
  d.mailbox = box->id;
  d.key = key;
  d.header_prefix = encode_envelope(e);
  d.internal_date_ms = int64_t(e.created_ms);
  d.ignore_quota = true;
  auto r = _shared.store.append_delivery(d);
  if (!r) return kio::fail(r.error());
  return r->ticket;
}

void outbound_queue::wake() {
  if (_wake.waiter) {
    kio::reactor::current()->disarm(_wake);
    kio::reactor::current()->schedule(std::exchange(_wake.waiter, nullptr));
  }
}

void outbound_queue::stop() {
  _stopping = true;
  wake();
}

kio::task<kio::result<void, store::errc>> outbound_queue::ensure_account() {
  if (_shared.store.account(queue_account)) co_return kio::result<void, store::errc>{};
  auto created = _shared.store.create_account(queue_account, queue_account_name, 0, 0);
  if (!created) co_return kio::fail(created.error());
  auto flushed = co_await _shared.cores[_core]->driver->flush(*created);
  if (!flushed) co_return kio::fail(flushed.error());
  co_return kio::result<void, store::errc>{};
}

void outbound_queue::load_new() {
  const auto* box = _shared.store.find_mailbox(queue_account, "INBOX");
  if (!box) return;
  for (auto it = box->messages.upper_bound(_loaded_through_uid); it != box->messages.end(); ++it) {
    const auto& m = it->second;
    _loaded_through_uid = m.uid;
    auto env = decode_envelope(m.header_prefix);
    if (!env) {
      _shared.log.error("queue_unreadable").kv("uid", uint64_t(m.uid));
      continue;
    }
    auto item = std::make_shared<queue_item>();
    item->uid = m.uid;
    item->key = m.key;
    item->env = std::move(*env);
    item->state = state_from_keywords(m.keywords, item->env.recipients.size());
    item->last_reply.resize(item->env.recipients.size());
    item->last_host.resize(item->env.recipients.size());
    // Every message is due when it is first seen: new ones at once, and
    // after a restart the queue resumes at once (the attempt counter, and
    // so the backoff after this attempt, carries on from the keywords).
    item->next_attempt_ms = 0;
    _items.emplace(m.uid, std::move(item));
  }
}

kio::task<void> outbound_queue::run() {
  _running = true;
  kio::reactor& r = *kio::reactor::current();
  std::shared_ptr<const config> cfg = _shared.configs.get(_core);
  if (!_resolver) {
    auto created = create_core_resolver(cfg->dns);
    if (!created) {
      _shared.log.error("outbound").kv("error", created.error());
      _running = false;
      co_return;
    }
    _resolver = std::move(*created);
  }
  if (!cfg->outbound.smarthost_auth_file.empty()) {
    // Line 1 the user, line 2 the password: never in argv or in the config.
    std::ifstream in(cfg->outbound.smarthost_auth_file);
    std::getline(in, _auth_user);
    std::getline(in, _auth_password);
    // (No range-for over a braced list: GCC 12 rejects it in a coroutine.)
    if (!_auth_user.empty() && _auth_user.back() == '\r') _auth_user.pop_back();
    if (!_auth_password.empty() && _auth_password.back() == '\r') _auth_password.pop_back();
    if (_auth_user.empty() || _auth_password.empty()) {
      _auth_problem = "cannot read a user and a password from " + cfg->outbound.smarthost_auth_file;
      _shared.log.error("outbound").kv("error", _auth_problem);
    }
  }
  tls::client_config tc;
  tc.mode = tls::verify_mode::opportunistic;
  auto tls = tls::client_context::create(tc);
  if (tls) _tls = *tls;
  else _shared.log.error("outbound").kv("error", "no TLS client context: " + tls.error().reason);
  auto ok = co_await ensure_account();
  if (!ok) {
    _shared.log.error("outbound").kv("error", std::string("cannot create the queue in the store: ") +
                                                  store::to_string(ok.error()));
    _running = false;
    co_return;
  }
  load_new();
  _shared.log.info("outbound_queue").kv("core", uint64_t(_core)).kv("queued", uint64_t(_items.size()));
  while (!_stopping) {
    cfg = _shared.configs.get(_core);
    load_new();
    uint64_t now = wall_ms();
    uint64_t next_due = now + 60'000;
    for (auto& [uid, item] : _items) {
      if (item->in_flight || item->removed || item->state.held) continue;
      if (item->next_attempt_ms > now) {
        next_due = std::min(next_due, item->next_attempt_ms);
        continue;
      }
      if (_in_flight >= cfg->outbound.deliveries_max) break;
      item->in_flight = true;
      ++_in_flight;
      r.spawn(deliver(item));
    }
    if (_stopping) break;
    struct sleep_until {
      outbound_queue* self;
      uint64_t ms;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) {
        self->_wake.waiter = h;
        kio::reactor::current()->arm(self->_wake, kio::monotonic_ns() + ms * 1'000'000u);
      }
      void await_resume() const noexcept {}
    };
    uint64_t wait_ms = next_due > now ? next_due - now : 0;
    sleep_until nap{this, std::max<uint64_t>(wait_ms, 5)};
    co_await nap;
  }
  // Deliveries in flight finish (their sockets are bounded by timeouts).
  while (_in_flight > 0) co_await kio::sleep_for(10);
  std::vector<std::unique_ptr<smtp::client>> idle = take_idle(0, true);
  for (auto& c : idle) co_await c->close();
  while (_reaper_running) co_await kio::sleep_for(10);
  _resolver.reset();
  _running = false;
}

kio::task<bool> outbound_queue::mark(queue_item& item, std::vector<std::string> keywords,
                                     std::vector<std::string> remove) {
  store::mailbox_id box{uint32_t(mailbox())};
  std::vector<store::store_ticket> tickets;
  if (!remove.empty()) {
    auto r = _shared.store.store_flags(queue_account, box, {item.uid}, store::format::flags_op::remove, 0, remove);
    if (r) tickets.push_back(r->ticket);
  }
  if (!keywords.empty()) {
    auto r = _shared.store.store_flags(queue_account, box, {item.uid}, store::format::flags_op::add, 0, keywords);
    if (!r) {
      _shared.log.error("queue_mark_failed").kv("id", item.env.id).kv("error", store::to_string(r.error()));
      co_return false;
    }
    tickets.push_back(r->ticket);
  }
  bool durable = true;
  for (const auto& t : tickets) {
    auto f = co_await _shared.cores[_core]->driver->flush(t);
    durable = durable && bool(f);
  }
  co_return durable;
}

kio::task<void> outbound_queue::deliver(std::shared_ptr<queue_item> item) {
  std::shared_ptr<const config> cfg = _shared.configs.get(_core);
  ++item->state.attempts;
  uint32_t attempt = item->state.attempts;
  std::map<std::string, std::vector<size_t>> by_domain;
  for (size_t i = 0; i < item->env.recipients.size(); ++i)
    if (!item->state.recipients[i].final()) by_domain[domain_of(item->env.recipients[i].address)].push_back(i);
  if (!item->dkim_done) co_await sign(*item);
  for (auto& [domain, recipients] : by_domain) {
    if (_stopping) break;
    // Per-destination concurrency: take a slot or queue for one; a slot
    // given back goes straight to the next waiter (no polling).
    if (_active_per_domain[domain] >= cfg->outbound.connections_per_destination_max) {
      struct slot_wait {
        std::deque<std::coroutine_handle<>>& waiters;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) { waiters.push_back(h); }
        void await_resume() const noexcept {}
      };
      slot_wait w{_slot_waiters[domain]};
      co_await w;  // resumed holding the slot its giver had
    } else {
      ++_active_per_domain[domain];
    }
    if (!_stopping) co_await deliver_domain(*item, domain, recipients);
    auto& waiters = _slot_waiters[domain];
    if (!waiters.empty()) {
      kio::reactor::current()->schedule(waiters.front());
      waiters.pop_front();
    } else {
      --_active_per_domain[domain];
    }
  }
  // Permanent failures: one DSN naming only them, then they are final.
  std::vector<size_t> failed_now;
  uint64_t now = wall_ms();
  bool expired = now >= item->env.created_ms + cfg->outbound.queue_lifetime_ms;
  for (size_t i = 0; i < item->env.recipients.size(); ++i) {
    auto& s = item->state.recipients[i];
    if (s.final()) continue;
    if (item->last_reply[i].starts_with("5") || (expired && !_stopping)) {
      if (!item->last_reply[i].starts_with("5"))
        item->last_reply[i] = "4.4.7 message expired in the queue; last error: " + item->last_reply[i];
      failed_now.push_back(i);
    }
  }
  if (!failed_now.empty()) {
    bool sent = co_await deliver_dsn(*item, failed_now, false);
    if (sent) {
      std::vector<std::string> kws;
      for (size_t i : failed_now) {
        kws.push_back(failed_keyword(i));
        item->state.recipients[i].failed = true;
      }
      (void)co_await mark(*item, kws);
      for (size_t i : failed_now)
        _shared.log.info("outbound_failed")
            .kv("id", item->env.id)
            .kv("to", item->env.recipients[i].address)
            .kv("reason", item->last_reply[i]);
    }
  }
  bool all_final = true;
  for (const auto& s : item->state.recipients) all_final = all_final && s.final();
  if (all_final || item->removed) {
    co_await finish(item);
  } else {
    // The attempt is a record too, so the backoff continues after a
    // restart. Written only for a message that stays queued (one group
    // commit less for the common case, delivered at the first try); a crash
    // mid-attempt just leaves the count one lower. (Keyword lists are built
    // into locals: GCC 12 rejects braced lists inside co_await arguments.)
    std::vector<std::string> previous;
    if (attempt > 1) previous.push_back(attempts_keyword(attempt - 1));
    std::vector<std::string> now_attempts{attempts_keyword(attempt)};
    (void)co_await mark(*item, now_attempts, previous);
    // Delay warning, once.
    if (!item->state.warned && cfg->outbound.delay_warning_ms > 0 &&
        now >= item->env.created_ms + cfg->outbound.delay_warning_ms) {
      std::vector<size_t> pending;
      for (size_t i = 0; i < item->env.recipients.size(); ++i)
        if (!item->state.recipients[i].final()) pending.push_back(i);
      bool sent = co_await deliver_dsn(*item, pending, true);
      if (sent) {
        item->state.warned = true;
        std::vector<std::string> warned{std::string(warned_keyword)};
        (void)co_await mark(*item, warned);
      }
    }
    uint64_t delay = retry_delay_ms(attempt, cfg->outbound.retry_initial_ms, cfg->outbound.retry_max_ms);
    uint64_t expiry = item->env.created_ms + cfg->outbound.queue_lifetime_ms;
    item->next_attempt_ms = std::min(wall_ms() + delay, std::max(expiry, wall_ms()));
    _shared.log.info("outbound_deferred")
        .kv("id", item->env.id)
        .kv("attempt", uint64_t(attempt))
        .kv("retry_in_ms", item->next_attempt_ms - wall_ms());
  }
  item->in_flight = false;
  --_in_flight;
  wake();
}

// DKIM (RFC 6376) with the active key of the author's domain (From), else
// of the envelope sender's domain; no key: the message goes out unsigned.
// The signature covers the message exactly as every attempt sends it (the
// trace headers + the blob), so it is made once per message and reused by
// every destination domain and retry. RSA costs about a millisecond: the
// signing runs on the worker pool, never on the queue's reactor.
kio::task<void> outbound_queue::sign(queue_item& item) {
  item.dkim_done = true;
  const dkim_signer* signer = _shared.dkim;
  if (!signer || signer->size() == 0) co_return;
  auto blob = _shared.store.read_blob(item.key);
  if (!blob) co_return;  // deliver_domain reports the unreadable blob
  std::string content = item.env.trace_headers + *blob;
  std::string domain;
  size_t end = content.find("\r\n\r\n");
  if (auto fields = msgauth::split_header_fields(std::string_view(content).substr(0, end == std::string::npos ? 0 : end + 2))) {
    if (auto author = msgauth::author_domain(*fields); author && signer->has_key(*author)) domain = *author;
  }
  if (domain.empty() && signer->has_key(domain_of(item.env.sender))) domain = domain_of(item.env.sender);
  if (domain.empty()) co_return;
  uint64_t now = wall_ms() / 1000;
  const std::string* message = &content;
  const std::string* d = &domain;
  std::optional<std::string> field =
      co_await _shared.runtime.workers().run([signer, d, message, now] { return signer->sign(*d, *message, now); });
  if (!field) {
    _shared.log.warning("dkim_sign_failed").kv("id", item.env.id).kv("domain", domain);
    co_return;
  }
  item.dkim_field = std::move(*field);
  _shared.log.info("dkim_signed").kv("id", item.env.id).kv("domain", domain);
}

kio::task<void> outbound_queue::deliver_domain(queue_item& item, std::string domain, std::vector<size_t> recipients) {
  std::shared_ptr<const config> cfg = _shared.configs.get(_core);
  auto content_blob = _shared.store.read_blob(item.key);
  auto set_all = [&](const std::string& text, const std::string& host) {
    for (size_t i : recipients) {
      item.last_reply[i] = text;
      item.last_host[i] = host;
    }
  };
  if (!content_blob) {
    set_all("4.3.0 the queued message cannot be read from the store", "");
    co_return;
  }
  std::string content = item.dkim_field + item.env.trace_headers + *content_blob;
  smtp::outbound_message m;
  m.sender = item.env.sender;
  m.eight_bit = item.env.eight_bit;
  m.content = content;
  for (size_t i : recipients) {
    const auto& r = item.env.recipients[i];
    m.recipients.push_back(r.address);
    m.needs_smtputf8 = m.needs_smtputf8 || needs_smtputf8(r.address);
    std::string p;
    if (!r.notify.empty()) p += " NOTIFY=" + r.notify;
    if (!r.orcpt.empty()) {
      // xtext (RFC 3461 §4): '+', '=' and controls as +HH.
      std::string x;
      for (unsigned char c : r.orcpt) {
        if (c < 33 || c > 126 || c == '+' || c == '=') {
          char buf[4];
          std::snprintf(buf, sizeof buf, "+%02X", c);
          x += buf;
        } else {
          x += char(c);
        }
      }
      p += " ORCPT=" + x;
    }
    m.rcpt_parameters.push_back(std::move(p));
  }
  m.needs_smtputf8 = m.needs_smtputf8 || needs_smtputf8(m.sender);
  if (!item.env.ret.empty()) m.mail_parameters += " RET=" + item.env.ret;
  bool tls_required = cfg->outbound.tls_required ||
                      std::find(cfg->outbound.tls_required_domains.begin(), cfg->outbound.tls_required_domains.end(),
                                domain) != cfg->outbound.tls_required_domains.end();

  // A connection to this domain left open by an earlier message.
  std::unique_ptr<smtp::client> client;
  uint32_t messages_on_connection = 0;
  if (auto it = _idle.find(domain); it != _idle.end() && !it->second.empty()) {
    client = std::move(it->second.back().client);
    messages_on_connection = it->second.back().messages;
    it->second.pop_back();
    if (tls_required && !client->secure()) {
      co_await client->close();
      client.reset();
    }
  }
  std::string last_error;
  if (!client) {
    std::string smarthost = cfg->outbound.smarthost;
    route rt = co_await resolve_route(*_resolver, domain, cfg->outbound.port, smarthost);
    if (rt.hosts.empty()) {
      set_all((rt.permanent_failure ? "5" : "4") + rt.status.substr(1) + " " + rt.text, "");
      co_return;
    }
    smtp::client_options o;
    o.helo_name = cfg->outbound.helo_name.empty() ? cfg->server.hostname : cfg->outbound.helo_name;
    o.connect_timeout_ms = cfg->outbound.connect_timeout_ms;
    o.greeting_timeout_ms = cfg->outbound.greeting_timeout_ms;
    o.command_timeout_ms = cfg->outbound.command_timeout_ms;
    o.data_init_timeout_ms = cfg->outbound.data_init_timeout_ms;
    o.data_block_timeout_ms = cfg->outbound.data_block_timeout_ms;
    o.data_end_timeout_ms = cfg->outbound.data_end_timeout_ms;
    o.require_tls = tls_required;
    o.tls = _tls;
    if (!smarthost.empty() && !cfg->outbound.smarthost_auth_file.empty()) {
      if (!_auth_problem.empty()) {
        set_all("4.7.0 " + _auth_problem, "");
        co_return;
      }
      o.auth_user = _auth_user;
      o.auth_password = _auth_password;
    }
    std::optional<kio::socket_address> source;
    if (!cfg->outbound.source_address.empty()) {
      source = kio::socket_address::parse(cfg->outbound.source_address + ":0");
      if (!source) source = kio::socket_address::parse("[" + cfg->outbound.source_address + "]:0");
    }
    for (const auto& host : rt.hosts) {
      for (const auto& address : host.addresses) {
        if (_stopping) break;
        // An IPv6 address with an IPv4 source (or the reverse) cannot connect.
        if (source && source->family() != address.family()) continue;
        o.source = source ? &*source : nullptr;
        auto opened = co_await smtp::client::open(address, host.name, o);
        if (opened) {
          client = std::move(*opened);
          break;
        }
        last_error = opened.error().reply.code ? opened.error().reply.summary() + " (" + opened.error().text + ")"
                                               : opened.error().text;
        _shared.log.info("outbound_connect_failed")
            .kv("id", item.env.id)
            .kv("host", host.name)
            .kv("address", address.to_string())
            .kv("error", last_error);
      }
      if (client) break;
    }
    if (!client) {
      // Even a 5xx greeting defers: another MX may answer later (RFC 5321 §5.1).
      set_all("4.4.1 " + (last_error.empty() ? std::string("no mail host reachable") : last_error), "");
      co_return;
    }
  }
  smtp::send_result sent = co_await client->send(m);
  std::string host = client->server_name();
  std::vector<std::string> delivered;
  for (size_t k = 0; k < recipients.size(); ++k) {
    size_t i = recipients[k];
    const smtp::server_reply& rr = k < sent.rcpt.size() ? sent.rcpt[k] : sent.data;
    bool rcpt_ok = rr.positive();
    std::string text;
    if (rcpt_ok && !sent.transaction_failure && sent.data.positive()) {
      delivered.push_back(delivered_keyword(i));
      item.state.recipients[i].delivered = true;
      text = sent.data.summary();
    } else if (!rcpt_ok) {
      text = rr.summary();
    } else {
      text = sent.transaction_failure ? sent.transaction_failure->summary() : sent.data.summary();
    }
    item.last_reply[i] = text;
    item.last_host[i] = host;
  }
  bool all_final = true;
  for (const auto& st : item.state.recipients) all_final = all_final && st.final();
  // When this delivery finished the message, the expunge that follows (in
  // deliver()) is the durable record that every recipient is done: one
  // group commit instead of two. A crash between the 250 and that commit
  // resends, exactly as a crash before the delivered mark would.
  if (!delivered.empty() && !all_final) (void)co_await mark(item, delivered);
  if (!delivered.empty()) {
    for (size_t k = 0; k < recipients.size(); ++k)
      if (item.state.recipients[recipients[k]].delivered)
        _shared.log.info("outbound_delivered")
            .kv("id", item.env.id)
            .kv("to", item.env.recipients[recipients[k]].address)
            .kv("host", host)
            .kv("tls", client->secure() ? client->tls_summary() : std::string("none"))
            .kv("transfer", sent.chunked ? "bdat" : "data")
            .kv("reply", item.last_reply[recipients[k]]);
  }
  ++messages_on_connection;
  if (client->usable() && !_stopping && messages_on_connection < cfg->outbound.messages_per_connection_max) {
    _idle[domain].push_back({std::move(client), wall_ms(), messages_on_connection});
    if (!_reaper_running) {
      _reaper_running = true;
      kio::reactor::current()->spawn(reap_idle());
    }
  } else {
    co_await client->close();
  }
}

std::vector<std::unique_ptr<smtp::client>> outbound_queue::take_idle(uint64_t idle_since_before_ms, bool all) {
  std::vector<std::unique_ptr<smtp::client>> taken;
  for (auto& [domain, conns] : _idle)
    std::erase_if(conns, [&](idle_connection& c) {
      if (!all && c.idle_since_ms >= idle_since_before_ms) return false;
      taken.push_back(std::move(c.client));
      return true;
    });
  return taken;
}

kio::task<void> outbound_queue::reap_idle() {
  // Idle connections are closed after a few seconds: long enough to carry
  // a burst of messages to one domain, short enough to be polite.
  constexpr uint64_t idle_ms = 5'000;
  while (!_stopping) {
    co_await kio::sleep_for(500);
    // Taken out of _idle before the closes suspend: meanwhile a delivery
    // may take or return a connection, and the shutdown closes the rest.
    std::vector<std::unique_ptr<smtp::client>> due = take_idle(wall_ms() - idle_ms, _stopping);
    for (auto& c : due) co_await c->close();
    if (std::all_of(_idle.begin(), _idle.end(), [](const auto& d) { return d.second.empty(); })) break;
  }
  _reaper_running = false;
}

kio::task<bool> outbound_queue::deliver_dsn(queue_item& item, std::vector<size_t> recipients, bool delayed) {
  std::shared_ptr<const config> cfg = _shared.configs.get(_core);
  std::shared_ptr<const directory> dir = _shared.directories.get(_core);
  // Never a bounce to the null sender; only to the authenticated submitter
  // (no backscatter); honour NOTIFY (default: failures, RFC 3461 §4.1).
  if (item.env.sender.empty()) co_return true;
  std::vector<size_t> wanted;
  for (size_t i : recipients) {
    const std::string& n = item.env.recipients[i].notify;
    bool want = delayed ? n.find("DELAY") != std::string::npos
                        : (n.empty() || n.find("FAILURE") != std::string::npos);
    if (!delayed && n.empty()) want = true;
    if (delayed && n.empty()) want = true;  // default: warn (RFC 3461 leaves it to the MTA)
    if (want) wanted.push_back(i);
  }
  if (wanted.empty()) co_return true;
  const account* submitter = dir->find_account(account_id{item.env.account});
  if (!submitter) {
    _shared.log.warning("dsn_dropped").kv("id", item.env.id).kv("reason", "submitter account no longer exists");
    co_return true;
  }
  auto original = _shared.store.read_blob(item.key);
  dsn_request q;
  q.reporting_mta = cfg->server.hostname;
  q.from = "MAILER-DAEMON@" + cfg->server.hostname;
  q.to = item.env.sender;
  q.envid = item.env.envid;
  q.arrival_ms = item.env.created_ms;
  q.now_ms = wall_ms();
  q.retry_until_ms = item.env.created_ms + cfg->outbound.queue_lifetime_ms;
  q.ret = item.env.ret;
  std::string full = item.env.trace_headers + (original ? *original : std::string());
  q.original = full;
  q.boundary_seed = item.env.id + "." + std::to_string(++_dsn_counter) + "." + std::to_string(q.now_ms);
  for (size_t i : wanted) {
    dsn_recipient d;
    d.address = item.env.recipients[i].address;
    d.orcpt = item.env.recipients[i].orcpt;
    d.action = delayed ? "delayed" : "failed";
    const std::string& last = item.last_reply[i];
    // "550 5.1.1 text" or "4.4.1 text": find the enhanced code.
    std::string status = delayed ? "4.0.0" : "5.0.0";
    size_t p = last.find_first_of("245");
    while (p != std::string::npos) {
      if (p + 4 < last.size() && last[p + 1] == '.' && (p == 0 || last[p - 1] == ' ')) {
        size_t end = last.find(' ', p);
        status = last.substr(p, end == std::string::npos ? std::string::npos : end - p);
        break;
      }
      p = last.find_first_of("245", p + 1);
    }
    if (!delayed && status[0] == '4') status[0] = '5';
    if (delayed) status[0] = '4';
    d.status = status;
    d.remote_mta = item.last_host[i];
    d.diagnostic = last;
    q.recipients.push_back(std::move(d));
  }
  std::string report = compose_dsn(q);
  // Into the submitter's INBOX: the blob here, the delivery on its owner core.
  auto blob = _shared.store.store_blob(store::core_id{_core}, report);
  if (!blob) co_return false;
  auto durable = co_await _shared.cores[_core]->driver->flush(blob->ticket);
  if (!durable) co_return false;
  unsigned owner = _shared.store.owner_of(store::account_id{submitter->id.get()}).get();
  smtp_shared* shared = &_shared;
  store::blob_key key = blob->key;
  uint64_t account = submitter->id.get();
  std::string prefix = "Return-Path: <>\r\nDelivered-To: " + submitter->address + "\r\n";
  auto body = [](smtp_shared* shared, uint64_t account, store::blob_key key, std::string prefix,
                 std::string name) -> kio::task<bool> {
    unsigned core = kio::reactor::current()->id();
    store::account_id sid{account};
    if (!shared->store.account(sid)) {
      auto created = shared->store.create_account(sid, name, 0, 0);
      if (!created) co_return false;
      auto f = co_await shared->cores[core]->driver->flush(*created);
      if (!f && !shared->store.account(sid)) co_return false;
    }
    const auto* box = shared->store.find_mailbox(sid, "INBOX");
    if (!box) co_return false;
    store::delivery_request d;
    d.account = sid;
    d.mailbox = box->id;
    d.key = key;
    d.header_prefix = prefix;
    d.internal_date_ms = int64_t(wall_ms());
    d.ignore_quota = true;
    auto r = shared->store.append_delivery(d);
    if (!r) co_return false;
    auto f = co_await shared->cores[core]->driver->flush(r->ticket);
    co_return bool(f);
  };
  std::string name = submitter->address;
  bool ok = false;
  if (owner == _core) {
    ok = co_await body(shared, account, key, prefix, name);
  } else {
    auto make = [body, shared, account, key, prefix, name] { return body(shared, account, key, prefix, name); };
    ok = co_await remote_task<bool, decltype(make)>(_shared.runtime.core(owner), make);
  }
  _shared.log.info(delayed ? "dsn_delayed" : "dsn_failed")
      .kv("id", item.env.id)
      .kv("to", item.env.sender)
      .kv("recipients", uint64_t(wanted.size()))
      .kv("delivered", ok);
  co_return ok;
}

kio::task<void> outbound_queue::finish(std::shared_ptr<queue_item> item) {
  store::mailbox_id box{uint32_t(mailbox())};
  auto r = _shared.store.expunge(queue_account, box, {item->uid});
  if (r) {
    auto f = co_await _shared.cores[_core]->driver->flush(r->ticket);
    (void)f;
  }
  _items.erase(item->uid);
  _shared.log.info("outbound_done").kv("id", item->env.id);
}

std::shared_ptr<queue_item> outbound_queue::find(const std::string& id) const {
  for (const auto& [uid, item] : _items)
    if (item->env.id == id) return item;
  return nullptr;
}

std::string outbound_queue::list(bool json) const {
  std::string out = json ? "[" : "";
  bool first = true;
  for (const auto& [uid, item] : _items) {
    size_t pending = 0;
    for (const auto& s : item->state.recipients) pending += s.final() ? 0 : 1;
    std::string status = item->state.held ? "held" : item->in_flight ? "active" : "deferred";
    if (json) {
      out += first ? "" : ",";
      out += "{\"id\":" + json_escape(item->env.id) + ",\"from\":" + json_escape(item->env.sender) +
             ",\"status\":\"" + status + "\",\"attempts\":" + std::to_string(item->state.attempts) +
             ",\"created_ms\":" + std::to_string(item->env.created_ms) + ",\"pending\":" + std::to_string(pending) +
             ",\"recipients\":[";
      for (size_t i = 0; i < item->env.recipients.size(); ++i) {
        const auto& s = item->state.recipients[i];
        out += (i ? "," : "") + std::string("{\"address\":") + json_escape(item->env.recipients[i].address) +
               ",\"state\":\"" + (s.delivered ? "delivered" : s.failed ? "failed" : "pending") +
               "\",\"last\":" + json_escape(item->last_reply[i]) + "}";
      }
      out += "]}";
    } else {
      out += item->env.id + "  " + status + "  attempts=" + std::to_string(item->state.attempts) + "  from=<" +
             item->env.sender + ">  pending=" + std::to_string(pending) + "/" +
             std::to_string(item->env.recipients.size()) + "\n";
    }
    first = false;
  }
  if (json) out += "]\n";
  return out;
}

std::string outbound_queue::show(const std::string& id, bool json) const {
  auto item = find(id);
  if (!item) return "";
  if (json) return list(true);  // callers filter; kept simple
  std::string out = "id: " + item->env.id + "\nfrom: <" + item->env.sender + ">\ncreated: " +
                    rfc5322_date(item->env.created_ms) + "\nattempts: " + std::to_string(item->state.attempts) +
                    "\nheld: " + (item->state.held ? "yes" : "no") + "\n";
  for (size_t i = 0; i < item->env.recipients.size(); ++i) {
    const auto& s = item->state.recipients[i];
    out += "to: <" + item->env.recipients[i].address + "> " + (s.delivered ? "delivered" : s.failed ? "failed" : "pending");
    if (!item->last_reply[i].empty()) out += " (" + item->last_reply[i] + ")";
    out += "\n";
  }
  return out;
}

std::size_t outbound_queue::flush() {
  std::size_t due = 0;
  for (auto& [uid, item] : _items) {
    if (item->state.held || item->in_flight || item->removed) continue;
    item->next_attempt_ms = 0;
    ++due;
  }
  if (due) wake();
  return due;
}

kio::task<std::string> outbound_queue::control(std::string verb, std::string id) {
  auto item = find(id);
  if (!item) co_return "no queued message with id " + id;
  if (verb == "retry") {
    item->next_attempt_ms = 0;
    wake();
    co_return "";
  }
  if (verb == "hold") {
    std::vector<std::string> held{std::string(held_keyword)};
    bool ok = co_await mark(*item, held);
    if (!ok) co_return "could not record the hold";
    item->state.held = true;
    co_return "";
  }
  if (verb == "release") {
    std::vector<std::string> none, held{std::string(held_keyword)};
    bool ok = co_await mark(*item, none, held);
    if (!ok) co_return "could not record the release";
    item->state.held = false;
    item->next_attempt_ms = 0;
    wake();
    co_return "";
  }
  if (verb == "remove") {
    if (item->in_flight) {
      item->removed = true;  // its delivery ends it
      co_return "";
    }
    item->removed = true;
    co_await finish(item);
    co_return "";
  }
  co_return "unknown queue command " + verb;
}

}  // namespace appliance::outbound
