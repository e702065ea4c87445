#include "store/index/mailbox_index.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "kernel_io/base/assert.h"
#include "store/format/codec.h"

namespace store::index {
namespace {

std::vector<std::string> normalized(std::vector<std::string> kws) {
  std::sort(kws.begin(), kws.end());
  kws.erase(std::unique(kws.begin(), kws.end()), kws.end());
  return kws;
}

}  // namespace

const account_state* index_state::account(account_id id) const {
  auto it = _accounts.find(id);
  return it == _accounts.end() ? nullptr : &it->second;
}
account_state* index_state::account(account_id id) {
  auto it = _accounts.find(id);
  return it == _accounts.end() ? nullptr : &it->second;
}
const mailbox_state* index_state::mailbox(account_id a, mailbox_id m) const {
  const auto* acct = account(a);
  if (!acct) return nullptr;
  auto it = acct->mailboxes.find(m.get());
  return it == acct->mailboxes.end() ? nullptr : &it->second;
}
mailbox_state* index_state::mailbox(account_id a, mailbox_id m) {
  auto* acct = account(a);
  if (!acct) return nullptr;
  auto it = acct->mailboxes.find(m.get());
  return it == acct->mailboxes.end() ? nullptr : &it->second;
}
const mailbox_state* index_state::find_mailbox(account_id a, std::string_view name) const {
  const auto* acct = account(a);
  if (!acct) return nullptr;
  for (const auto& [id, box] : acct->mailboxes)
    if (box.name == name) return &box;
  return nullptr;
}

std::vector<std::uint32_t> mailbox_state::changed_since(std::uint64_t modseq) const {
  std::vector<std::uint32_t> uids;
  if (modseq >= highest_modseq) return uids;
  if (!_change_log_sorted) {
    for (const auto& [uid, m] : messages)
      if (m.modseq > modseq) uids.push_back(uid);
    return uids;
  }
  auto first = std::upper_bound(_change_log.begin(), _change_log.end(), modseq,
                                [](std::uint64_t ms, const auto& entry) { return ms < entry.first; });
  // A stale entry of a message still here is harmless: its modseq only
  // grows, so its latest change is above `modseq` too (and deduplicated).
  for (auto it = first; it != _change_log.end(); ++it)
    if (messages.count(it->second)) uids.push_back(it->second);
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  return uids;
}

void mailbox_state::note_change(std::uint32_t uid, std::uint64_t modseq) {
  if (!_change_log.empty() && modseq < _change_log.back().first) _change_log_sorted = false;
  _change_log.emplace_back(modseq, uid);
  if (_change_log.size() > 2 * messages.size() + 64) rebuild_change_log();
}

void mailbox_state::rebuild_change_log() {
  _change_log.clear();
  _change_log.reserve(messages.size());
  for (const auto& [uid, m] : messages) _change_log.emplace_back(m.modseq, uid);
  std::sort(_change_log.begin(), _change_log.end());
  _change_log_sorted = true;
}

void index_state::anomaly(std::string what) { _anomalies.push_back({std::move(what)}); }

void index_state::add_message(account_state& acct, mailbox_state& box, message_entry entry) {
  acct.used_bytes += entry.size;
  acct.used_messages += 1;
  _refs[entry.key] += 1;
  box.uid_next = std::max(box.uid_next, entry.uid + 1);
  box.uid_reserved = std::max(box.uid_reserved, box.uid_next);
  box.highest_modseq = std::max(box.highest_modseq, entry.modseq);
  box.modseq_reserved = std::max(box.modseq_reserved, box.highest_modseq);
  const std::uint32_t uid = entry.uid;
  const std::uint64_t modseq = entry.modseq;
  box.messages.emplace(uid, std::move(entry));
  box.note_change(uid, modseq);
}

void index_state::remove_message(account_state& acct, mailbox_state& box, std::uint32_t uid, std::uint64_t modseq) {
  auto it = box.messages.find(uid);
  if (it == box.messages.end()) return;  // expunged twice (two sessions): harmless
  RM_ASSERT(acct.used_bytes >= it->second.size && acct.used_messages > 0);
  acct.used_bytes -= it->second.size;
  acct.used_messages -= 1;
  auto ref = _refs.find(it->second.key);
  RM_ASSERT(ref != _refs.end() && ref->second > 0);
  if (--ref->second == 0) _refs.erase(ref);
  box.messages.erase(it);
  box.expunged.emplace_back(uid, modseq);
}

void index_state::apply(const format::record_payload& record) {
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, format::blob_commit_record>) {
          // Blobs are the blob catalog's business, not the index's.
        } else if constexpr (std::is_same_v<T, format::account_create_record>) {
          if (_accounts.count(r.account)) return anomaly("account created twice: " + r.name);
          account_state a;
          a.id = r.account;
          a.name = r.name;
          a.quota_bytes = r.quota_bytes;
          a.quota_messages = r.quota_messages;
          _accounts.emplace(r.account, std::move(a));
        } else if constexpr (std::is_same_v<T, format::account_quota_record>) {
          auto* a = account(r.account);
          if (!a) return anomaly("quota for unknown account");
          a->quota_bytes = r.quota_bytes;
          a->quota_messages = r.quota_messages;
        } else if constexpr (std::is_same_v<T, format::folder_create_record>) {
          auto* a = account(r.account);
          if (!a) return anomaly("folder for unknown account: " + r.name);
          if (a->mailboxes.count(r.mailbox.get()) || r.mailbox.get() < a->mailbox_next)
            return anomaly("mailbox id reused: " + r.name);
          mailbox_state box;
          box.id = r.mailbox;
          box.name = r.name;
          box.uid_validity = r.uid_validity;
          box.use = r.use;
          a->mailbox_next = r.mailbox.get() + 1;
          a->mailbox_reserved = std::max(a->mailbox_reserved, a->mailbox_next);
          a->uid_validity_last = std::max(a->uid_validity_last, r.uid_validity);
          a->mailboxes.emplace(r.mailbox.get(), std::move(box));
        } else if constexpr (std::is_same_v<T, format::folder_rename_record>) {
          auto* box = mailbox(r.account, r.mailbox);
          if (!box) return anomaly("rename of unknown mailbox");
          box->name = r.name;
        } else if constexpr (std::is_same_v<T, format::folder_delete_record>) {
          auto* a = account(r.account);
          auto* box = mailbox(r.account, r.mailbox);
          if (!box) return anomaly("delete of unknown mailbox");
          while (!box->messages.empty()) remove_message(*a, *box, box->messages.begin()->first, box->highest_modseq);
          a->mailboxes.erase(r.mailbox.get());
        } else if constexpr (std::is_same_v<T, format::folder_subscribe_record>) {
          auto* box = mailbox(r.account, r.mailbox);
          if (!box) return anomaly("subscribe of unknown mailbox");
          box->subscribed = r.subscribed;
        } else if constexpr (std::is_same_v<T, format::delivery_record>) {
          auto* a = account(r.account);
          auto* box = mailbox(r.account, r.mailbox);
          if (!box) return anomaly("delivery to unknown mailbox");
          // UIDs only grow: a delivery below uid_next would reuse a UID.
          if (r.uid < box->uid_next) return anomaly("delivery reuses uid " + std::to_string(r.uid));
          message_entry e;
          e.uid = r.uid;
          e.key = r.key;
          e.blob_size = r.blob_size;
          e.size = r.blob_size + r.header_prefix.size();
          e.internal_date_ms = r.internal_date_ms;
          e.flags = r.flags & message_flag::all;
          e.keywords = normalized(r.keywords);
          e.modseq = r.modseq;
          e.header_prefix = r.header_prefix;
          add_message(*a, *box, std::move(e));
        } else if constexpr (std::is_same_v<T, format::flags_change_record>) {
          auto* box = mailbox(r.account, r.mailbox);
          if (!box) return anomaly("flags on unknown mailbox");
          const auto kws = normalized(r.keywords);
          for (auto uid : r.uids) {
            auto it = box->messages.find(uid);
            if (it == box->messages.end()) continue;  // expunged meanwhile
            auto& m = it->second;
            switch (r.op) {
              case format::flags_op::add: {
                m.flags |= r.flags & message_flag::all;
                std::vector<std::string> merged;
                std::set_union(m.keywords.begin(), m.keywords.end(), kws.begin(), kws.end(), std::back_inserter(merged));
                m.keywords = std::move(merged);
                break;
              }
              case format::flags_op::remove: {
                m.flags &= ~r.flags;
                std::vector<std::string> rest;
                std::set_difference(m.keywords.begin(), m.keywords.end(), kws.begin(), kws.end(), std::back_inserter(rest));
                m.keywords = std::move(rest);
                break;
              }
              case format::flags_op::replace:
                m.flags = r.flags & message_flag::all;
                m.keywords = kws;
                break;
            }
            if (r.modseq > m.modseq) {
              m.modseq = r.modseq;
              box->note_change(uid, r.modseq);
            }
          }
          box->highest_modseq = std::max(box->highest_modseq, r.modseq);
          box->modseq_reserved = std::max(box->modseq_reserved, box->highest_modseq);
        } else if constexpr (std::is_same_v<T, format::expunge_record>) {
          auto* a = account(r.account);
          auto* box = mailbox(r.account, r.mailbox);
          if (!box) return anomaly("expunge on unknown mailbox");
          for (auto uid : r.uids) remove_message(*a, *box, uid, r.modseq);
          box->highest_modseq = std::max(box->highest_modseq, r.modseq);
          box->modseq_reserved = std::max(box->modseq_reserved, box->highest_modseq);
        } else if constexpr (std::is_same_v<T, format::move_record>) {
          auto* a = account(r.account);
          auto* source = mailbox(r.account, r.source);
          auto* target = mailbox(r.account, r.target);
          if (!source || !target || source == target) return anomaly("move between unknown mailboxes");
          for (auto [from, to] : r.uids) {
            auto it = source->messages.find(from);
            if (it == source->messages.end()) continue;
            if (to < target->uid_next) {
              anomaly("move reuses uid " + std::to_string(to));
              continue;
            }
            message_entry e = it->second;
            remove_message(*a, *source, from, r.source_modseq);
            e.uid = to;
            e.modseq = r.target_modseq;
            add_message(*a, *target, std::move(e));
          }
          source->highest_modseq = std::max(source->highest_modseq, r.source_modseq);
          source->modseq_reserved = std::max(source->modseq_reserved, source->highest_modseq);
          target->highest_modseq = std::max(target->highest_modseq, r.target_modseq);
          target->modseq_reserved = std::max(target->modseq_reserved, target->highest_modseq);
        }
      },
      record);
}

