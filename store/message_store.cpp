#include "store/message_store.h"

#define XXH_STATIC_LINKING_ONLY
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

#include "kernel_io/base/assert.h"
#include "store/format/codec.h"
#include "store/log/segment_scan.h"
#include "store/log/sync_io.h"

namespace store {
namespace {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

kio::result<void, errc> make_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0750) != 0 && errno != EEXIST) return kio::fail(errc_from_errno(errno));
  return {};
}

kio::result<std::string, errc> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return kio::fail(errno == ENOENT ? errc::not_found : errc_from_errno(errno));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return kio::fail(errc_from_errno(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

// Segment files of a directory, grouped by core, oldest first.
std::map<std::uint32_t, std::vector<segment_seq>> list_segments(const std::string& dir) {
  std::map<std::uint32_t, std::vector<segment_seq>> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    core_id core;
    segment_seq seq;
    if (log::parse_segment_file_name(e->d_name, core, seq)) out[core.get()].push_back(seq);
  }
  ::closedir(d);
  for (auto& [c, v] : out) std::sort(v.begin(), v.end());
  return out;
}

constexpr char checkpoint_magic[8] = {'R', 'I', 'N', 'G', 'C', 'K', 'P', 'T'};
constexpr std::uint16_t checkpoint_version = 1;

// Checkpoint file: 32-byte header then the body.
//   0 u8[8] magic "RINGCKPT"; 8 u16 version (a newer one is ignored and the
//   log replayed in full); 10 u16 reserved; 12 u32 cores; 16 u64 body size;
//   24 u64 XXH3-64 of the body.
// Body, per core: u64 segment seq, u64 offset (replay starts there), then the
// index_state serialization as a u32-length string.
struct checkpoint_data {
  std::vector<std::pair<segment_seq, std::uint64_t>> positions;
  std::vector<index::index_state> indexes;
};

std::optional<checkpoint_data> load_checkpoint(const std::string& path, std::uint32_t cores, std::string& why) {
  auto bytes = read_file(path);
  if (!bytes) {
    why = bytes.error() == errc::not_found ? "" : "unreadable";
    return std::nullopt;
  }
  const std::string& b = *bytes;
  if (b.size() < 32 || std::memcmp(b.data(), checkpoint_magic, 8) != 0) return why = "bad magic", std::nullopt;
  if (format::load_u16(b.data() + 8) != checkpoint_version) return why = "other version", std::nullopt;
  if (format::load_u32(b.data() + 12) != cores) return why = "core count changed", std::nullopt;
  const std::uint64_t size = format::load_u64(b.data() + 16);
  if (size != b.size() - 32 || XXH3_64bits(b.data() + 32, size) != format::load_u64(b.data() + 24))
    return why = "checksum", std::nullopt;
  format::byte_reader r(std::string_view(b).substr(32));
  checkpoint_data cp;
  for (std::uint32_t c = 0; c < cores; ++c) {
    std::uint64_t seq = 0, offset = 0;
    std::string body;
    if (!r.u64(seq) || !r.u64(offset) || !r.str(body, b.size())) return why = "truncated body", std::nullopt;
    auto idx = index::index_state::deserialize(body);
    if (!idx) return why = "index body", std::nullopt;
    cp.positions.emplace_back(segment_seq{seq}, offset);
    cp.indexes.push_back(std::move(*idx));
  }
  return cp;
}

}  // namespace

// ---- blob_writer ------------------------------------------------------------
blob_writer::blob_writer(blob_writer&& o) noexcept { *this = std::move(o); }
blob_writer& blob_writer::operator=(blob_writer&& o) noexcept {
  if (this == &o) return *this;
  if (_hash_state) XXH3_freeState(static_cast<XXH3_state_t*>(_hash_state));
  _core = o._core;
  _epoch = o._epoch;
  _size = o._size;
  _hash_state = o._hash_state;
  _extents = std::move(o._extents);
  _failed = o._failed;
  unpin();
  _pins = std::exchange(o._pins, nullptr);
  _pinned = o._pinned;
  o._hash_state = nullptr;
  return *this;
}
blob_writer::~blob_writer() {
  if (_hash_state) XXH3_freeState(static_cast<XXH3_state_t*>(_hash_state));
  unpin();
}
void blob_writer::unpin() {
  if (!_pins) return;
  auto it = _pins->find(_pinned);
  RM_ASSERT(it != _pins->end() && it->second > 0);
  if (--it->second == 0) _pins->erase(it);
  _pins = nullptr;
}

compaction_job::~compaction_job() {
  if (_hash_state) XXH3_freeState(static_cast<XXH3_state_t*>(_hash_state));
  if (_busy) *_busy = false;
}

// ---- open and recovery --------------------------------------------------------
message_store::message_store(store_options options) : _options(std::move(options)) {}

message_store::~message_store() {
  for (auto& sh : _shards)
    for (auto& [name, fd] : sh.backup_fds) ::close(fd);
}

std::string message_store::segments_directory() const { return _options.data_directory + "/segments"; }

void message_store::report(std::string line) {
  if (_options.report) _options.report(line);
  _recovery.lines.push_back(std::move(line));
}

core_id message_store::owner_of(account_id account) const {
  // A fixed mix so ids assigned in sequence spread over the cores.
  std::uint64_t x = account.get() * 0x9e3779b97f4a7c15ull;
  x ^= x >> 29;
  return core_id{static_cast<std::uint32_t>(x % _options.cores)};
}

kio::result<std::unique_ptr<message_store>, errc> message_store::open(store_options options) {
  if (options.cores == 0 || options.data_directory.empty()) return kio::fail(errc::bad_argument);
  std::unique_ptr<message_store> s(new message_store(std::move(options)));
  for (const auto& dir : {s->_options.data_directory, s->segments_directory()}) {
    auto r = make_directory(dir);
    if (!r) return kio::fail(r.error());
  }
  if (!s->_options.backup_directory.empty()) {
    for (const auto& dir : {s->_options.backup_directory, s->_options.backup_directory + "/segments"}) {
      auto r = make_directory(dir);
      if (!r) return kio::fail(r.error());
    }
  }
  auto r = s->recover();
  if (!r) return kio::fail(r.error());
  return s;
}

void message_store::apply_blob_commit(shard& s, const format::blob_commit_record& r, log::commit_ticket ticket,
                                      std::uint64_t time_ms, segment_seq segment_of_commit) {
  // The newest commit of a key wins: compaction copies a live blob forward
  // and the old copy's segment may disappear.
  auto& loc = s.blobs[r.key];
  loc.extents = r.extents;
  loc.size = r.size;
  loc.ticket = ticket;
  loc.committed_ms = time_ms;
  loc.commit_segment = segment_of_commit;
}

