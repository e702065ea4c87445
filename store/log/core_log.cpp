#include "store/log/core_log.h"

#include <algorithm>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "kernel_io/base/assert.h"

namespace store::log {
namespace {

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}
std::uint64_t steady_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}
std::size_t bucket_of(std::uint64_t v, std::size_t buckets) {
  std::size_t i = 0;
  while (i + 1 < buckets && (1ull << i) <= v) ++i;
  return i;
}

}  // namespace

std::string segment_file_name(core_id core, segment_seq seq) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "seg-%03u-%016llx.log", core.get(), static_cast<unsigned long long>(seq.get()));
  return buf;
}

bool parse_segment_file_name(std::string_view name, core_id& core, segment_seq& seq) {
  unsigned c = 0;
  unsigned long long s = 0;
  int used = 0;
  const std::string n(name);
  if (std::sscanf(n.c_str(), "seg-%3u-%16llx.log%n", &c, &s, &used) != 2) return false;
  if (static_cast<std::size_t>(used) != n.size() || segment_file_name(core_id{c}, segment_seq{s}) != n) return false;
  core = core_id{c};
  seq = segment_seq{s};
  return true;
}

core_log::core_log(log_options options) : _options(std::move(options)), _now_ms(&wall_ms) {}

core_log::~core_log() {
  for (auto& [seq, f] : _segments)
    if (f.fd >= 0) ::close(f.fd);
}

std::string core_log::segment_path(segment_seq seq) const {
  return _options.directory + "/" + segment_file_name(_options.core, seq);
}