std::string index_state::dump() const {
  std::ostringstream o;
  for (const auto& [id, a] : _accounts) {
    o << "account " << id.get() << ' ' << a.name << " quota " << a.quota_bytes << '/' << a.quota_messages << " used "
      << a.used_bytes << '/' << a.used_messages << " mailbox_next " << a.mailbox_next << '\n';
    for (const auto& [mid, b] : a.mailboxes) {
      o << " mailbox " << mid << ' ' << b.name << " validity " << b.uid_validity << " uidnext " << b.uid_next
        << " hms " << b.highest_modseq << " use " << int(b.use) << " sub " << b.subscribed << '\n';
      for (const auto& [uid, m] : b.messages) {
        o << "  " << uid << ' ' << m.key.to_hex() << ' ' << m.size << ' ' << m.internal_date_ms << ' ' << m.flags
          << ' ' << m.modseq;
        for (const auto& k : m.keywords) o << ' ' << k;
        o << " prefix " << m.header_prefix.size() << '\n';
      }
      o << "  expunged";
      for (auto [uid, ms] : b.expunged) o << ' ' << uid << ':' << ms;
      o << '\n';
    }
  }
  return o.str();
}

// Checkpoint body. Compatibility: versioned by the checkpoint file header
// (store/checkpoint.cpp); a reader refuses a body it cannot fully decode and
// falls back to a full replay.
std::string index_state::serialize() const {
  std::string out;
  format::byte_writer w(out);
  w.u32(static_cast<std::uint32_t>(_accounts.size()));
  for (const auto& [id, a] : _accounts) {
    w.u64(id.get());
    w.str(a.name);
    w.u64(a.quota_bytes);
    w.u64(a.quota_messages);
    w.u32(a.mailbox_next);
    w.u32(a.uid_validity_last);
    w.u32(static_cast<std::uint32_t>(a.mailboxes.size()));
    for (const auto& [mid, b] : a.mailboxes) {
      w.u32(mid);
      w.str(b.name);
      w.u32(b.uid_validity);
      w.u32(b.uid_next);
      w.u64(b.highest_modseq);
      w.u8(static_cast<std::uint8_t>(b.use));
      w.u8(b.subscribed ? 1 : 0);
      w.u32(static_cast<std::uint32_t>(b.messages.size()));
      for (const auto& [uid, m] : b.messages) {
        // Reuse the delivery encoding: one definition of a message on disk.
        format::delivery_record d;
        d.account = id;
        d.mailbox = b.id;
        d.uid = uid;
        d.modseq = m.modseq;
        d.key = m.key;
        d.blob_size = m.blob_size;
        d.internal_date_ms = m.internal_date_ms;
        d.flags = m.flags;
        d.keywords = m.keywords;
        d.header_prefix = m.header_prefix;
        w.str(format::encode_payload(d));
      }
      w.u32(static_cast<std::uint32_t>(b.expunged.size()));
      for (auto [uid, ms] : b.expunged) {
        w.u32(uid);
        w.u64(ms);
      }
    }
  }
  return out;
}