kio::result<void, errc> message_store::recover() {
  _shards.resize(_options.cores);
  const std::string seg_dir = segments_directory();
  auto found = list_segments(seg_dir);
  // Per core, the highest segment the backup holds: new segments start
  // above it (log_options::next_seq_min).
  std::vector<std::uint64_t> backup_seq_max(_options.cores, 0);
  if (!_options.backup_directory.empty())
    for (const auto& [core, seqs] : list_segments(_options.backup_directory + "/segments"))
      if (core < _options.cores)
        for (const auto seq : seqs) backup_seq_max[core] = std::max(backup_seq_max[core], seq.get());
  if (found.empty() && std::any_of(backup_seq_max.begin(), backup_seq_max.end(), [](auto v) { return v != 0; }))
    report("the store is empty but its backup " + _options.backup_directory +
           " holds segments; new segments start above them. To recover everything, stop, copy the backup's "
           "segments/ into " + seg_dir + " and start again (the backup is a store)");
  for (const auto& [core, seqs] : found) {
    if (core >= _options.cores) {
      report("segments of core " + std::to_string(core) + " exist but only " + std::to_string(_options.cores) +
             " cores are configured; refusing to start");
      return kio::fail(errc::bad_argument);
    }
  }
  std::optional<checkpoint_data> cp;
  if (_options.load_checkpoint) {
    std::string why;
    cp = load_checkpoint(_options.data_directory + "/checkpoint", _options.cores, why);
    if (!cp && !why.empty()) report("checkpoint ignored (" + why + "); replaying the whole log");
  }
  if (cp) {
    _recovery.checkpoint_used = true;
    for (std::uint32_t c = 0; c < _options.cores; ++c) {
      _shards[c].index = std::move(cp->indexes[c]);
      _shards[c].checkpoint_position = cp->positions[c];
    }
  }

  for (std::uint32_t c = 0; c < _options.cores; ++c) {
    shard& sh = _shards[c];
    std::vector<log::existing_segment> existing;
    const auto seqs = found.count(c) ? found[c] : std::vector<segment_seq>{};
    for (const auto seq : seqs) {
      const std::string name = log::segment_file_name(core_id{c}, seq);
      const std::string path = seg_dir + "/" + name;
      auto bytes = read_file(path);
      if (!bytes) return kio::fail(bytes.error());
      const auto scan = log::scan_segment(*bytes);
      if (!scan.header) {
        bool blank = true;
        for (char ch : *bytes) blank = blank && ch == 0;
        if (blank && seq == seqs.back()) {
          // Created, but its header never became durable: nothing in it
          // was ever acknowledged.
          report(name + ": empty segment without a header, removed");
          ::unlink(path.c_str());
          continue;
        }
        report(name + ": unreadable segment header; refusing to start (inspect the file)");
        return kio::fail(errc::bad_segment_header);
      }
      ++_recovery.segments;
      for (const auto& cr : scan.corrupt) {
        ++_recovery.corrupt_ranges;
        _recovery.records_dropped += cr.records_dropped;
        report(name + ": corrupt range at offset " + std::to_string(cr.offset) + ", " + std::to_string(cr.length) +
               " bytes skipped (" + std::to_string(cr.records_dropped) + " intact records of a cut transaction)");
      }
      if (bytes->size() > scan.valid_end) {
        if (scan.torn_bytes > 0 || scan.torn_records > 0) {
          report(name + ": torn tail at offset " + std::to_string(scan.valid_end) + ", cut " +
                 std::to_string(bytes->size() - scan.valid_end) + " bytes (" + std::to_string(scan.torn_records) +
                 " complete records of an unfinished transaction)");
          _recovery.truncated_bytes += bytes->size() - scan.valid_end;
        }
        const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) return kio::fail(errc_from_errno(errno));
        const int rc = ::ftruncate(fd, static_cast<off_t>(scan.valid_end));
        const int rc2 = rc == 0 ? ::fdatasync(fd) : rc;
        const int e = errno;
        ::close(fd);
        if (rc2 != 0) return kio::fail(errc_from_errno(e));
      }
      for (const auto& rec : scan.records) {
        ++_recovery.records;
        if (rec.header.type == format::record_type::blob_chunk) continue;
        auto payload = format::decode_payload(rec.header.type, rec.payload);
        if (!payload) {
          // Checksummed but not decodable: a type from a newer writer, or a
          // payload bug. Skipped and said so.
          if (static_cast<std::uint16_t>(rec.header.type) <= static_cast<std::uint16_t>(format::record_type::move))
            report(name + ": undecodable record at offset " + std::to_string(rec.offset) + " skipped");
          continue;
        }
        if (auto* commit = std::get_if<format::blob_commit_record>(&*payload)) {
          apply_blob_commit(sh, *commit, log::commit_ticket{0}, rec.header.time_ms, seq);
          continue;
        }
        if (cp) {
          const auto [cp_seq, cp_offset] = cp->positions[c];
          if (seq < cp_seq || (seq == cp_seq && rec.offset < cp_offset)) continue;
        }
        sh.index.apply(*payload);
      }
      existing.push_back({seq, scan.valid_end, scan.header->checksum_seed});
    }
    log::log_options lo;
    lo.directory = seg_dir;
    lo.core = core_id{c};
    lo.segment_size_max = _options.segment_size_max;
    lo.chunk_size_max = _options.chunk_size_max;
    lo.preallocate = _options.preallocate_segments;
    lo.next_seq_min = backup_seq_max[c] + 1;
    auto opened = log::core_log::open(lo, std::move(existing));
    if (!opened) return kio::fail(opened.error());
    sh.log = std::move(*opened);
  }
  // Drop catalog entries whose chunks were compacted away (an older commit
  // of a blob whose live copy was moved, or a dead blob).
  for (std::uint32_t c = 0; c < _options.cores; ++c) {
    auto& blobs = _shards[c].blobs;
    const auto sealed = _shards[c].log->sealed_segments();
    for (auto it = blobs.begin(); it != blobs.end();) {
      bool present = true;
      for (const auto& e : it->second.extents)
        present = present && (e.segment == _shards[c].log->active_segment() ||
                              std::find(sealed.begin(), sealed.end(), e.segment) != sealed.end());
      it = present ? std::next(it) : blobs.erase(it);
    }
  }
  // Every message must reference a blob we have. A delivery may share its
  // blob's group commit (same core, after the blob in the log): a write torn
  // by a power loss can then keep the delivery and lose the blob's commit.
  // Such a delivery was never acknowledged (250 waits for the whole batch),
  // so it is expunged here, durably: were it only hidden, the same message
  // sent again would bring the key back and resurrect it at the next start.
  // Only a delivery in its blob's own log can have shared its batch; one
  // naming another core's blob was written after that blob was durable, so
  // a missing blob there is damage: reported loudly, the message kept.
  std::map<std::pair<account_id, mailbox_id>, std::vector<std::uint32_t>> blobless;
  for (std::uint32_t c = 0; c < _options.cores; ++c) {
    for (const auto& a : _shards[c].index.anomalies()) report("replay anomaly: " + a.what);
    for (const auto& [id, acct] : _shards[c].index.accounts())
      for (const auto& [mid, box] : acct.mailboxes)
        for (const auto& [uid, m] : box.messages) {
          if (m.key.core < _options.cores && _shards[m.key.core].blobs.count(m.key)) continue;
          const bool same_log = m.key.core == c;
          report("account " + acct.name + " mailbox " + box.name + " uid " + std::to_string(uid) + ": blob " +
                 m.key.to_hex() + " missing" +
                 (same_log ? "; expunged (a delivery in its blob's own log: a batch torn before its 250, or damage)" : ""));
          if (same_log) blobless[std::make_pair(account_id{id}, mailbox_id{mid})].push_back(uid);
        }
  }
  for (const auto& [where, uids] : blobless) {
    auto e = expunge(where.first, where.second, uids);
    if (!e) return kio::fail(e.error());
  }
  if (!blobless.empty()) {
    auto f = flush_all();
    if (!f) return kio::fail(f.error());
  }
  return {};
}