kio::result<std::unique_ptr<core_log>, errc> core_log::open(log_options options,
                                                             std::vector<existing_segment> existing) {
  RM_ASSERT(options.segment_size_max > format::segment_header_size + format::record_header_size);
  RM_ASSERT(options.chunk_size_max > 0 && options.chunk_size_max <= format::record_payload_max);
  std::unique_ptr<core_log> log(new core_log(std::move(options)));
  for (const auto& e : existing) {
    const int fd = ::open(log->segment_path(e.seq).c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return kio::fail(errc_from_errno(errno));
    log->_segments[e.seq.get()] = segment_file{fd, e.valid_end, e.valid_end, e.checksum_seed};
    log->_active_seq = e.seq;
  }
  if (log->_segments.empty()) {
    auto r = log->roll_over();
    if (!r) return kio::fail(r.error());
  }
  return log;
}

kio::result<void, errc> core_log::roll_over() {
  const segment_seq next{std::max<std::uint64_t>(_segments.empty() ? 1 : _segments.rbegin()->first + 1,
                                                 _options.next_seq_min)};
  const std::string path = segment_path(next);
  // A segment appears under its final name only with a durable header: it
  // is built under a temporary name (header written and fdatasynced), then
  // linked into place and the directory synced. A kill at any instant thus
  // leaves either no segment or a readable one; a leftover temporary file is
  // simply replaced next time. (Found by the SIGKILL crash test: a kill
  // between create and the first group commit left a torn header, and
  // recovery refused to start.)
  const std::string temporary = path + ".new";
  const int fd = ::open(temporary.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return kio::fail(errc_from_errno(errno));
  auto give_up = [&](errc why) {
    ::close(fd);
    ::unlink(temporary.c_str());
    return kio::fail(why);
  };
  if (_options.preallocate) {
    // Allocating the extents now keeps later fdatasyncs from journaling
    // block allocations; the zeroes read as unwritten space.
    if (::posix_fallocate(fd, 0, static_cast<off_t>(_options.segment_size_max)) != 0) return give_up(errc::no_space);
  }
  std::random_device rd;
  format::segment_header h;
  h.core = _options.core;
  h.seq = next;
  h.created_ms = _now_ms();
  h.checksum_seed = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  segment_write w;
  w.segment = next;
  w.fd = fd;
  w.offset = 0;
  w.bytes = format::encode_segment_header(h);
  w.new_file = true;
  // Paired check: the header we are about to write must read back.
  RM_ASSERT(format::decode_segment_header(w.bytes).header.has_value());
  if (::pwrite(fd, w.bytes.data(), w.bytes.size(), 0) != static_cast<ssize_t>(w.bytes.size())) {
    const errc why = errno == ENOSPC || errno == EFBIG ? errc::no_space : errc_from_errno(errno);
    return give_up(why);
  }
  if (::fdatasync(fd) != 0) return give_up(errc_from_errno(errno));
  // link() refuses an existing name, as O_EXCL did: two writers never share a segment.
  if (::link(temporary.c_str(), path.c_str()) != 0) return give_up(errc_from_errno(errno));
  ::unlink(temporary.c_str());
  const std::string directory = path.substr(0, path.rfind('/'));
  const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  // The header also goes through the group commit like any write (the same
  // bytes again), which keeps the appended/durable accounting in one place.
  _segments[next.get()] = segment_file{fd, w.bytes.size(), 0, h.checksum_seed};
  _active_seq = next;
  _appended_lsn += w.bytes.size();
  _pending.push_back(std::move(w));
  return {};
}

segment_write& core_log::pending_for_active() {
  if (_pending.empty() || _pending.back().segment != _active_seq) {
    auto& f = _segments.at(_active_seq.get());
    segment_write w;
    w.segment = _active_seq;
    w.fd = f.fd;
    w.offset = f.appended_end;
    _pending.push_back(std::move(w));
  }
  return _pending.back();
}

kio::result<appended, errc> core_log::append(format::record_type type, std::string_view payload, std::uint16_t flags,
                                              std::size_t transaction_bytes) {
  if (payload.size() > format::record_payload_max) return kio::fail(errc::too_large);
  const std::size_t frame = format::record_header_size + payload.size();
  if (_segments.empty()) {
    // A failed batch took the only segment with it; start a fresh one.
    auto r = roll_over();
    if (!r) return kio::fail(r.error());
  }
  {
    auto& f = _segments.at(_active_seq.get());
    // Roll at a transaction's first record only, so a transaction never
    // spans two segments; an oversized transaction still goes in one.
    const std::size_t need = std::max(frame, transaction_bytes);
    const bool first_of_txn = transaction_bytes != 0 || !(flags & format::record_flag::continues);
    if (first_of_txn && f.appended_end > format::segment_header_size &&
        f.appended_end + need > _options.segment_size_max && !_pending_txn_open) {
      auto r = roll_over();
      if (!r) return kio::fail(r.error());
    }
  }
  auto& f = _segments.at(_active_seq.get());
  auto& w = pending_for_active();
  format::record_header h;
  h.payload_size = static_cast<std::uint32_t>(payload.size());
  h.type = type;
  h.flags = flags;
  h.time_ms = _now_ms();
  h.transaction_index = _txn_index;
  _txn_index = (flags & format::record_flag::continues) ? _txn_index + 1 : 0;
  _pending_txn_open = _txn_index != 0;
  const std::size_t at = w.bytes.size();
  format::frame_record(w.bytes, h, payload, f.checksum_seed);
  appended a;
  a.position = {_active_seq, w.offset + at};
  a.payload_offset = a.position.offset + format::record_header_size;
  f.appended_end += frame;
  _appended_lsn += frame;
  ++_pending_records;
  a.ticket = {_appended_lsn};
  return a;
}

void core_log::take_batch(commit_batch& batch) {
  RM_ASSERT(!_in_flight);
  batch.writes = std::move(_pending);
  _pending.clear();
  batch.start_lsn = _taken_lsn;
  batch.end_lsn = _appended_lsn;
  batch.records = _pending_records;
  batch.taken_ns = steady_ns();
  _pending_records = 0;
  _taken_lsn = _appended_lsn;
  _in_flight = true;
  _inflight = &batch;
}

void core_log::complete(commit_batch& batch, kio::result<void, errc> outcome) {
  RM_ASSERT(_in_flight && _inflight == &batch);
  _in_flight = false;
  _inflight = nullptr;
  const std::uint64_t latency_us = (steady_ns() - batch.taken_ns) / 1000;
  _metrics.latency_buckets_us[bucket_of(latency_us, 24)]++;
  _metrics.latency_sum_us += latency_us;
  if (outcome) {
    _durable_lsn = batch.end_lsn;
    for (const auto& w : batch.writes) _segments.at(w.segment.get()).durable_end = w.offset + w.bytes.size();
    ++_metrics.batches;
    _metrics.records += batch.records;
    for (const auto& w : batch.writes) _metrics.bytes += w.bytes.size();
    _metrics.batch_records_max = std::max<std::uint64_t>(_metrics.batch_records_max, batch.records);
    _metrics.batch_size_buckets[bucket_of(batch.records, 16)]++;
    return;
  }
  ++_metrics.failed_batches;
  // Everything appended so far is lost with this batch (see the class
  // comment). Cut each touched segment back to its durable end.
  _failed.push_back({batch.start_lsn + 1, _appended_lsn, outcome.error()});
  _pending.clear();
  _pending_records = 0;
  _pending_txn_open = false;
  _txn_index = 0;
  for (auto it = _segments.begin(); it != _segments.end();) {
    auto& f = it->second;
    if (f.durable_end == 0) {
      // Created by the failed batch: its header never became durable.
      // Remove it so no file without a valid header is left behind.
      ::close(f.fd);
      ::unlink(segment_path(segment_seq{it->first}).c_str());
      it = _segments.erase(it);
      continue;
    }
    if (f.appended_end != f.durable_end) {
      // A failed write may still have put whole records on disk; cut them
      // so a record reported as failed never reappears after a restart.
      const int rc = ::ftruncate(f.fd, static_cast<off_t>(f.durable_end));
      RM_ASSERT_MSG(rc == 0, "cannot cut a failed batch off its segment");
      f.appended_end = f.durable_end;
    }
    ++it;
  }
  if (_segments.empty()) {
    (void)roll_over();  // if this fails, the next append fails and says why
  } else {
    _active_seq = segment_seq{_segments.rbegin()->first};
  }
  _taken_lsn = _appended_lsn;
  ++_epoch;
}

ticket_state core_log::state(commit_ticket t, errc* why) const {
  for (const auto& f : _failed) {
    if (t.lsn >= f.first && t.lsn <= f.last) {
      if (why) *why = f.why;
      return ticket_state::failed;
    }
  }
  return t.lsn <= _durable_lsn ? ticket_state::durable : ticket_state::pending;
}

kio::result<void, errc> core_log::read(segment_seq segment, std::uint64_t offset, std::size_t length,
                                       std::string& out) const {
  auto from_writes = [&](const std::vector<segment_write>& writes) {
    for (const auto& w : writes) {
      if (w.segment == segment && offset >= w.offset && offset + length <= w.offset + w.bytes.size()) {
        out.append(w.bytes, offset - w.offset, length);
        return true;
      }
    }
    return false;
  };
  if (from_writes(_pending)) return {};
  if (_inflight && from_writes(_inflight->writes)) return {};
  auto it = _segments.find(segment.get());
  if (it == _segments.end()) return kio::fail(errc::not_found);
  const std::size_t base = out.size();
  out.resize(base + length);
  std::size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(it->second.fd, out.data() + base + done, length - done,
                              static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      out.resize(base);
      return kio::fail(n == 0 ? errc::corrupt : errc_from_errno(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

std::vector<segment_seq> core_log::sealed_segments() const {
  std::vector<segment_seq> out;
  for (const auto& [seq, f] : _segments)
    if (segment_seq{seq} != _active_seq && f.durable_end == f.appended_end) out.push_back(segment_seq{seq});
  return out;
}

std::pair<segment_seq, std::uint64_t> core_log::durable_position() const {
  for (const auto& [seq, f] : _segments)
    if (f.appended_end != f.durable_end) return {segment_seq{seq}, f.durable_end};
  return {_active_seq, _segments.count(_active_seq.get()) ? _segments.at(_active_seq.get()).durable_end : 0};
}

std::string core_log::forget_segment(segment_seq seq) {
  RM_ASSERT(seq != _active_seq);
  auto it = _segments.find(seq.get());
  RM_ASSERT(it != _segments.end());
  ::close(it->second.fd);
  _segments.erase(it);
  return segment_path(seq);
}

kio::result<void, errc> core_log::remove_segment(segment_seq seq) {
  RM_ASSERT(seq != _active_seq);
  if (!_segments.count(seq.get())) return kio::fail(errc::not_found);
  const std::string path = forget_segment(seq);
  if (::unlink(path.c_str()) != 0) return kio::fail(errc_from_errno(errno));
  const int dfd = ::open(_options.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace store::log