std::optional<index_state> index_state::deserialize(std::string_view bytes) {
  index_state s;
  format::byte_reader r(bytes);
  std::uint32_t accounts = 0;
  if (!r.u32(accounts)) return std::nullopt;
  for (std::uint32_t i = 0; i < accounts; ++i) {
    std::uint64_t id = 0;
    std::uint32_t boxes = 0;
    format::account_create_record c;
    if (!r.u64(id) || !r.str(c.name, format::name_max) || !r.u64(c.quota_bytes) || !r.u64(c.quota_messages))
      return std::nullopt;
    c.account = account_id{id};
    s.apply(c);
    auto* a = s.account(c.account);
    if (!a || !r.u32(a->mailbox_next) || !r.u32(a->uid_validity_last) || !r.u32(boxes)) return std::nullopt;
    a->mailbox_reserved = a->mailbox_next;
    for (std::uint32_t j = 0; j < boxes; ++j) {
      mailbox_state b;
      std::uint32_t mid = 0, count = 0;
      std::uint8_t use = 0, sub = 0;
      if (!r.u32(mid) || !r.str(b.name, format::name_max) || !r.u32(b.uid_validity) || !r.u32(b.uid_next) ||
          !r.u64(b.highest_modseq) || !r.u8(use) || !r.u8(sub) || !r.u32(count) || use > 6)
        return std::nullopt;
      b.id = mailbox_id{mid};
      b.use = static_cast<special_use>(use);
      b.subscribed = sub != 0;
      auto [it, fresh] = a->mailboxes.emplace(mid, std::move(b));
      if (!fresh) return std::nullopt;
      auto& box = it->second;
      const std::uint32_t uid_next = box.uid_next;
      const std::uint64_t hms = box.highest_modseq;
      box.uid_next = 1;
      for (std::uint32_t k = 0; k < count; ++k) {
        std::string payload;
        if (!r.str(payload, format::record_payload_max)) return std::nullopt;
        auto d = format::decode_payload(format::record_type::delivery, payload);
        if (!d) return std::nullopt;
        const auto& dr = std::get<format::delivery_record>(*d);
        if (dr.account != a->id || dr.mailbox != box.id || dr.uid < box.uid_next) return std::nullopt;
        s.apply(*d);
      }
      if (box.uid_next > uid_next || box.highest_modseq > hms) return std::nullopt;
      box.uid_next = box.uid_reserved = uid_next;
      box.highest_modseq = box.modseq_reserved = hms;
      box.rebuild_change_log();  // the messages came in UID order, not modseq order
      std::uint32_t expunged = 0;
      if (!r.u32(expunged) || expunged > r.remaining() / 12) return std::nullopt;
      box.expunged.resize(expunged);
      for (auto& [uid, ms] : box.expunged)
        if (!r.u32(uid) || !r.u64(ms)) return std::nullopt;
    }
  }
  if (!s._anomalies.empty()) return std::nullopt;
  return s;
}

}  // namespace store::index
