#pragma once
// core_log: one core's append-only log of segment files and its group commit.
//
// Lifecycle and core: created by message_store::open() after recovery, lives
// on the core it writes for, and is only touched from that core (no locks).
//
// "Appended" and "durable" are different facts. append() frames a record
// into the pending buffer and returns a commit_ticket; nothing is on disk
// yet. take_batch() hands everything appended so far to the I/O layer as one
// batch (one write per segment touched, then fdatasync); complete() reports
// its outcome. At most one batch is in flight: whatever is appended while its
// fdatasync runs goes into the next batch. That is the group commit. The I/O
// layer is deliberately thin (see sync_io.h for blocking pwrite+fdatasync and
// the kernel_io driver for linked io_uring write+fdatasync), so the policy
// lives here, testable without a disk.
//
// A failed batch (ENOSPC, EFBIG, EIO) fails every record appended up to that
// moment, including the ones still pending: their offsets assumed the failed
// bytes would land. The file is cut back to where the failed batch began, so
// a failed record never reappears after a restart (a client told 4xx that
// retries must not find a duplicate).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kernel_io/base/result.h"
#include "store/errc.h"
#include "store/format/format.h"

namespace store::log {

struct log_options {
  std::string directory;                          // where this core's segments live
  core_id core{};
  std::uint64_t segment_size_max = 64u << 20;     // roll over past this many bytes
  std::uint32_t chunk_size_max = 256u << 10;      // a blob is split into chunks this big
  bool preallocate = false;                       // fallocate each new segment (bench decides)
  // The lowest sequence a new segment may take. A store rebuilt after losing
  // its data directory would start again at 1, and its backup mirror would
  // then write into the backup's existing files of the same names: the
  // store starts above every segment the backup already holds.
  std::uint64_t next_seq_min = 1;
};

struct log_position {
  segment_seq segment{};
  std::uint64_t offset = 0;  // file offset of the record header
};

// A point in this core's log: flush(ticket) completes when every byte up to
// it is durable. Monotonic across segments and never reused.
struct commit_ticket {
  std::uint64_t lsn = 0;
  constexpr auto operator<=>(const commit_ticket&) const = default;
};

struct appended {
  log_position position;
  std::uint64_t payload_offset = 0;  // file offset of the payload
  commit_ticket ticket;
};

struct segment_write {
  segment_seq segment{};
  int fd = -1;
  std::uint64_t offset = 0;     // file offset where `bytes` go
  std::string bytes;
  bool new_file = false;        // the directory must be synced too
};

struct commit_batch {
  std::vector<segment_write> writes;
  std::uint64_t start_lsn = 0;  // exclusive
  std::uint64_t end_lsn = 0;    // inclusive: durable once this completes
  std::uint32_t records = 0;
  std::uint64_t taken_ns = 0;   // steady clock, for the commit latency metric
};

enum class ticket_state { pending, durable, failed };

// Metrics a Prometheus exporter reads (plain counters, owner core only).
struct commit_metrics {
  std::uint64_t batches = 0;
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  std::uint64_t failed_batches = 0;
  std::uint64_t batch_records_max = 0;
  // Latency from take_batch() to complete(), i.e. write+fdatasync, in
  // power-of-two microsecond buckets: bucket i counts latencies < 2^i us.
  std::uint64_t latency_buckets_us[24] = {};
  std::uint64_t latency_sum_us = 0;
  // Records per batch in power-of-two buckets: bucket i counts sizes < 2^i.
  std::uint64_t batch_size_buckets[16] = {};
};

struct existing_segment {
  segment_seq seq{};
  std::uint64_t valid_end = 0;
  std::uint64_t checksum_seed = 0;
};

class core_log {
 public:
  // `existing` lists this core's segments found by recovery (already cut to
  // valid_end), oldest first. The newest becomes the active segment.
  static kio::result<std::unique_ptr<core_log>, errc> open(log_options options,
                                                            std::vector<existing_segment> existing);
  ~core_log();
  core_log(const core_log&) = delete;
  core_log& operator=(const core_log&) = delete;