// ---- durability -------------------------------------------------------------------
kio::result<store_ticket, errc> message_store::append_transaction(core_id core,
                                                                  const std::vector<format::record_payload>& records,
                                                                  std::uint64_t reserved_bytes, bool relocation) {
  shard& s = shard_of(core);
  std::vector<std::string> payloads;
  std::size_t total = 0;
  for (const auto& r : records) {
    payloads.push_back(format::encode_payload(r));
    total += payloads.back().size() + format::record_header_size;
  }
  log::commit_ticket last;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const bool more = i + 1 < records.size();
    auto a = s.log->append(format::type_of(records[i]), payloads[i], more ? format::record_flag::continues : 0,
                           i == 0 ? total : 0);
    // Only the first append of a transaction can fail (roll-over); later
    // ones go into memory.
    RM_ASSERT(a || i == 0);
    if (!a) return kio::fail(a.error());
    last = a->ticket;
  }
  // A transaction never spans segments: it is all in the active one now.
  const segment_seq segment = s.log->active_segment();
  for (std::size_t i = 0; i < records.size(); ++i)
    s.applies.push_back({last.lsn, records[i], i + 1 == records.size() ? reserved_bytes : 0, relocation, segment});
  return store_ticket{core, last};
}

bool message_store::has_pending(core_id core) const { return shard_of(core).log->has_pending(); }

void message_store::take_batch(core_id core, log::commit_batch& batch) { shard_of(core).log->take_batch(batch); }

void message_store::complete_batch(core_id core, log::commit_batch& batch, kio::result<void, errc> outcome,
                                   bool mirror_backup) {
  shard& s = shard_of(core);
  s.log->complete(batch, outcome);
  // Durable before visible: apply exactly what this batch made durable.
  while (!s.applies.empty()) {
    auto& p = s.applies.front();
    const auto st = s.log->state(log::commit_ticket{p.lsn});
    if (st == log::ticket_state::pending) break;
    const bool durable = st == log::ticket_state::durable;
    if (auto* d = std::get_if<format::delivery_record>(&p.record)) {
      if (auto* a = s.index.account(d->account)) {
        a->pending_bytes -= std::min(a->pending_bytes, p.reserved_bytes);
        a->pending_messages -= std::min<std::uint64_t>(a->pending_messages, p.reserved_bytes ? 1 : 0);
      }
    }
    if (auto* m = std::get_if<format::move_record>(&p.record); m && !durable) {
      (void)m;  // reserved UIDs stay burnt: never reused, as IMAP requires
    }
    if (auto* commit = std::get_if<format::blob_commit_record>(&p.record); commit && p.relocation) {
      // A compaction copy: the catalog moves to it only now that it is
      // durable, and only if no newer commit of the key came meanwhile. A
      // failed copy changes nothing (the old copy is still in place).
      auto it = s.blobs.find(commit->key);
      if (durable && it != s.blobs.end() && it->second.ticket.lsn < p.lsn) {
        RM_ASSERT(it->second.size == commit->size);
        it->second.extents = commit->extents;
        it->second.ticket = log::commit_ticket{p.lsn};
        it->second.commit_segment = p.segment;
      }
    } else if (auto* commit = std::get_if<format::blob_commit_record>(&p.record)) {
      if (!durable) {
        auto it = s.blobs.find(commit->key);
        if (it != s.blobs.end() && it->second.ticket.lsn == p.lsn) s.blobs.erase(it);
      }
    } else if (durable) {
      s.index.apply(p.record);
    }
    s.applies.pop_front();
  }
  if (outcome && mirror_backup) mirror_to_backup(core, batch);
}

kio::result<void, errc> message_store::flush(core_id core) {
  shard& s = shard_of(core);
  if (!s.log->has_pending()) return {};
  log::commit_batch batch;
  s.log->take_batch(batch);
  auto r = log::write_batch_blocking(batch, segments_directory());
  complete_batch(core, batch, r);
  return r;
}

kio::result<void, errc> message_store::flush_all() {
  kio::result<void, errc> out;
  for (std::uint32_t c = 0; c < _options.cores; ++c) {
    auto r = flush(core_id{c});
    if (!r && out) out = r;
  }
  return out;
}

log::ticket_state message_store::state(const store_ticket& t, errc* why) const {
  return shard_of(t.core).log->state(t.ticket, why);
}

const log::commit_metrics& message_store::commit_metrics(core_id core) const { return shard_of(core).log->metrics(); }

