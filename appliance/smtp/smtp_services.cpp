#include "appliance/smtp/smtp_services.h"

#include "appliance/spam/inline_filter.h"
#include "appliance/spam/spam_training.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>

#include "appliance/accounts/quota.h"
#include "appliance/outbound/outbound_queue.h"
#include "appliance/smtp/cross_core.h"
#include "kernel_io/shard/cross_core.h"
#include "protocols/smtp/parser/address.h"

namespace appliance {

namespace {

uint64_t wall_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
}

store::account_id store_account(account_id id) { return store::account_id{id.get()}; }

// The destination of a recipient that goes to the outbound queue.
constexpr std::string_view remote_destination = "remote";

// "12,7": the recipient's accounts, as check_recipient resolved them.
std::string encode_destination(const std::vector<account_id>& ids) {
  std::string out;
  for (auto id : ids) {
    if (!out.empty()) out += ',';
    out += std::to_string(id.get());
  }
  return out;
}

std::vector<uint64_t> decode_destination(std::string_view text) {
  std::vector<uint64_t> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    uint64_t v = 0;
    if (std::from_chars(part.data(), part.data() + part.size(), v).ec == std::errc()) out.push_back(v);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

smtp::verdict quota_refusal(const config& cfg, std::string text) {
  if (cfg.smtp.quota_full_permanent) return smtp::verdict::refuse(552, "5.2.2", std::move(text));
  return smtp::verdict::refuse(452, "4.2.2", std::move(text));
}

// Full by bytes (with `incoming` more) or by message count: the reply, or
// nullopt when the account takes the message.
std::optional<smtp::verdict> quota_full(const config& cfg, const account& a, const store::quota_usage& usage,
                                        uint64_t incoming) {
  if (check_quota(a, usage.used_bytes, incoming, cfg.limits.quota_warning_percent) == quota_verdict::full)
    return quota_refusal(cfg, quota_full_reply(a, usage.used_bytes));
  if (messages_full(a, usage.used_messages)) return quota_refusal(cfg, quota_messages_full_reply(a, usage.used_messages));
  return std::nullopt;
}

// The local part and the canonical (alias domains mapped) domain of an
// address the directory can read; nullopt otherwise.
std::optional<std::string> canonical_address(const directory& dir, std::string_view address) {
  auto norm = normalize_address(address);
  if (!norm) return std::nullopt;
  size_t at = norm->rfind('@');
  auto domain = dir.canonical_domain(std::string_view(*norm).substr(at + 1));
  if (!domain) return std::nullopt;
  return norm->substr(0, at + 1) + *domain;
}

}  // namespace

bool sender_belongs_to(const directory& dir, const account& acc, std::string_view sender) {
  auto canon = canonical_address(dir, sender);
  if (!canon) return false;
  std::vector<std::string> candidates = {*canon};
  size_t at = canon->rfind('@');
  size_t plus = canon->find('+');
  if (plus != std::string::npos && plus < at) candidates.push_back(canon->substr(0, plus) + canon->substr(at));
  for (const auto& c : candidates) {
    if (c == acc.address) return true;
    if (dir.data().aliases.count(c)) {
      auto r = dir.resolve_recipient(c);
      if (r.status == resolve_status::local &&
          std::find(r.accounts.begin(), r.accounts.end(), acc.id) != r.accounts.end())
        return true;
    }
  }
  return false;
}

kio::task<kio::result<void, store::errc>> ensure_store_account(smtp_shared& shared, unsigned core, const account& acc) {
  store::account_id sid = store_account(acc.id);
  if (shared.store.account(sid)) co_return kio::result<void, store::errc>{};
  smtp_core_state& state = *shared.cores[core];
  store::store_ticket ticket;
  if (auto it = state.creating.find(acc.id.get()); it != state.creating.end()) {
    ticket = it->second;
  } else {
    auto created = shared.store.create_account(sid, acc.address, 0, 0);
    if (!created) co_return kio::fail(created.error());
    ticket = *created;
    state.creating.emplace(acc.id.get(), ticket);
  }
  auto flushed = co_await state.driver->flush(ticket);
  state.creating.erase(acc.id.get());
  if (!flushed) co_return kio::fail(flushed.error());
  if (!shared.store.account(sid)) co_return kio::fail(store::errc::unknown_account);
  co_return kio::result<void, store::errc>{};
}

std::string make_session_id(smtp_shared& shared, unsigned core) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llx.%u.%llu", static_cast<unsigned long long>(shared.started_ms), core,
                static_cast<unsigned long long>(++shared.cores[core]->sessions_started));
  return buf;
}