  // Frames one record. `flags` carries record_flag::continues for all but
  // the last record of a transaction; the caller must append a transaction's
  // records back to back (a transaction never spans segments).
  kio::result<appended, errc> append(format::record_type type, std::string_view payload, std::uint16_t flags = 0,
                                     std::size_t transaction_bytes = 0);
  // Records are timestamped with this clock (ms since epoch); injectable.
  void set_clock(std::uint64_t (*now_ms)()) { _now_ms = now_ms; }

  bool has_pending() const { return _appended_lsn > _taken_lsn; }
  bool in_flight() const { return _in_flight; }
  // The returned batch must stay at the same address until complete().
  void take_batch(commit_batch& batch);
  // The I/O layer reports the batch's outcome. On failure the log cuts the
  // segment back to the batch start (a blocking ftruncate: rare, and the
  // reactor must not go on appending after a failed write anyway).
  void complete(commit_batch& batch, kio::result<void, errc> outcome);

  commit_ticket appended_ticket() const { return {_appended_lsn}; }
  commit_ticket durable_ticket() const { return {_durable_lsn}; }
  ticket_state state(commit_ticket t, errc* why = nullptr) const;
  // Bumped when a failure discards pending records: a blob writer started
  // in an older epoch cannot finish.
  std::uint64_t epoch() const { return _epoch; }

  // Reads bytes that were appended (durable or not): from the pending
  // buffer, the batch in flight, or the file.
  kio::result<void, errc> read(segment_seq segment, std::uint64_t offset, std::size_t length, std::string& out) const;

  core_id core() const { return _options.core; }
  const log_options& options() const { return _options; }
  segment_seq active_segment() const { return _active_seq; }
  std::uint64_t durable_end(segment_seq seq) const { return _segments.at(seq.get()).durable_end; }
  // Segments whose bytes are all durable and that will not be written again.
  std::vector<segment_seq> sealed_segments() const;
  std::string segment_path(segment_seq seq) const;
  // The open descriptor of a segment (compaction reads sealed segments
  // through io_uring with it); -1 if this log has no such segment.
  int segment_fd(segment_seq seq) const {
    auto it = _segments.find(seq.get());
    return it == _segments.end() ? -1 : it->second.fd;
  }
  // Where replay would have to resume for the current durable state: the
  // durable end of the oldest segment still holding appended-but-not-durable
  // bytes, else the durable end of the active segment. A checkpoint taken
  // while a batch is in flight uses it (records past it are not applied).
  std::pair<segment_seq, std::uint64_t> durable_position() const;
  // Compaction: forget a sealed segment and unlink its file.
  kio::result<void, errc> remove_segment(segment_seq seq);
  // Compaction on a reactor: forget a sealed segment (its descriptor is
  // closed) and return its path; the caller unlinks it through the ring and
  // syncs the directory. Until then the file is only a harmless leftover.
  std::string forget_segment(segment_seq seq);
  const commit_metrics& metrics() const { return _metrics; }

 private:
  struct segment_file {
    int fd = -1;
    std::uint64_t appended_end = 0;  // bytes appended (pending included)
    std::uint64_t durable_end = 0;
    std::uint64_t checksum_seed = 0;
  };
  explicit core_log(log_options options);
  kio::result<void, errc> roll_over();
  segment_write& pending_for_active();

  log_options _options;
  std::map<std::uint64_t, segment_file> _segments;  // by segment seq
  segment_seq _active_seq{};
  std::vector<segment_write> _pending;   // appended, not yet taken
  // The batch being written; the I/O layer keeps it alive until complete().
  const commit_batch* _inflight = nullptr;
  bool _in_flight = false;
  std::uint64_t _appended_lsn = 0;
  std::uint64_t _taken_lsn = 0;
  std::uint64_t _durable_lsn = 0;
  std::uint32_t _pending_records = 0;
  bool _pending_txn_open = false;
  std::uint32_t _txn_index = 0;  // index the next record takes in its transaction  // a transaction's last record is still to come
  std::uint64_t _epoch = 0;
  struct failed_range {
    std::uint64_t first = 0, last = 0;
    errc why{};
  };
  std::vector<failed_range> _failed;
  commit_metrics _metrics;
  std::uint64_t (*_now_ms)() = nullptr;
};

std::string segment_file_name(core_id core, segment_seq seq);
// Parses "seg-<core>-<seq>.log"; false for any other name.
bool parse_segment_file_name(std::string_view name, core_id& core, segment_seq& seq);

}  // namespace store::log