kio::result<int, errc> message_store::backup_fd(core_id core, segment_seq segment) {
  const std::string name = log::segment_file_name(core, segment);
  auto& backup_fds = shard_of(core).backup_fds;
  if (auto it = backup_fds.find(name); it != backup_fds.end()) return it->second;
  const std::string dir = _options.backup_directory + "/segments";
  const int fd = ::open((dir + "/" + name).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return kio::fail(errc_from_errno(errno));
  // A new name in the backup directory must survive a crash too. Blocking,
  // but once per segment (every 64 MiB by default).
  (void)log::fsync_directory(dir);
  backup_fds.emplace(name, fd);
  return fd;
}

void message_store::mirror_to_backup(core_id core, const log::commit_batch& batch) {
  if (_options.backup_directory.empty()) return;
  const std::string dir = _options.backup_directory + "/segments";
  bool new_file = false;
  std::vector<int> fds;
  auto& backup_fds = shard_of(core).backup_fds;
  for (const auto& w : batch.writes) {
    const std::string name = log::segment_file_name(core, w.segment);
    auto it = backup_fds.find(name);
    if (it == backup_fds.end()) {
      const int fd = ::open((dir + "/" + name).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
      if (fd < 0) {
        report("backup: cannot open " + name + ": " + std::strerror(errno));
        continue;
      }
      it = backup_fds.emplace(name, fd).first;
      new_file = true;
    }
    if (auto r = log::pwrite_all(it->second, w.bytes, w.offset); !r) {
      report("backup: write to " + name + " failed: " + to_string(r.error()));
      continue;
    }
    if (std::find(fds.begin(), fds.end(), it->second) == fds.end()) fds.push_back(it->second);
  }
  for (int fd : fds)
    if (::fdatasync(fd) != 0) report(std::string("backup: fdatasync failed: ") + std::strerror(errno));
  if (new_file) (void)log::fsync_directory(dir);
}

// ---- blobs ----------------------------------------------------------------------
blob_writer message_store::begin_blob(core_id core) {
  blob_writer w;
  w._core = core;
  w._epoch = shard_of(core).log->epoch();
  auto* st = XXH3_createState();
  RM_ASSERT(st != nullptr);
  XXH3_128bits_reset(st);
  w._hash_state = st;
  return w;
}

kio::result<void, errc> message_store::append_chunk(blob_writer& w, std::string_view bytes) {
  RM_ASSERT(w._hash_state != nullptr);
  shard& s = shard_of(w._core);
  if (w._failed) return kio::fail(errc::log_failed);
  if (w._size + bytes.size() > _options.blob_size_max) {
    w._failed = true;
    return kio::fail(errc::too_large);
  }
  XXH3_128bits_update(static_cast<XXH3_state_t*>(w._hash_state), bytes.data(), bytes.size());
  while (!bytes.empty()) {
    const auto piece = bytes.substr(0, _options.chunk_size_max);
    auto a = s.log->append(format::record_type::blob_chunk, piece);
    if (!a) {
      w._failed = true;
      return kio::fail(a.error());
    }
    w._extents.push_back({a->position.segment, a->payload_offset, static_cast<std::uint32_t>(piece.size())});
    if (!w._pins) {
      w._pins = &s.pins;
      w._pinned = a->position.segment.get();
      ++s.pins[w._pinned];
    }
    w._size += piece.size();
    bytes.remove_prefix(piece.size());
  }
  return {};
}

kio::result<bool, errc> message_store::same_bytes(const shard& s, const std::vector<format::blob_extent>& a,
                                                  const std::vector<format::blob_extent>& b,
                                                  std::uint64_t size) const {
  // Walk both extent lists in bounded pieces: memory stays at two buffers
  // however large the blob.
  constexpr std::size_t piece_max = 64u << 10;
  std::size_t ai = 0, bi = 0;
  std::uint64_t a_off = 0, b_off = 0, done = 0;
  std::string x, y;
  while (done < size) {
    const std::size_t n = static_cast<std::size_t>(
        std::min<std::uint64_t>({piece_max, a[ai].length - a_off, b[bi].length - b_off, size - done}));
    x.clear();
    y.clear();
    if (auto r = s.log->read(a[ai].segment, a[ai].offset + a_off, n, x); !r) return kio::fail(r.error());
    if (auto r = s.log->read(b[bi].segment, b[bi].offset + b_off, n, y); !r) return kio::fail(r.error());
    if (x != y) return false;
    done += n;
    a_off += n;
    b_off += n;
    if (a_off == a[ai].length) ++ai, a_off = 0;
    if (b_off == b[bi].length) ++bi, b_off = 0;
  }
  return true;
}

kio::result<stored_blob, errc> message_store::finish_blob(blob_writer& w) {
  RM_ASSERT(w._hash_state != nullptr);
  shard& s = shard_of(w._core);
  // Whatever happens now, the chunks are either committed below (then the
  // catalog names them) or garbage.
  w.unpin();
  if (w._failed || w._epoch != s.log->epoch()) return kio::fail(errc::log_failed);
  const XXH128_hash_t h = XXH3_128bits_digest(static_cast<XXH3_state_t*>(w._hash_state));
  blob_key key{h.high64, h.low64, w._core.get(), 0};
  if (_hooks.override_hash) {
    std::string first;
    if (!w._extents.empty()) (void)s.log->read(w._extents[0].segment, w._extents[0].offset, std::min<std::uint32_t>(w._extents[0].length, 64), first);
    _hooks.override_hash(first, key);
    key.core = w._core.get();
    key.generation = 0;
  }
  for (;; ++key.generation) {
    auto it = s.blobs.find(key);
    if (it == s.blobs.end()) break;
    if (it->second.size != w._size) continue;
    auto same = same_bytes(s, it->second.extents, w._extents, w._size);
    if (!same) return kio::fail(same.error());
    if (*same) {
      // Shared: the new chunks become garbage for compaction; no commit.
      // The blob is handed out again: compaction's grace starts anew, as a
      // delivery on another core may follow.
      it->second.committed_ms = std::max(it->second.committed_ms, now_ms());
      stored_blob out{key, w._size, true, store_ticket{w._core, it->second.ticket}};
      return out;
    }
    // A collision: same hash, other bytes. Try the next generation.
  }
  format::blob_commit_record commit;
  commit.key = key;
  commit.size = w._size;
  commit.extents = w._extents;
  auto t = append_transaction(w._core, {commit});
  if (!t) return kio::fail(t.error());
  auto& loc = s.blobs[key];
  loc.extents = std::move(w._extents);
  loc.size = w._size;
  loc.ticket = t->ticket;
  loc.committed_ms = now_ms();
  loc.commit_segment = s.applies.back().segment;
  return stored_blob{key, w._size, false, *t};
}

kio::result<stored_blob, errc> message_store::store_blob(core_id core, std::string_view bytes) {
  auto w = begin_blob(core);
  if (auto r = append_chunk(w, bytes); !r) return kio::fail(r.error());
  return finish_blob(w);
}

bool message_store::blob_durable(const blob_key& key) const {
  if (key.core >= _options.cores) return false;
  const shard& s = shard_of(core_id{key.core});
  auto it = s.blobs.find(key);
  return it != s.blobs.end() && s.log->state(it->second.ticket) == log::ticket_state::durable;
}

kio::result<std::string, errc> message_store::read_blob(const blob_key& key) const {
  if (key.core >= _options.cores) return kio::fail(errc::not_found);
  const shard& s = shard_of(core_id{key.core});
  auto it = s.blobs.find(key);
  if (it == s.blobs.end()) return kio::fail(errc::not_found);
  std::string out;
  out.reserve(it->second.size);
  for (const auto& e : it->second.extents)
    if (auto r = s.log->read(e.segment, e.offset, e.length, out); !r) return kio::fail(r.error());
  // Paired with the write-side assertion: what we read is what we indexed.
  RM_ASSERT(out.size() == it->second.size);
  return out;
}

// ---- accounts and mailboxes ------------------------------------------------------------
kio::result<store_ticket, errc> message_store::create_account(account_id account, std::string_view name,
                                                              std::uint64_t quota_bytes,
                                                              std::uint64_t quota_messages) {
  if (name.empty() || name.size() > format::name_max) return kio::fail(errc::bad_argument);
  shard& s = owner(account);
  if (s.index.account(account)) return kio::fail(errc::mailbox_exists);
  std::vector<format::record_payload> records;
  records.push_back(format::account_create_record{account, std::string(name), quota_bytes, quota_messages});
  static constexpr std::pair<const char*, special_use> defaults[] = {
      {"INBOX", special_use::inbox}, {"Sent", special_use::sent}, {"Drafts", special_use::drafts},
      {"Trash", special_use::trash}, {"Junk", special_use::junk}, {"Archive", special_use::archive}};
  const auto validity = static_cast<std::uint32_t>(now_ms() / 1000);
  std::uint32_t id = 1;
  for (const auto& [folder, use] : defaults)
    records.push_back(format::folder_create_record{account, mailbox_id{id++}, folder, validity, use});
  return append_transaction(owner_of(account), records);
}

kio::result<store_ticket, errc> message_store::set_quota(account_id account, std::uint64_t quota_bytes,
                                                         std::uint64_t quota_messages) {
  if (!owner(account).index.account(account)) return kio::fail(errc::unknown_account);
  return append_transaction(owner_of(account), {format::account_quota_record{account, quota_bytes, quota_messages}});
}

kio::result<mailbox_result, errc> message_store::create_mailbox(account_id account, std::string_view name,
                                                                special_use use) {
  shard& s = owner(account);
  auto* a = s.index.account(account);
  if (!a) return kio::fail(errc::unknown_account);
  if (name.empty() || name.size() > format::name_max) return kio::fail(errc::bad_argument);
  if (s.index.find_mailbox(account, name)) return kio::fail(errc::mailbox_exists);
  const mailbox_id id{a->mailbox_reserved++};
  // UIDVALIDITY must differ from every earlier mailbox of this name: take
  // the clock, but never less than one past the last one handed out.
  const auto validity = std::max<std::uint32_t>(static_cast<std::uint32_t>(now_ms() / 1000), a->uid_validity_last + 1);
  a->uid_validity_last = validity;
  auto t = append_transaction(owner_of(account), {format::folder_create_record{account, id, std::string(name), validity, use}});
  if (!t) return kio::fail(t.error());
  return mailbox_result{id, validity, *t};
}

kio::result<store_ticket, errc> message_store::rename_mailbox(account_id account, mailbox_id mailbox,
                                                              std::string_view name) {
  shard& s = owner(account);
  if (!s.index.mailbox(account, mailbox)) return kio::fail(errc::unknown_mailbox);
  if (name.empty() || name.size() > format::name_max) return kio::fail(errc::bad_argument);
  if (s.index.find_mailbox(account, name)) return kio::fail(errc::mailbox_exists);
  return append_transaction(owner_of(account), {format::folder_rename_record{account, mailbox, std::string(name)}});
}

kio::result<store_ticket, errc> message_store::delete_mailbox(account_id account, mailbox_id mailbox) {
  if (!owner(account).index.mailbox(account, mailbox)) return kio::fail(errc::unknown_mailbox);
  return append_transaction(owner_of(account), {format::folder_delete_record{account, mailbox}});
}

kio::result<store_ticket, errc> message_store::subscribe(account_id account, mailbox_id mailbox, bool subscribed) {
  if (!owner(account).index.mailbox(account, mailbox)) return kio::fail(errc::unknown_mailbox);
  return append_transaction(owner_of(account), {format::folder_subscribe_record{account, mailbox, subscribed}});
}

kio::result<delivery_result, errc> message_store::append_delivery(const delivery_request& q) {
  shard& s = owner(q.account);
  auto* a = s.index.account(q.account);
  if (!a) return kio::fail(errc::unknown_account);
  auto* box = s.index.mailbox(q.account, q.mailbox);
  if (!box) return kio::fail(errc::unknown_mailbox);
  if (q.header_prefix.size() > format::header_prefix_max) return kio::fail(errc::too_large);
  // The blob must be durable before a delivery may point at it.
  std::uint64_t blob_size = 0;
  if (q.blob_size) {
    if (q.key.core >= _options.cores) return kio::fail(errc::not_found);
    blob_size = *q.blob_size;
  } else {
    if (!blob_durable(q.key)) return kio::fail(errc::not_found);
    blob_size = shard_of(core_id{q.key.core}).blobs.at(q.key).size;
  }
  const std::uint64_t size = blob_size + q.header_prefix.size();
  if (!q.ignore_quota) {
    if (a->quota_bytes && a->used_bytes + a->pending_bytes + size > a->quota_bytes) return kio::fail(errc::quota_exceeded);
    if (a->quota_messages && a->used_messages + a->pending_messages + 1 > a->quota_messages)
      return kio::fail(errc::quota_exceeded);
  }
  format::delivery_record d;
  d.account = q.account;
  d.mailbox = q.mailbox;
  d.uid = box->uid_reserved;
  d.modseq = box->modseq_reserved + 1;
  d.key = q.key;
  d.blob_size = blob_size;
  d.internal_date_ms = q.internal_date_ms;
  d.flags = q.flags & message_flag::all;
  d.keywords = q.keywords;
  d.header_prefix = q.header_prefix;
  auto t = append_transaction(owner_of(q.account), {d}, size);
  if (!t) return kio::fail(t.error());
  // Reserve only once appended: a refused append burns nothing.
  box->uid_reserved += 1;
  box->modseq_reserved += 1;
  a->pending_bytes += size;
  a->pending_messages += 1;
  return delivery_result{d.uid, d.modseq, *t};
}

kio::result<change_result, errc> message_store::store_flags(account_id account, mailbox_id mailbox,
                                                            const std::vector<std::uint32_t>& uids,
                                                            format::flags_op op, std::uint32_t flags,
                                                            std::vector<std::string> keywords,
                                                            std::optional<std::uint64_t> unchanged_since) {
  shard& s = owner(account);
  auto* box = s.index.mailbox(account, mailbox);
  if (!box) return kio::fail(errc::unknown_mailbox);
  std::sort(keywords.begin(), keywords.end());
  keywords.erase(std::unique(keywords.begin(), keywords.end()), keywords.end());
  flags &= message_flag::all;
  change_result out;
  for (auto uid : uids) {
    auto it = box->messages.find(uid);
    if (it == box->messages.end()) continue;
    const auto& m = it->second;
    if (unchanged_since && m.modseq > *unchanged_since) continue;
    // RFC 7162: only a real change takes a new modseq.
    bool changes = false;
    switch (op) {
      case format::flags_op::add:
        changes = (m.flags | flags) != m.flags ||
                  !std::includes(m.keywords.begin(), m.keywords.end(), keywords.begin(), keywords.end());
        break;
      case format::flags_op::remove: {
        changes = (m.flags & flags) != 0;
        for (const auto& k : keywords) changes = changes || std::binary_search(m.keywords.begin(), m.keywords.end(), k);
        break;
      }
      case format::flags_op::replace:
        changes = m.flags != flags || m.keywords != keywords;
        break;
    }
    if (changes) out.uids.push_back(uid);
  }
  if (out.uids.empty()) return out;
  format::flags_change_record r{account, mailbox, box->modseq_reserved + 1, op, flags, keywords, out.uids};
  auto t = append_transaction(owner_of(account), {r});
  if (!t) return kio::fail(t.error());
  out.modseq = ++box->modseq_reserved;
  out.ticket = *t;
  return out;
}

kio::result<change_result, errc> message_store::expunge(account_id account, mailbox_id mailbox,
                                                        const std::vector<std::uint32_t>& uids) {
  shard& s = owner(account);
  auto* box = s.index.mailbox(account, mailbox);
  if (!box) return kio::fail(errc::unknown_mailbox);
  change_result out;
  for (auto uid : uids)
    if (box->messages.count(uid)) out.uids.push_back(uid);
  if (out.uids.empty()) return out;
  auto t = append_transaction(owner_of(account),
                              {format::expunge_record{account, mailbox, box->modseq_reserved + 1, out.uids}});
  if (!t) return kio::fail(t.error());
  out.modseq = ++box->modseq_reserved;
  out.ticket = *t;
  return out;
}

kio::result<change_result, errc> message_store::move(account_id account, mailbox_id source, mailbox_id target,
                                                     const std::vector<std::uint32_t>& uids) {
  shard& s = owner(account);
  auto* from = s.index.mailbox(account, source);
  auto* to = s.index.mailbox(account, target);
  if (!from || !to) return kio::fail(errc::unknown_mailbox);
  if (from == to) return kio::fail(errc::bad_argument);
  format::move_record r;
  r.account = account;
  r.source = source;
  r.target = target;
  r.source_modseq = from->modseq_reserved + 1;
  r.target_modseq = to->modseq_reserved + 1;
  std::uint32_t next = to->uid_reserved;
  change_result out;
  for (auto uid : uids) {
    if (!from->messages.count(uid)) continue;
    r.uids.emplace_back(uid, next);
    out.uids.push_back(uid);
    out.target_uids.push_back(next++);
  }
  if (r.uids.empty()) return out;
  auto t = append_transaction(owner_of(account), {r});
  if (!t) return kio::fail(t.error());
  to->uid_reserved = next;
  ++from->modseq_reserved;
  ++to->modseq_reserved;
  out.modseq = r.source_modseq;
  out.ticket = *t;
  return out;
}

// ---- reads -----------------------------------------------------------------------
const index::index_state& message_store::index(core_id core) const { return shard_of(core).index; }
const index::account_state* message_store::account(account_id a) const { return owner(a).index.account(a); }
const index::mailbox_state* message_store::mailbox(account_id a, mailbox_id m) const {
  return owner(a).index.mailbox(a, m);
}
const index::mailbox_state* message_store::find_mailbox(account_id a, std::string_view name) const {
  return owner(a).index.find_mailbox(a, name);
}

kio::result<std::string, errc> message_store::read_message(account_id a, mailbox_id m, std::uint32_t uid) const {
  const auto* box = mailbox(a, m);
  if (!box) return kio::fail(errc::unknown_mailbox);
  auto it = box->messages.find(uid);
  if (it == box->messages.end()) return kio::fail(errc::not_found);
  auto blob = read_blob(it->second.key);
  if (!blob) return kio::fail(blob.error());
  return it->second.header_prefix + *blob;
}

quota_usage message_store::quota(account_id a) const {
  const auto* acct = account(a);
  if (!acct) return {};
  return {acct->used_bytes + acct->pending_bytes, acct->used_messages + acct->pending_messages, acct->quota_bytes,
          acct->quota_messages};
}

bool message_store::quota_allows(account_id a, std::uint64_t message_bytes) const {
  const auto q = quota(a);
  return (!q.quota_bytes || q.used_bytes + message_bytes <= q.quota_bytes) &&
         (!q.quota_messages || q.used_messages + 1 <= q.quota_messages);
}

// ---- checkpoint and compaction -------------------------------------------------
std::string message_store::checkpoint_image(std::vector<std::pair<segment_seq, std::uint64_t>>& positions) const {
  positions.clear();
  std::vector<checkpoint_part> parts;
  for (std::uint32_t c = 0; c < _options.cores; ++c) {
    parts.push_back(checkpoint_part_of(core_id{c}));
    positions.push_back(parts.back().position);
  }
  return checkpoint_image_from(parts);
}

message_store::checkpoint_part message_store::checkpoint_part_of(core_id core) const {
  const shard& sh = shard_of(core);
  // The index holds exactly the durable records (apply-on-durable), and
  // every record past durable_position() is either in flight or pending:
  // replay resumes there. So a batch may be in flight meanwhile.
  return checkpoint_part{sh.log->durable_position(), sh.index.serialize()};
}

std::string message_store::checkpoint_image_from(const std::vector<checkpoint_part>& parts) const {
  RM_ASSERT(parts.size() == _options.cores);
  std::string body;
  format::byte_writer w(body);
  for (const auto& part : parts) {
    w.u64(part.position.first.get());
    w.u64(part.position.second);
    w.str(part.index);
  }
  std::string file(32, '\0');
  std::memcpy(file.data(), checkpoint_magic, 8);
  format::store_u16(file.data() + 8, checkpoint_version);
  format::store_u32(file.data() + 12, _options.cores);
  format::store_u64(file.data() + 16, body.size());
  format::store_u64(file.data() + 24, XXH3_64bits(body.data(), body.size()));
  file += body;
  return file;
}

void message_store::checkpoint_written_on(core_id core, std::pair<segment_seq, std::uint64_t> position) {
  auto& at = shard_of(core).checkpoint_position;
  at = std::max(at, position);
}

std::vector<blob_key> message_store::blob_references_of(core_id core, core_id blob_core) const {
  const shard& sh = shard_of(core);
  std::vector<blob_key> out;
  for (const auto& [key, count] : sh.index.blob_references())
    if (key.core == blob_core.get()) out.push_back(key);
  for (const auto& p : sh.applies)
    if (const auto* d = std::get_if<format::delivery_record>(&p.record); d && d->key.core == blob_core.get())
      out.push_back(d->key);
  return out;
}

void message_store::checkpoint_written(std::vector<std::pair<segment_seq, std::uint64_t>> positions) {
  RM_ASSERT(positions.size() == _shards.size());
  // Positions only move forward; a slower writer finishing second must not
  // move them back.
  for (std::size_t c = 0; c < positions.size(); ++c)
    _shards[c].checkpoint_position = std::max(_shards[c].checkpoint_position, positions[c]);
}

kio::result<void, errc> message_store::checkpoint() {
  if (auto r = flush_all(); !r) return r;
  return write_checkpoint_blocking();
}

bool message_store::try_begin_checkpoint() { return !_checkpoint_writing.exchange(true); }
void message_store::end_checkpoint() {
  RM_ASSERT(_checkpoint_writing);
  _checkpoint_writing = false;
}

kio::result<void, errc> message_store::write_checkpoint_blocking() {
  // A blocking call cannot wait for a reactor writer to finish; tools and
  // tests never run both.
  const bool mine = try_begin_checkpoint();
  RM_ASSERT_MSG(mine, "a checkpoint is already being written");
  struct done_guard {
    message_store* s;
    ~done_guard() { s->end_checkpoint(); }
  } guard{this};
  std::vector<std::pair<segment_seq, std::uint64_t>> positions;
  const std::string file = checkpoint_image(positions);
  const std::string path = _options.data_directory + "/checkpoint";
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return kio::fail(errc_from_errno(errno));
  auto wr = log::pwrite_all(fd, file, 0);
  const int rc = wr ? ::fsync(fd) : -1;
  const int e = errno;
  ::close(fd);
  if (!wr) return wr;
  if (rc != 0) return kio::fail(errc_from_errno(e));
  if (::rename(temp.c_str(), path.c_str()) != 0) return kio::fail(errc_from_errno(errno));
  if (auto r = log::fsync_directory(_options.data_directory); !r) return r;
  checkpoint_written(std::move(positions));
  return {};
}

std::unique_ptr<compaction_job> message_store::begin_compaction(
    core_id core, double live_ratio_max, std::uint64_t grace_ms,
    const std::unordered_set<blob_key, blob_key_hash>* referenced_elsewhere) {
  shard& s = shard_of(core);
  if (s.compacting) return nullptr;
  const std::uint64_t now = now_ms();
  // Deliveries appended but not yet durable reference blobs too.
  std::unordered_map<blob_key, bool, blob_key_hash> appended_refs;
  for (const auto& sh : _shards) {
    if (referenced_elsewhere && &sh != &s) continue;
    for (const auto& p : sh.applies)
      if (const auto* d = std::get_if<format::delivery_record>(&p.record)) appended_refs[d->key] = true;
  }
  auto live = [&](const blob_key& key, const blob_location& loc) {
    if (loc.committed_ms + grace_ms > now) return true;
    if (appended_refs.count(key)) return true;
    if (referenced_elsewhere) return s.index.blob_references().count(key) > 0 || referenced_elsewhere->count(key) > 0;
    for (const auto& sh : _shards)
      if (sh.index.blob_references().count(key)) return true;
    return false;
  };
  // Candidates: sealed, wholly covered by the durable checkpoint (its
  // mailbox records are in the serialized index), and older than every
  // segment an unfinished blob writer has chunks in.
  std::uint64_t limit = s.checkpoint_position.first.get();
  if (!s.pins.empty()) limit = std::min(limit, s.pins.begin()->first);
  std::map<std::uint64_t, std::uint64_t> live_bytes;
  std::vector<segment_seq> candidates;
  for (const auto seq : s.log->sealed_segments())
    if (seq.get() < limit) {
      candidates.push_back(seq);
      live_bytes[seq.get()] = 0;
    }
  if (candidates.empty()) return nullptr;
  // One pass over the catalog (not one per segment): the planning step is
  // the only part that is not sliced, so keep it linear.
  std::vector<std::pair<const blob_key*, bool>> touching;
  for (const auto& [key, loc] : s.blobs) {
    bool touches = live_bytes.count(loc.commit_segment.get()) > 0;
    for (const auto& e : loc.extents) touches = touches || live_bytes.count(e.segment.get());
    if (!touches) continue;
    const bool l = live(key, loc);
    touching.emplace_back(&key, l);
    if (l)
      for (const auto& e : loc.extents)
        if (auto it = live_bytes.find(e.segment.get()); it != live_bytes.end()) it->second += e.length;
  }
  std::unique_ptr<compaction_job> job(new compaction_job());
  job->_core = core;
  job->_epoch = s.log->epoch();
  for (const auto seq : candidates) {
    const std::uint64_t size = s.log->durable_end(seq);
    const std::uint64_t l = live_bytes[seq.get()];
    if (static_cast<double>(l) <= live_ratio_max * static_cast<double>(size)) {
      job->_victims.push_back(seq);
      job->_report.bytes_reclaimed += size - std::min(size, l);
    }
  }
  if (job->_victims.empty()) return nullptr;
  // The commit record counts: a live blob whose commit sits in a victim is
  // copied too (its chunks may be elsewhere), or recovery would lose it.
  auto in_victims = [&](const blob_location& loc) {
    auto victim = [&](segment_seq seq) {
      return std::find(job->_victims.begin(), job->_victims.end(), seq) != job->_victims.end();
    };
    if (victim(loc.commit_segment)) return true;
    for (const auto& e : loc.extents)
      if (victim(e.segment)) return true;
    return false;
  };
  std::vector<blob_key> dead;
  for (const auto& [key, l] : touching) {
    const auto& loc = s.blobs.at(*key);
    if (!in_victims(loc)) continue;
    if (l)
      job->_moved.push_back({*key, loc.size, loc.extents});
    else
      dead.push_back(*key);
  }
  // Dead blobs leave the catalog now, not at the end: from here on dedup
  // cannot hand one out and no delivery can name it (append_delivery wants a
  // durable catalog entry). A crash before the victims go brings them back
  // from the log, harmlessly.
  for (const auto& key : dead) s.blobs.erase(key);
  // Copy in log order: reads sweep each victim forward.
  std::sort(job->_moved.begin(), job->_moved.end(), [](const auto& a, const auto& b) {
    return std::pair(a.extents.front().segment, a.extents.front().offset) <
           std::pair(b.extents.front().segment, b.extents.front().offset);
  });
  auto* st = XXH3_createState();
  RM_ASSERT(st != nullptr);
  XXH3_128bits_reset(st);
  job->_hash_state = st;
  s.compacting = true;
  job->_busy = &s.compacting;
  return job;
}

std::optional<compaction_piece> message_store::compaction_next(const compaction_job& job) const {
  if (job._dead || job.copying_done()) return std::nullopt;
  const shard& s = shard_of(job._core);
  const auto& e = job._moved[job._blob].extents[job._extent];
  compaction_piece p;
  p.fd = s.log->segment_fd(e.segment);
  // The blob's segments are sealed or active, never removed while a job of
  // this core runs (one job per core; only finish_compaction removes).
  RM_ASSERT(p.fd >= 0);
  p.offset = e.offset + job._extent_done;
  p.length = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(e.length - job._extent_done, _options.chunk_size_max));
  return p;
}

kio::result<void, errc> message_store::compaction_copy(compaction_job& job, std::string_view bytes) {
  shard& s = shard_of(job._core);
  if (job._dead) return kio::fail(errc::log_failed);
  if (s.log->epoch() != job._epoch) {
    // A batch failed since planning: the copies appended so far went with it.
    job._dead = true;
    return kio::fail(errc::log_failed);
  }
  RM_ASSERT(!job.copying_done());
  auto& m = job._moved[job._blob];
  const auto& e = m.extents[job._extent];
  // Paired with compaction_next(): exactly the piece it asked for.
  RM_ASSERT(bytes.size() == std::min<std::uint64_t>(e.length - job._extent_done, _options.chunk_size_max));
  auto* hs = static_cast<XXH3_state_t*>(job._hash_state);
  XXH3_128bits_update(hs, bytes.data(), bytes.size());
  auto a = s.log->append(format::record_type::blob_chunk, bytes);
  if (!a) {
    job._dead = true;
    return kio::fail(a.error());
  }
  job._new_extents.push_back({a->position.segment, a->payload_offset, static_cast<std::uint32_t>(bytes.size())});
  job._extent_done += bytes.size();
  if (job._extent_done < e.length) return {};
  job._extent_done = 0;
  if (++job._extent < m.extents.size()) return {};
  // The blob's last piece: check the copy against its key before anything
  // can point at it (the read side of the check that the chunk checksums
  // made on the way in). A forced hash (test hook) has no hash to match.
  std::uint64_t copied = 0;
  for (const auto& x : job._new_extents) copied += x.length;
  RM_ASSERT(copied == m.size);
  const XXH128_hash_t h = XXH3_128bits_digest(hs);
  if (!_hooks.override_hash && (h.high64 != m.key.high || h.low64 != m.key.low)) {
    job._dead = true;
    report("compaction: blob " + m.key.to_hex() + " does not match its key; segments kept");
    return kio::fail(errc::corrupt);
  }
  format::blob_commit_record commit{m.key, m.size, job._new_extents};
  auto t = append_transaction(job._core, {commit}, 0, /*relocation=*/true);
  if (!t) {
    job._dead = true;
    return kio::fail(t.error());
  }
  job._last_ticket = *t;
  ++job._report.blobs_copied;
  job._report.bytes_copied += m.size;
  job._new_extents.clear();
  job._extent = 0;
  ++job._blob;
  XXH3_128bits_reset(hs);
  return {};
}

kio::result<bool, errc> message_store::finish_compaction(compaction_job& job, std::vector<std::string>* unlink_later) {
  if (job._retired) return true;
  shard& s = shard_of(job._core);
  if (job._dead) return kio::fail(errc::log_failed);
  if (s.log->epoch() != job._epoch) {
    job._dead = true;
    return kio::fail(errc::log_failed);
  }
  if (!job.copying_done()) return false;
  if (job._report.blobs_copied > 0) {
    errc why{};
    const auto st = state(job._last_ticket, &why);
    if (st == log::ticket_state::pending) return false;
    if (st == log::ticket_state::failed) {
      job._dead = true;
      return kio::fail(why);
    }
  }
  // Every copy is durable and applied (complete_batch switched the catalog
  // before the ticket read as durable). Check that before removing anything:
  // no catalog entry may still name a victim.
  for (const auto& [key, loc] : s.blobs) {
    std::vector<segment_seq> used{loc.commit_segment};
    for (const auto& e : loc.extents) used.push_back(e.segment);
    for (const auto seq : used)
      if (std::find(job._victims.begin(), job._victims.end(), seq) != job._victims.end()) {
        job._dead = true;
        report("compaction: blob " + key.to_hex() + " still in segment " + std::to_string(seq.get()) +
               " after its copy; segments kept");
        return kio::fail(errc::corrupt);
      }
  }
  for (const auto seq : job._victims) {
    retire_segment_backup(job._core, seq);
    if (unlink_later) {
      unlink_later->push_back(s.log->forget_segment(seq));
      ++job._report.segments_removed;
      continue;
    }
    if (auto r = s.log->remove_segment(seq); !r) {
      job._dead = true;
      return kio::fail(r.error());
    }
    ++job._report.segments_removed;
  }
  job._retired = true;
  return true;
}

void message_store::retire_segment_backup(core_id core, segment_seq seq) {
  const std::string name = log::segment_file_name(core, seq);
  auto& backup_fds = shard_of(core).backup_fds;
  if (auto it = backup_fds.find(name); it != backup_fds.end()) {
    ::close(it->second);
    backup_fds.erase(it);
  }
}

kio::result<compaction_report, errc> message_store::compact(core_id core, double live_ratio_max,
                                                            std::uint64_t grace_ms) {
  // A fresh checkpoint makes every sealed segment a candidate.
  if (auto r = checkpoint(); !r) return kio::fail(r.error());
  auto job = begin_compaction(core, live_ratio_max, grace_ms);
  if (!job) return compaction_report{};
  std::string piece;
  while (auto p = compaction_next(*job)) {
    piece.resize(p->length);
    std::size_t done = 0;
    while (done < piece.size()) {
      const ssize_t n = ::pread(p->fd, piece.data() + done, piece.size() - done, static_cast<off_t>(p->offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return kio::fail(n == 0 ? errc::corrupt : errc_from_errno(errno));
      done += static_cast<std::size_t>(n);
    }
    if (auto r = compaction_copy(*job, piece); !r) return kio::fail(r.error());
  }
  if (auto r = flush(core); !r) return kio::fail(r.error());
  auto done = finish_compaction(*job);
  if (!done) return kio::fail(done.error());
  RM_ASSERT(*done);  // flushed above, so every copy is durable
  return job->report();
}

}  // namespace store
