// restore(): rebuilds an account or one of its mailboxes from the backup
// directory, optionally as the backup stood at a point in time.
//
// The backup directory holds byte-for-byte copies of every durable batch
// (message_store::mirror_to_backup), segment by segment, and compaction never
// deletes there, so it is the whole history. Restore scans it read-only,
// replays the mailbox records whose transaction ended at or before as_of_ms
// into a private index, and re-delivers the selected messages into the live
// store: blobs first (dedup makes a repeat cheap), one flush, then the
// deliveries with their flags, keywords, internal dates and header prefixes.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <set>
#include <tuple>

#include "store/log/core_log.h"
#include "store/log/segment_scan.h"
#include "store/message_store.h"

namespace store {
namespace {

struct backup_blob {
  std::string directory;
  std::uint32_t core = 0;
  std::vector<format::blob_extent> extents;
  std::uint64_t size = 0;
};

kio::result<std::string, errc> read_backup_blob(const backup_blob& b) {
  std::string out;
  for (const auto& e : b.extents) {
    const std::string path = b.directory + "/" + log::segment_file_name(core_id{b.core}, e.segment);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kio::fail(errc_from_errno(errno));
    const std::size_t base = out.size();
    out.resize(base + e.length);
    const ssize_t n = ::pread(fd, out.data() + base, e.length, static_cast<off_t>(e.offset));
    ::close(fd);
    if (n != static_cast<ssize_t>(e.length)) return kio::fail(errc::corrupt);
  }
  return out;
}

}  // namespace

kio::result<restore_report, errc> restore(message_store& target, const std::string& backup_directory,
                                          account_id account, std::optional<std::string> mailbox_name,
                                          std::optional<std::uint64_t> as_of_ms) {
  const std::string dir = backup_directory + "/segments";
  std::map<std::pair<std::uint32_t, std::uint64_t>, std::string> files;  // (core, seq) -> name, in replay order
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      core_id c;
      segment_seq s;
      if (log::parse_segment_file_name(e->d_name, c, s)) files[{c.get(), s.get()}] = e->d_name;
    }
    ::closedir(d);
  } else {
    return kio::fail(errc::not_found);
  }
  index::index_state history;
  std::unordered_map<blob_key, backup_blob, blob_key_hash> blobs;
  for (const auto& [where, name] : files) {
    std::string bytes;
    {
      const int fd = ::open((dir + "/" + name).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return kio::fail(errc_from_errno(errno));
      char buf[1 << 16];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) bytes.append(buf, static_cast<std::size_t>(n));
      ::close(fd);
    }
    const auto scan = log::scan_segment(bytes);
    if (!scan.header) continue;  // a backup file whose header never arrived
    std::vector<format::record_payload> txn;
    for (const auto& rec : scan.records) {
      if (rec.header.type == format::record_type::blob_chunk) continue;
      auto p = format::decode_payload(rec.header.type, rec.payload);
      const bool last = !(rec.header.flags & format::record_flag::continues);
      if (p) {
        if (auto* c = std::get_if<format::blob_commit_record>(&*p))
          blobs[c->key] = backup_blob{dir, where.first, c->extents, c->size};
        else
          txn.push_back(std::move(*p));
      }
      if (!last) continue;
      // A transaction counts as of the time of its last record.
      if (!as_of_ms || rec.header.time_ms <= *as_of_ms)
        for (const auto& r : txn) history.apply(r);
      txn.clear();
    }
  }
  const auto* source = history.account(account);
  if (!source) return kio::fail(errc::unknown_account);
  if (!target.account(account)) {
    if (auto r = target.create_account(account, source->name, source->quota_bytes, source->quota_messages); !r)
      return kio::fail(r.error());
    if (auto r = target.flush_all(); !r) return kio::fail(r.error());
  }
  restore_report report;
  const core_id core = target.owner_of(account);
  for (const auto& [mid, box] : source->mailboxes) {
    if (mailbox_name && box.name != *mailbox_name) continue;
    const auto* existing = target.find_mailbox(account, box.name);
    mailbox_id into{};
    if (existing) {
      into = existing->id;
    } else {
      auto m = target.create_mailbox(account, box.name, box.use);
      if (!m) return kio::fail(m.error());
      if (auto r = target.flush_all(); !r) return kio::fail(r.error());
      into = m->mailbox;
    }
    ++report.mailboxes;
    // Batches bound memory: at most batch_max blobs' keys are held.
    constexpr std::size_t batch_max = 128;
    std::vector<std::pair<const index::message_entry*, blob_key>> batch;
    auto deliver_batch = [&]() -> kio::result<void, errc> {
      if (batch.empty()) return {};
      if (auto r = target.flush_all(); !r) return r;
      for (const auto& [m, key] : batch) {
        delivery_request q{account, into, key, m->header_prefix, m->internal_date_ms, m->flags, m->keywords, true};
        if (auto d = target.append_delivery(q); !d) return kio::fail(d.error());
      }
      batch.clear();
      return target.flush_all();
    };
    // Already there (a repeated restore): same content hash, date and prefix.
    std::set<std::tuple<std::uint64_t, std::uint64_t, std::int64_t, std::string>> have;
    for (const auto& [u, e] : target.mailbox(account, into)->messages)
      have.emplace(e.key.high, e.key.low, e.internal_date_ms, e.header_prefix);
    for (const auto& [uid, m] : box.messages) {
      if (have.count({m.key.high, m.key.low, m.internal_date_ms, m.header_prefix})) {
        ++report.messages_present;
        continue;
      }
      auto it = blobs.find(m.key);
      if (it == blobs.end()) return kio::fail(errc::corrupt);
      auto bytes = read_backup_blob(it->second);
      if (!bytes) return kio::fail(bytes.error());
      auto stored = target.store_blob(core, *bytes);
      if (!stored) return kio::fail(stored.error());
      batch.emplace_back(&m, stored->key);
      ++report.messages_restored;
      if (batch.size() >= batch_max)
        if (auto r = deliver_batch(); !r) return kio::fail(r.error());
    }
    if (auto r = deliver_batch(); !r) return kio::fail(r.error());
  }
  return report;
}

}  // namespace store