const account* postmaster_account(const directory& dir, const config& cfg) {
  if (!cfg.smtp.postmaster.empty()) {
    auto r = dir.resolve_recipient(cfg.smtp.postmaster);
    if (r.status == resolve_status::local && !r.accounts.empty()) return dir.find_account(r.accounts.front());
    return nullptr;
  }
  const account* first = nullptr;
  for (const auto& [address, acc] : dir.data().accounts)
    if (!first || acc.id < first->id) first = &acc;
  return first;
}

smtp::verdict smtp_services::refuse(const smtp::session_info& info, std::string_view stage, uint16_t code,
                                    std::string enhanced, std::string text) {
  _shared.stats.add(_core, counter::rejections);
  _shared.log.info("rejection")
      .kv("session", info.session_id)
      .kv("listener", smtp::listener_name(info.listener))
      .kv("ip", info.peer.ip_string())
      .kv("stage", stage)
      .kv("code", unsigned(code))
      .kv("reason", text);
  return smtp::verdict::refuse(code, std::move(enhanced), std::move(text));
}

smtp::verdict smtp_services::rate_limited(const smtp::session_info& info, const account& acc,
                                          const send_rate_limiter::verdict& v) {
  _shared.stats.add(_core, counter::send_rate_limited);
  _shared.log.warning("rate_limited")
      .kv("session", info.session_id)
      .kv("account", acc.address)
      .kv("ip", info.peer.ip_string())
      .kv("exceeded", v.exceeded)
      .kv("retry_after_ms", v.retry_after_ms);
  const config& cfg = *_shared.configs.get(_core);
  if (_shared.send_limits.strike(acc.id, cfg.outbound.rate_limit_strikes_before_suspend, wall_ms())) {
    // Repeatedly over the limit: likely a stolen password. Stop the account
    // sending and tell the admin (`ringmail account unsuspend` lifts it).
    _shared.log.error("sending_suspended")
        .kv("account", acc.address)
        .kv("ip", info.peer.ip_string())
        .kv("strikes", uint64_t(cfg.outbound.rate_limit_strikes_before_suspend));
  }
  std::string when = v.retry_after_ms ? "try again in " + std::to_string((v.retry_after_ms + 59'999) / 60'000) +
                                            " minute(s)"
                                      : "the limit is lower than this message needs";
  return refuse(info, "rate", 451, "4.7.0",
                "Sending limit reached for " + acc.address + " (" + std::string(v.exceeded) + " per hour); " + when);
}

kio::task<smtp::auth_result> smtp_services::authenticate(const smtp::session_info& info, std::string_view login,
                                                         std::string_view password) {
  auth_request request;
  request.login = std::string(login);
  request.password = std::string(password);
  request.proto = protocol::submission;
  request.remote_ip = info.peer.ip_string();
  request.tls = info.tls;
  auth_result r = co_await _shared.auth.authenticate(std::move(request));
  smtp::auth_result out;
  out.text = r.message();
  switch (r.status) {
    case auth_status::ok:
      out.outcome = smtp::auth_outcome::ok;
      out.login = r.address;
      break;
    case auth_status::bad_credentials: out.outcome = smtp::auth_outcome::bad_credentials; break;
    case auth_status::blocked: out.outcome = smtp::auth_outcome::blocked; break;
    case auth_status::tls_required: out.outcome = smtp::auth_outcome::tls_required; break;
    case auth_status::protocol_not_allowed: out.outcome = smtp::auth_outcome::protocol_not_allowed; break;
    case auth_status::disabled: out.outcome = smtp::auth_outcome::disabled; break;
  }
  co_return out;
}

kio::task<smtp::verdict> smtp_services::check_sender(const smtp::session_info& info, const smtp::path& sender,
                                                     const smtp::mail_parameters&) {
  // MX: anyone may send to our users; SPF, DNSBL and friends come with the
  // filter and feed its score rather than refusing here.
  if (info.listener == smtp::listener_kind::mx) co_return smtp::verdict::accept();

  const directory& dir = *_shared.directories.get(_core);
  const config& cfg = *_shared.configs.get(_core);
  const account* acc = dir.find_account(info.authenticated);
  if (!acc) co_return refuse(info, "mail", 451, "4.7.1", "The authenticated account no longer exists");
  if (_shared.send_limits.suspended(acc->id))
    co_return refuse(info, "mail", 550, "5.7.1",
                     "Sending is suspended for " + acc->address +
                         " after repeated sending-limit violations; ask the administrator to lift it");
  if (sender.null)
    co_return refuse(info, "mail", 553, "5.7.1", "A null sender is not allowed on submission: use your address");
  std::string address = smtp::format_mailbox(sender.address);
  if (!sender_belongs_to(dir, *acc, address))
    co_return refuse(info, "mail", 553, "5.7.1",
                     "Sender address <" + address + "> is not owned by " + acc->address + " (use it or one of its aliases)");

  // A stolen password must not become a spam cannon: the message is
  // charged here, each recipient at RCPT.
  auto v = _shared.send_limits.try_acquire(acc->id, send_limits_for(*acc, cfg.limits), 0, wall_ms());
  if (!v.allowed) co_return rate_limited(info, *acc, v);
  co_return smtp::verdict::accept();
}

kio::task<smtp::verdict> smtp_services::check_recipient(const smtp::session_info& info, const smtp::envelope& env,
                                                        smtp::recipient& rcpt) {
  // Keep the snapshots alive across the quota hop below.
  std::shared_ptr<const directory> dir_ptr = _shared.directories.get(_core);
  std::shared_ptr<const config> cfg_ptr = _shared.configs.get(_core);
  const directory& dir = *dir_ptr;
  const config& cfg = *cfg_ptr;
  const smtp::path& p = rcpt.address;

  // %-hack, !-paths, quoted @ and source routes are how relays get abused:
  // never deliver or relay such an address, whoever asks.
  if (p.hazards != smtp::relay_hazard::none)
    co_return refuse(info, "rcpt", 550, "5.7.1", "Relay access denied: address form not accepted");

  resolution res;
  std::string address;
  if (p.postmaster) {
    address = "postmaster";
  } else {
    address = smtp::format_mailbox(p.address);
    if (!dir.is_local_domain(p.address.domain)) {
      if (info.listener == smtp::listener_kind::mx)
        co_return refuse(info, "rcpt", 554, "5.7.1", "Relay access denied");
      // Authenticated submission to another domain: the outbound queue.
      if (!_shared.outbound)
        co_return refuse(info, "rcpt", 451, "4.7.1", "Outbound delivery is disabled on this server");
      if (p.address.domain.empty())
        co_return refuse(info, "rcpt", 501, "5.1.3", "Recipient address has no domain");
      rcpt.destination = std::string(remote_destination);
      co_return smtp::verdict::accept();
    }
    res = dir.resolve_recipient(address);
  }
  bool postmaster = p.postmaster || (res.status == resolve_status::unknown_user &&
                                     normalize_address(address).value_or("").starts_with("postmaster@"));
  if (postmaster && res.status != resolve_status::local) {
    // RFC 5321 4.5.1: postmaster must always be accepted.
    if (const account* pm = postmaster_account(dir, cfg)) {
      res.status = resolve_status::local;
      res.accounts = {pm->id};
    }
  }
  switch (res.status) {
    case resolve_status::local: break;
    case resolve_status::unknown_user:
    case resolve_status::invalid_address:
      co_return refuse(info, "rcpt", 550, "5.1.1", "Recipient address rejected: user unknown (" + address + ")");
    case resolve_status::alias_loop:
      co_return refuse(info, "rcpt", 550, "5.4.6", "Recipient address rejected: alias loop");
    case resolve_status::not_local_domain:
      co_return refuse(info, "rcpt", 554, "5.7.1", "Relay access denied");
  }

  // Quota: announced size (SIZE=) or nothing yet; the real size is checked
  // again at the end of data.
  uint64_t incoming = env.parameters.size.value_or(0);
  for (account_id id : res.accounts) {
    const account* acc = dir.find_account(id);
    if (!acc || (acc->quota_bytes == 0 && acc->quota_messages == 0)) continue;
    store::account_id sid = store_account(id);
    unsigned owner = _shared.store.owner_of(sid).get();
    store::message_store* st = &_shared.store;
    store::quota_usage usage;
    if (owner == _core) {
      usage = st->quota(sid);
    } else {
      usage = co_await kio::run_on(_shared.runtime.core(owner), [st, sid] { return st->quota(sid); });
    }
    if (auto v = quota_full(cfg, *acc, usage, incoming)) co_return refuse(info, "rcpt", v->code, v->enhanced, v->text);
  }
  if (info.listener != smtp::listener_kind::mx) {
    if (const account* sender = dir.find_account(info.authenticated)) {
      auto v = _shared.send_limits.try_acquire_recipients(sender->id, send_limits_for(*sender, cfg.limits), 1, wall_ms());
      if (!v.allowed) co_return rate_limited(info, *sender, v);
    }
  }
  rcpt.destination = encode_destination(res.accounts);
  // SIZE per domain: the address as written (an alias domain may have its own).
  if (!p.postmaster) rcpt.message_size_max = cfg.smtp.message_size_max_for(p.address.domain);
  co_return smtp::verdict::accept();
}

namespace {

// One delivery to make on an owner core.
struct delivery_item {
  account_id account;
  std::string header_prefix;
  std::string folder;  // "" = INBOX
};

struct owner_outcome {
  smtp::verdict decision;  // refused: the reply, nothing appended on this core
  std::vector<store::store_ticket> tickets;
  std::vector<std::pair<uint64_t, uint32_t>> changed;  // (account, mailbox) that got a message
};

// Phase 1 on an owner core: accounts exist, quotas allow the real size.
kio::task<smtp::verdict> prepare_on_owner(smtp_shared& shared, const std::vector<delivery_item>* items,
                                          uint64_t size) {
  unsigned core = kio::reactor::current()->id();
  std::shared_ptr<const directory> dir = shared.directories.get(core);
  std::shared_ptr<const config> cfg = shared.configs.get(core);
  for (const auto& item : *items) {
    const account* acc = dir->find_account(item.account);
    if (!acc) co_return smtp::verdict::refuse(450, "4.1.1", "Recipient account was removed; try again later");
    auto ok = co_await ensure_store_account(shared, core, *acc);
    if (!ok)
      co_return smtp::verdict::refuse(451, "4.3.0",
                                      std::string("Mailbox not available (store: ") + store::to_string(ok.error()) + ")");
    if (acc->quota_bytes || acc->quota_messages) {
      store::quota_usage usage = shared.store.quota(store_account(acc->id));
      if (auto v = quota_full(*cfg, *acc, usage, size + item.header_prefix.size())) co_return *v;
    }
  }
  co_return smtp::verdict::accept();
}

// On the owner core, after a delivery to `acc` is durable: the quota warning
// (issue 4), once per crossing of limits.quota_warning_percent. The flag in
// the directory makes it once across restarts; the core's quota_warned set
// covers the moment until the directory owner has published it. Usage that
// fell below the threshold again (the user deleted mail, the quota grew)
// clears both, so the next crossing warns again. The warning is one more
// blob and delivery on this core, outside the quota (it must always land),
// and costs the message that crossed one more group commit.
kio::task<void> quota_warning_after_delivery(smtp_shared& shared, unsigned core, const account& acc,
                                             const config& cfg) {
  if (acc.quota_bytes == 0) co_return;
  smtp_core_state& state = *shared.cores[core];
  store::account_id sid = store_account(acc.id);
  uint64_t usage = shared.store.quota(sid).used_bytes;
  uint32_t percent = cfg.limits.quota_warning_percent;
  if (clear_warning_flag(acc, usage, percent) ||
      (!acc.quota_warning_sent && state.quota_warned.count(acc.id.get()) &&
       check_quota(acc, usage, 0, percent) == quota_verdict::ok)) {
    state.quota_warned.erase(acc.id.get());
    if (acc.quota_warning_sent && shared.set_quota_warning_flag) shared.set_quota_warning_flag(acc.address, false);
    co_return;
  }
  if (acc.quota_warning_sent || state.quota_warned.count(acc.id.get())) co_return;
  // Over the threshold (warn), or over the quota itself after the quota
  // was lowered (full): either way the user should hear of it.
  if (check_quota(acc, usage, 0, percent) == quota_verdict::ok) co_return;
  state.quota_warned.insert(acc.id.get());

  std::string text = quota_warning_message(acc, usage, cfg.server.hostname, percent);
  store::blob_writer writer = shared.store.begin_blob(store::core_id{core});
  auto failed = [&](std::string_view why) {
    state.quota_warned.erase(acc.id.get());
    shared.log.error("quota_warning").kv("account", acc.address).kv("result", "failed").kv("error", why);
  };
  if (auto a = shared.store.append_chunk(writer, text); !a) {
    failed(store::to_string(a.error()));
    co_return;
  }
  auto blob = shared.store.finish_blob(writer);
  if (!blob) {
    failed(store::to_string(blob.error()));
    co_return;
  }
  auto flushed = co_await state.driver->flush(blob->ticket);
  if (!flushed) {
    failed(store::to_string(flushed.error()));
    co_return;
  }
  const auto* box = shared.store.find_mailbox(sid, "INBOX");
  if (!box) {
    failed("no INBOX");
    co_return;
  }
  store::delivery_request d;
  d.account = sid;
  d.mailbox = box->id;
  d.key = blob->key;
  d.header_prefix = "Delivered-To: " + acc.address + "\r\n";
  d.internal_date_ms = int64_t(wall_ms());
  d.ignore_quota = true;
  auto r = shared.store.append_delivery(d);
  if (!r) {
    failed(store::to_string(r.error()));
    co_return;
  }
  auto durable = co_await state.driver->flush(r->ticket);
  if (!durable) {
    failed(store::to_string(durable.error()));
    co_return;
  }
  if (shared.events) shared.events->changed(sid.get(), d.mailbox.get());
  if (shared.set_quota_warning_flag) shared.set_quota_warning_flag(acc.address, true);
  shared.stats.add(core, counter::quota_warnings);
  shared.log.warning("quota_warning")
      .kv("account", acc.address)
      .kv("used_bytes", usage)
      .kv("quota_bytes", acc.quota_bytes)
      .kv("percent", uint64_t(percent));
}

// The mailbox a delivery goes to. A filter's "Junk" is the account's
// special-use Junk folder whatever it is called now (a client may rename it
// or create its own with USE (\Junk), RFC 6154; IMAP's Junk training counts
// it so too), then a folder named Junk. INBOX when the folder is missing.
const store::index::mailbox_state* delivery_mailbox(const store::message_store& st, store::account_id account,
                                                    std::string_view folder) {
  if (folder == "Junk")
    if (const auto* acc = st.account(account))
      for (const auto& [id, box] : acc->mailboxes)
        if (box.use == store::special_use::junk) return &box;
  const auto* box = st.find_mailbox(account, folder.empty() ? "INBOX" : folder);
  return box ? box : st.find_mailbox(account, "INBOX");
}

// Phase 2 on an owner core: one delivery record per account, then the
// group commit that makes them durable.
kio::task<owner_outcome> deliver_on_owner(smtp_shared& shared, const std::vector<delivery_item>* items,
                                          store::blob_key key, uint64_t blob_size, const std::string* id,
                                          std::optional<store::store_ticket> blob_ticket) {
  unsigned core = kio::reactor::current()->id();
  owner_outcome out;
  // The blob is still in this core's group commit: a failed batch already
  // decided it (no delivery may then name it); a pending one fails every
  // record appended after it too, so the deliveries share its fate.
  if (blob_ticket && shared.store.state(*blob_ticket) == store::log::ticket_state::failed) {
    out.decision = smtp::verdict::refuse(451, "4.3.0", "Message not stored (store: batch failed)");
    co_return out;
  }
  struct made {
    const delivery_item* item;
    std::string folder;
    uint32_t uid;
  };
  std::vector<made> delivered;
  int64_t now = int64_t(wall_ms());
  for (const auto& item : *items) {
    store::account_id sid = store_account(item.account);
    const auto* box = delivery_mailbox(shared.store, sid, item.folder);
    if (!box) {
      out.decision = smtp::verdict::refuse(451, "4.3.0", "Mailbox not available (no INBOX)");
      break;
    }
    store::delivery_request d;
    d.account = sid;
    d.mailbox = box->id;
    d.key = key;
    // The blob is on the session's core and durable (flushed before this
    // hop): its size comes with it, so this core never reads that core's
    // catalog.
    d.blob_size = blob_size;
    d.header_prefix = item.header_prefix;
    d.internal_date_ms = now;
    // Quotas were decided in phase 1 with the appliance's policy.
    d.ignore_quota = true;
    auto r = shared.store.append_delivery(d);
    if (!r) {
      out.decision = smtp::verdict::refuse(451, "4.3.0", std::string("Delivery failed (store: ") +
                                                             store::to_string(r.error()) + ")");
      break;
    }
    out.tickets.push_back(r->ticket);
    delivered.push_back({&item, box->name, r->uid});
    out.changed.emplace_back(item.account.get(), box->id.get());
  }
  // Even after a failure, what was appended is flushed: a record is never
  // left pending for someone else's batch to decide.
  for (const auto& t : out.tickets) {
    auto flushed = co_await shared.cores[core]->driver->flush(t);
    if (!flushed && out.decision.ok)
      out.decision = smtp::verdict::refuse(451, "4.3.0", std::string("Delivery not durable (store: ") +
                                                             store::to_string(flushed.error()) + ")");
  }
  if (blob_ticket) {
    auto flushed = co_await shared.cores[core]->driver->flush(*blob_ticket);
    if (!flushed && out.decision.ok)
      out.decision = smtp::verdict::refuse(451, "4.3.0", std::string("Message not stored (store: ") +
                                                             store::to_string(flushed.error()) + ")");
  }
  // Durable now: wake the account's IMAP sessions (IDLE) wherever they are.
  if (out.decision.ok && shared.events)
    for (const auto& [account, mailbox] : out.changed) shared.events->changed(account, mailbox);
  if (out.decision.ok) {
    std::shared_ptr<const directory> dir = shared.directories.get(core);
    std::shared_ptr<const config> cfg = shared.configs.get(core);
    for (const auto& d : delivered) {
      const account* acc = dir->find_account(d.item->account);
      shared.log.info("delivery")
          .kv("id", *id)
          .kv("account", acc ? acc->address : std::to_string(d.item->account.get()))
          .kv("mailbox", d.folder)
          .kv("uid", uint64_t(d.uid));
    }
    for (const auto& item : *items)
      if (const account* acc = dir->find_account(item.account))
        co_await quota_warning_after_delivery(shared, core, *acc, *cfg);
  }
  co_return out;
}

constexpr std::pair<smtp::dsn_notify, std::string_view> notify_names[] = {
    {smtp::dsn_notify::success, "SUCCESS"}, {smtp::dsn_notify::failure, "FAILURE"}, {smtp::dsn_notify::delay, "DELAY"}};

// On the queue's core: the queue record, its group commit, then a wake-up.
kio::task<smtp::verdict> queue_on_core(smtp_shared& shared, const outbound::envelope* env, store::blob_key key) {
  unsigned core = kio::reactor::current()->id();
  auto t = shared.outbound->append(*env, key);
  if (!t)
    co_return smtp::verdict::refuse(451, "4.3.0", std::string("Message not queued (store: ") +
                                                      store::to_string(t.error()) + ")");
  auto flushed = co_await shared.cores[core]->driver->flush(*t);
  if (!flushed)
    co_return smtp::verdict::refuse(451, "4.3.0", std::string("Message not queued (store: ") +
                                                      store::to_string(flushed.error()) + ")");
  shared.outbound->wake();
  co_return smtp::verdict::accept();
}

class store_sink final : public smtp::message_sink {
 public:
  store_sink(smtp_shared& shared, unsigned core, std::string id, bool reject_nul)
      : _shared(shared),
        _core(core),
        _id(std::move(id)),
        _reject_nul(reject_nul),
        _writer(shared.store.begin_blob(store::core_id{core})) {}

  kio::task<smtp::verdict> write(std::span<const std::byte> content) override {
    // RFC 5322 text has no NUL; stores and clients downstream (C strings,
    // IMAP literals) disagree about what one means. The decoder only records
    // NULs, so the policy lives here, where every content byte passes.
    if (_reject_nul && std::memchr(content.data(), 0, content.size()) != nullptr)
      co_return smtp::verdict::refuse(554, "5.6.0", "Message contains NUL bytes; not accepted");
    auto r = _shared.store.append_chunk(
        *_writer, std::string_view(reinterpret_cast<const char*>(content.data()), content.size()));
    if (!r) {
      if (r.error() == store::errc::no_space)
        co_return smtp::verdict::refuse(452, "4.3.1", "Insufficient system storage");
      if (r.error() == store::errc::too_large)
        co_return smtp::verdict::refuse(552, "5.3.4", "Message size exceeds the store's maximum");
      co_return smtp::verdict::refuse(451, "4.3.0", std::string("Local error in processing (store: ") +
                                                        store::to_string(r.error()) + ")");
    }
    co_return smtp::verdict::accept();
  }

  kio::task<smtp::verdict> commit(const commit_request& request) override;

  void abort() override {
    // The chunks already framed stay in the log as garbage without a commit
    // record: invisible, and compaction reclaims them.
    if (_writer) {
      _shared.log.info("message_aborted").kv("id", _id).kv("size", _writer->size());
      _writer.reset();
    }
  }

 private:
  smtp_shared& _shared;
  unsigned _core;
  std::string _id;
  bool _reject_nul;
  std::optional<store::blob_writer> _writer;
};

// Runs `make()` (a task) on core `target` and resumes here with its result.
template <class T, class Make>
kio::task<T> on_core(smtp_shared& shared, unsigned target, Make make) {
  if (target == kio::reactor::current()->id()) {
    T v = co_await make();
    co_return v;
  }
  T v = co_await remote_task<T, Make>(shared.runtime.core(target), std::move(make));
  co_return v;
}

kio::task<smtp::verdict> store_sink::commit(const commit_request& request) {
  if (!_writer) co_return smtp::verdict::refuse(451, "4.3.0", "Local error in processing (no message)");
  store::blob_writer writer = std::move(*_writer);
  _writer.reset();
  uint64_t size = writer.size();
  auto finished = _shared.store.finish_blob(writer);
  if (!finished)
    co_return smtp::verdict::refuse(451, "4.3.0", std::string("Local error in processing (store: ") +
                                                      store::to_string(finished.error()) + ")");
  store::stored_blob blob = *finished;

  // Distinct accounts, grouped by owner core; the first recipient address
  // that reached an account is its Delivered-To.
  std::string_view extra = request.filter ? std::string_view(request.filter->added_headers) : std::string_view();
  std::string folder = request.filter ? request.filter->folder : std::string();
  std::vector<std::vector<delivery_item>> by_core(_shared.runtime.cores());
  std::vector<uint64_t> seen;
  size_t deliveries = 0;
  for (const auto& rcpt : request.env.recipients) {
    for (uint64_t id : decode_destination(rcpt.destination)) {
      if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
      seen.push_back(id);
      unsigned owner = _shared.store.owner_of(store::account_id{id}).get();
      std::string prefix = "Delivered-To: ";
      prefix += rcpt.address.postmaster ? std::string("postmaster") : smtp::format_mailbox(rcpt.address.address);
      prefix += "\r\n";
      prefix += request.trace_headers;
      prefix += extra;
      by_core[owner].push_back({account_id{id}, std::move(prefix), folder});
      ++deliveries;
    }
  }
  outbound::envelope queued;
  for (const auto& rcpt : request.env.recipients) {
    if (rcpt.destination != remote_destination) continue;
    outbound::queued_recipient q;
    q.address = smtp::format_mailbox(rcpt.address.address);
    using smtp::dsn_notify;
    if (rcpt.dsn.notify == dsn_notify::never) {
      q.notify = "NEVER";
    } else if (rcpt.dsn.notify != dsn_notify::unspecified) {
      for (const auto& [flag, name] : notify_names)
        if (smtp::has_notify(rcpt.dsn.notify, flag)) q.notify += (q.notify.empty() ? "" : ",") + std::string(name);
    }
    if (rcpt.dsn.orcpt_address) q.orcpt = rcpt.dsn.orcpt_type.value_or("rfc822") + ";" + *rcpt.dsn.orcpt_address;
    queued.recipients.push_back(std::move(q));
  }
  if (deliveries == 0 && queued.recipients.empty())
    co_return smtp::verdict::refuse(554, "5.5.1", "No valid recipients");

  // Every delivery on this core and nothing to queue: the deliveries join
  // the blob's group commit, after it in the same log, so one batch (one
  // fdatasync) makes both durable, and a failed batch fails both. Recovery
  // expunges a delivery whose blob did not survive a torn write (never
  // acknowledged: 250 waits for the batch). Otherwise the blob is made
  // durable first: another core's log gives no such ordering.
  bool same_core = queued.recipients.empty();
  for (unsigned core = 0; core < by_core.size(); ++core)
    if (core != _core && !by_core[core].empty()) same_core = false;
  if (!same_core) {
    auto flushed = co_await _shared.cores[_core]->driver->flush(blob.ticket);
    if (!flushed)
      co_return smtp::verdict::refuse(451, "4.3.0", std::string("Message not stored (store: ") +
                                                        store::to_string(flushed.error()) + ")");
  }

  // Phase 1 everywhere before phase 2 anywhere, so a full mailbox or a
  // store error refuses the message before any copy becomes visible.
  for (unsigned core = 0; core < by_core.size(); ++core) {
    if (by_core[core].empty()) continue;
    const std::vector<delivery_item>* items = &by_core[core];
    smtp_shared* shared = &_shared;
    smtp::verdict v = co_await on_core<smtp::verdict>(
        _shared, core, [shared, items, size] { return prepare_on_owner(*shared, items, size); });
    if (!v.ok) {
      _shared.stats.add(_core, counter::rejections);
      _shared.log.info("rejection")
          .kv("session", request.info.session_id)
          .kv("id", _id)
          .kv("stage", "data")
          .kv("code", unsigned(v.code))
          .kv("reason", v.text);
      co_return v;
    }
  }
  for (unsigned core = 0; core < by_core.size(); ++core) {
    if (by_core[core].empty()) continue;
    const std::vector<delivery_item>* items = &by_core[core];
    smtp_shared* shared = &_shared;
    store::blob_key key = blob.key;
    uint64_t blob_size = blob.size;
    const std::string* id = &_id;
    std::optional<store::store_ticket> pending_blob;
    if (same_core) pending_blob = blob.ticket;
    owner_outcome o = co_await on_core<owner_outcome>(_shared, core, [shared, items, key, blob_size, id, pending_blob] {
      return deliver_on_owner(*shared, items, key, blob_size, id, pending_blob);
    });
    if (!o.decision.ok) {
      _shared.log.error("delivery_failed")
          .kv("session", request.info.session_id)
          .kv("id", _id)
          .kv("reason", o.decision.text);
      co_return o.decision;
    }
  }
  if (!queued.recipients.empty()) {
    // Remote recipients: one queue record on the queue's core, durable
    // before the 250 (the blob already is).
    std::shared_ptr<const directory> dir = _shared.directories.get(_core);
    const account* submitter = dir->find_account(request.info.authenticated);
    queued.id = _id;
    queued.sender = request.env.sender.null ? std::string() : smtp::format_mailbox(request.env.sender.address);
    queued.account = submitter ? submitter->id.get() : 0;
    queued.created_ms = wall_ms();
    queued.ret = request.env.parameters.ret == smtp::dsn_return::full      ? "FULL"
                 : request.env.parameters.ret == smtp::dsn_return::headers ? "HDRS"
                                                                            : "";
    queued.envid = request.env.parameters.envid.value_or("");
    queued.eight_bit = request.env.parameters.body == smtp::body_type::eight_bit_mime;
    queued.smtputf8 = request.env.parameters.smtputf8;
    // Return-Path is added by the final delivery (RFC 5321 §4.4), never sent on.
    std::string_view trace = request.trace_headers;
    if (trace.starts_with("Return-Path:")) {
      size_t end = trace.find("\r\n");
      trace.remove_prefix(end == std::string_view::npos ? trace.size() : end + 2);
    }
    queued.trace_headers = std::string(trace);
    queued.trace_headers += extra;
    smtp_shared* shared = &_shared;
    const outbound::envelope* env = &queued;
    store::blob_key key = blob.key;
    smtp::verdict v = co_await on_core<smtp::verdict>(_shared, _shared.outbound_core,
                                                      [shared, env, key] { return queue_on_core(*shared, env, key); });
    if (!v.ok) {
      _shared.log.error("queue_failed").kv("session", request.info.session_id).kv("id", _id).kv("reason", v.text);
      co_return v;
    }
    _shared.log.info("message_queued")
        .kv("id", _id)
        .kv("from", queued.sender)
        .kv("recipients", uint64_t(queued.recipients.size()));
  }
  _shared.stats.add(_core, counter::messages_accepted);
  _shared.stats.add(_core, counter::message_bytes_accepted, size);
  _shared.stats.add(_core, counter::deliveries, deliveries);
  _shared.stats.observe(_core, histogram::message_size_bytes, size);
  _shared.log.info("message_accepted")
      .kv("id", _id)
      .kv("session", request.info.session_id)
      .kv("listener", smtp::listener_name(request.info.listener))
      .kv("size", size)
      .kv("recipients", uint64_t(request.env.recipients.size()))
      .kv("deliveries", uint64_t(deliveries))
      .kv("blob", blob.key.to_hex())
      .kv("deduplicated", blob.deduplicated)
      .fields(request.filter ? std::string_view(request.filter->log_fields) : std::string_view());
  co_return smtp::verdict{true, 250, "2.0.0", "Ok: queued as " + _id};
}

}  // namespace

std::unique_ptr<smtp::inbound_filter> smtp_services::open_filter(const smtp::session_info& info,
                                                                 const smtp::envelope& env) {
  if (info.listener != smtp::listener_kind::mx) return nullptr;
  std::shared_ptr<const config> cfg = _shared.configs.get(_core);
  // The spam filter runs inside the message-authentication filter when
  // that is on (it is handed the Authentication-Results), alone otherwise.
  std::unique_ptr<smtp::inbound_filter> spam;
  if (cfg->spam.enabled && _shared.spam && _shared.spam->active()) {
    // The reference a sender quotes from a 550: the id open_message() just
    // gave this message (it is called first).
    char ref[96];
    std::snprintf(ref, sizeof ref, "%s.m%llu", info.session_id.c_str(),
                  static_cast<unsigned long long>(_shared.cores[_core]->messages_started));
    spam = std::make_unique<spam_inline_filter>(*_shared.spam, cfg->spam, env, _shared.log, ref);
  }
  ring_dns* dns = _shared.cores[_core]->msgauth_dns.get();
  if (!_shared.msgauth || !cfg->msgauth.verify_inbound || !dns) return spam;
  return std::make_unique<auth_filter>(*_shared.msgauth, *dns, std::move(cfg), _shared.log, info, env, std::move(spam));
}

std::unique_ptr<smtp::message_sink> smtp_services::open_message(const smtp::session_info& info,
                                                                const smtp::envelope&) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s.m%llu", info.session_id.c_str(),
                static_cast<unsigned long long>(++_shared.cores[_core]->messages_started));
  return std::make_unique<store_sink>(_shared, _core, buf, _shared.configs.get(_core)->smtp.reject_nul);
}

}  // namespace appliance
