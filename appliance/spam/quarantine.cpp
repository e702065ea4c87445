#include "appliance/spam/quarantine.h"

#include <charconv>
#include <ctime>

#include "appliance/accounts/directory.h"
#include "protocols/mime/encoded_word.h"
#include "kernel_io/ring/reactor.h"
#include "protocols/mime/header.h"

namespace appliance {
namespace {

// A Junk folder: the special-use one and everything under it ("Junk/Phish").
bool is_junk(const imap::mailbox_info& m, std::string_view junk_root) {
  if (m.use == imap::special_use::junk) return true;
  return !junk_root.empty() && m.name.size() > junk_root.size() && m.name.compare(0, junk_root.size(), junk_root) == 0 &&
         m.name[junk_root.size()] == '/';
}

// The name of the account's special-use Junk folder ("" if it has none).
std::string junk_root_of(const std::vector<imap::mailbox_info>& boxes) {
  for (const auto& m : boxes)
    if (m.use == imap::special_use::junk) return m.name;
  return {};
}

std::string header_text(const mime::header_block& h, std::string_view name) {
  const mime::header_field* f = h.find(name);
  if (!f) return {};
  std::string text = mime::decode_header_value(f->unfolded_value());
  for (char& c : text)
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  if (text.size() > 200) text.resize(200);
  return text;
}

std::string utc_time(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct quarantined {
  std::string account, mailbox, from, subject, spam_status;
  uint32_t uid = 0;
  uint64_t size = 0;
  int64_t date_ms = 0;
};

// One account's Junk folders, newest first, at most `limit` messages.
kio::task<imap::service_result<std::vector<quarantined>>> list_account(account_mailboxes& mb, const account& acc,
                                                                        size_t limit) {
  std::vector<quarantined> out;
  auto boxes = co_await mb.list();
  if (!boxes) co_return kio::fail(boxes.error());
  const std::string junk_root = junk_root_of(*boxes);
  for (const auto& m : *boxes) {
    if (!is_junk(m, junk_root)) continue;
    auto snap = co_await mb.select(m.name);
    if (!snap) co_return kio::fail(snap.error());
    for (auto it = snap->messages.rbegin(); it != snap->messages.rend() && out.size() < limit; ++it) {
      if (it->flags & imap::message_flag::deleted) continue;
      auto bytes = co_await mb.read_message(m.name, it->uid);
      if (!bytes) continue;  // expunged meanwhile
      mime::header_block h = mime::parse_header_block(*bytes);
      quarantined q;
      q.account = acc.address;
      q.mailbox = m.name;
      q.uid = it->uid;
      q.size = it->size_bytes;
      q.date_ms = it->internal_date_ms;
      q.from = header_text(h, "From");
      q.subject = header_text(h, "Subject");
      q.spam_status = header_text(h, "X-Spam-Status");
      out.push_back(std::move(q));
    }
  }
  co_return out;
}

std::string render(const std::vector<quarantined>& all, bool json) {
  std::string out;
  if (json) {
    out = "[";
    for (size_t i = 0; i < all.size(); ++i) {
      const auto& q = all[i];
      out += std::string(i ? "," : "") + "{\"account\":" + json_quote(q.account) + ",\"mailbox\":" +
             json_quote(q.mailbox) + ",\"uid\":" + std::to_string(q.uid) + ",\"size\":" + std::to_string(q.size) +
             ",\"date\":" + json_quote(utc_time(q.date_ms)) + ",\"from\":" + json_quote(q.from) +
             ",\"subject\":" + json_quote(q.subject) + ",\"spam_status\":" + json_quote(q.spam_status) + "}";
    }
    return out + "]\n";
  }
  if (all.empty()) return "no quarantined messages\n";
  for (const auto& q : all)
    out += q.account + " " + q.mailbox + " uid " + std::to_string(q.uid) + "  " + utc_time(q.date_ms) + "  " +
           std::to_string(q.size) + " bytes  from " + q.from + "  \"" + q.subject + "\"" +
           (q.spam_status.empty() ? "" : "  [" + q.spam_status + "]") + "\n";
  return out;
}

}  // namespace

kio::task<admin_response> run_quarantine_command(imap_shared& shared, const directory& dir,
                                                 const admin_request& request) {
  const unsigned core = kio::reactor::current()->id();
  size_t limit = 100;
  if (request.has("limit")) {
    const std::string& l = request.arg("limit");
    auto [p, ec] = std::from_chars(l.data(), l.data() + l.size(), limit);
    if (ec != std::errc{} || p != l.data() + l.size() || limit == 0)
      co_return admin_failure(request, "--limit wants a positive number, not \"" + l + "\"");
  }
  std::vector<const account*> accounts;
  if (request.has("account") && !request.arg("account").empty()) {
    const account* acc = dir.find_account(request.arg("account"));
    if (!acc) co_return admin_failure(request, "no account " + request.arg("account"));
    accounts.push_back(acc);
  } else if (request.verb == "quarantine.list") {
    for (const auto& [address, a] : dir.data().accounts) accounts.push_back(&a);
  } else {
    co_return admin_failure(request, "which account? (--account ADDRESS)");
  }

  if (request.verb == "quarantine.list") {
    std::vector<quarantined> all;
    for (const account* acc : accounts) {
      if (all.size() >= limit) break;
      account_mailboxes mb(shared, core, acc->id, acc->address);
      auto got = co_await list_account(mb, *acc, limit - all.size());
      // An account the store has not seen yet (no mail, no login) has no
      // folders, so nothing in quarantine.
      if (!got && got.error().text == "Account not ready") continue;
      if (!got) co_return admin_failure(request, acc->address + ": " + got.error().text);
      for (auto& q : *got) all.push_back(std::move(q));
    }
    admin_response r;
    r.out = render(all, request.json);
    co_return r;
  }

  // release / delete: one message of one Junk folder.
  const account& acc = *accounts.front();
  uint32_t uid = 0;
  const std::string& u = request.arg("uid");
  auto [p, ec] = std::from_chars(u.data(), u.data() + u.size(), uid);
  if (ec != std::errc{} || p != u.data() + u.size() || uid == 0)
    co_return admin_failure(request, "a message is named by its UID (a positive number), not \"" + u + "\"");
  account_mailboxes mb(shared, core, acc.id, acc.address);
  auto boxes = co_await mb.list();
  if (!boxes) co_return admin_failure(request, boxes.error().text);
  const std::string junk_root = junk_root_of(*boxes);
  std::string mailbox = request.arg("mailbox");
  if (mailbox.empty()) mailbox = junk_root;
  bool found = false;
  for (const auto& m : *boxes) found = found || (m.name == mailbox && is_junk(m, junk_root));
  if (!found) co_return admin_failure(request, acc.address + " has no Junk folder \"" + mailbox + "\"");
  auto snap = co_await mb.select(mailbox);
  if (!snap) co_return admin_failure(request, snap.error().text);
  found = false;
  for (const auto& m : snap->messages) found = found || m.uid == uid;
  if (!found) co_return admin_failure(request, "no message with UID " + u + " in " + acc.address + " " + mailbox);
  const uint32_t uids[1] = {uid};
  admin_response r;
  if (request.verb == "quarantine.release") {
    // A move like an IMAP client's: durable before the reply, and a training
    // event (this message is ham) for the account's token store.
    auto moved = co_await mb.copy(mailbox, uids, "INBOX", true);
    if (!moved) co_return admin_failure(request, moved.error().text);
    if (moved->target_uids.empty()) co_return admin_failure(request, "UID " + u + " was expunged meanwhile");
    r.out = request.json ? "{\"inbox_uid\":" + std::to_string(moved->target_uids.front()) + "}\n"
                         : "released into INBOX as UID " + std::to_string(moved->target_uids.front()) + "\n";
  } else if (request.verb == "quarantine.delete") {
    imap::flags_change mark;
    mark.flags = imap::message_flag::deleted;
    auto marked = co_await mb.store_flags(mailbox, uids, mark);
    if (!marked) co_return admin_failure(request, marked.error().text);
    auto gone = co_await mb.expunge(mailbox, uids);
    if (!gone) co_return admin_failure(request, gone.error().text);
    r.out = request.json ? "{\"deleted\":true}\n" : "deleted\n";
  } else {
    co_return admin_failure(request, "unknown quarantine command " + request.verb);
  }
  shared.base.log.info("admin").kv("command", request.verb).kv("account", acc.address).kv("mailbox", mailbox).kv("uid", uid);
  co_return r;
}

}  // namespace appliance
