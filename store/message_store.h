#pragma once
// message_store: the store's public face. It owns one shard per core (that
// core's log, blob catalog and the indexes of the accounts it owns), runs
// recovery at open(), and offers the operations sessions need.
//
// Cores and ownership. An account lives on core owner_of(account); all its
// mailbox records are appended there, so one writer orders them. A blob is
// written by the core that received the message (blob_writer carries it),
// and its key names that core. Each shard is touched only from its core;
// the calls below that take a core or an account must run on that core (on
// the reactor, cross-core calls are messages). Tests and tools drive every
// shard from one thread, which the single-threaded code permits.
//
// Durable before visible. Every append returns a store_ticket. The index and
// blob catalog change only when the batch holding the record completes (the
// same apply() recovery uses), so a reader never sees a UID that a crash
// could take back. A delivery may reference only a blob whose commit is
// durable: write the blob, flush, then deliver (one blob, 50 deliveries, one
// more flush).
//
// Dedup policy. finish_blob() computes the key from the streamed XXH3-128
// state; if a blob with that hash exists on this core, the bytes are compared
// (both read back through the log, in bounded pieces). Equal: the new chunks
// are left as garbage, no commit record is written, and compaction reclaims
// them; the caller gets the existing key. Different (a collision): the new
// blob gets the next generation, so keys stay unique and nobody sees another
// user's mail.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kernel_io/base/result.h"
#include "store/errc.h"
#include "store/format/format.h"
#include "store/index/mailbox_index.h"
#include "store/log/core_log.h"

namespace store {

struct store_options {
  std::string data_directory;             // holds segments/ and the checkpoint
  std::string backup_directory;           // empty: no backup
  std::uint32_t cores = 1;
  std::uint64_t segment_size_max = 64u << 20;
  std::uint32_t chunk_size_max = 256u << 10;
  std::uint64_t blob_size_max = 64u << 20;
  // fallocate each segment up front: the bench measured fewer journal
  // commits per fdatasync and higher group-commit throughput (README).
  bool preallocate_segments = true;
  bool load_checkpoint = true;            // false: replay every segment from scratch
  // Receives recovery's report lines (what was cut, what was skipped).
  std::function<void(const std::string&)> report;
};

struct store_ticket {
  core_id core{};
  log::commit_ticket ticket;
};

struct recovery_report {
  std::uint32_t segments = 0;
  std::uint64_t records = 0;
  std::uint64_t truncated_bytes = 0;  // torn tails cut
  std::uint32_t corrupt_ranges = 0;   // skipped in the middle of segments
  std::uint32_t records_dropped = 0;  // intact records of cut transactions
  bool checkpoint_used = false;
  std::vector<std::string> lines;
};

// A blob being streamed in: begin_blob(), append_chunk() as bytes arrive
// (each chunk is framed straight into the core's write buffer; no second
// copy of the message is assembled), finish_blob().
class blob_writer {
 public:
  blob_writer(blob_writer&&) noexcept;
  blob_writer& operator=(blob_writer&&) noexcept;
  ~blob_writer();
  std::uint64_t size() const { return _size; }
  core_id core() const { return _core; }

 private:
  friend class message_store;
  blob_writer() = default;
  core_id _core{};
  std::uint64_t _epoch = 0;
  std::uint64_t _size = 0;
  void* _hash_state = nullptr;  // XXH3_state_t, owned
  std::vector<format::blob_extent> _extents;
  bool _failed = false;
  // While streaming, the writer pins the segment of its first chunk in its
  // shard: compaction never takes a pinned segment or a later one, since the
  // commit naming these chunks is still to come.
  std::map<std::uint64_t, std::uint32_t>* _pins = nullptr;
  std::uint64_t _pinned = 0;
  void unpin();
};

struct stored_blob {
  blob_key key;
  std::uint64_t size = 0;
  bool deduplicated = false;
  store_ticket ticket;   // flush this before delivering
};

struct delivery_request {
  account_id account{};
  mailbox_id mailbox{};
  blob_key key;
  std::string header_prefix;       // Return-Path, Received, Delivered-To, verdicts
  std::int64_t internal_date_ms = 0;
  std::uint32_t flags = 0;
  std::vector<std::string> keywords;
  bool ignore_quota = false;       // restores and moves of existing mail
  // The blob's size as finish_blob() reported it. Set it when the blob was
  // written on another core: append_delivery then does not read that core's
  // catalog (another core's map, which its owner may be inserting into),
  // and the caller vouches that it flushed the blob's ticket. Unset: the
  // catalog is consulted (single-threaded tools, or the blob's own core).
  std::optional<std::uint64_t> blob_size;
};

struct delivery_result {
  std::uint32_t uid = 0;
  std::uint64_t modseq = 0;
  store_ticket ticket;
};

struct mailbox_result {
  mailbox_id mailbox{};
  std::uint32_t uid_validity = 0;
  store_ticket ticket;
};

struct change_result {
  std::uint64_t modseq = 0;                 // 0 when nothing changed
  std::vector<std::uint32_t> uids;          // the messages that changed
  std::vector<std::uint32_t> target_uids;   // move: the new UIDs, same order
  store_ticket ticket;
};

struct quota_usage {
  std::uint64_t used_bytes = 0;       // durable + appended deliveries
  std::uint64_t used_messages = 0;
  std::uint64_t quota_bytes = 0;      // 0 = unlimited
  std::uint64_t quota_messages = 0;
};

struct compaction_report {
  std::uint32_t segments_removed = 0;
  std::uint64_t bytes_reclaimed = 0;
  std::uint64_t blobs_copied = 0;
  std::uint64_t bytes_copied = 0;
};

// One read a compaction needs next: `length` bytes at `offset` of a sealed
// segment file (durable, never written again), read through `fd`.
struct compaction_piece {
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
};

// An incremental compaction of one core's sealed segments, driven in small
// steps by compact() (blocking) or compactor (store/compactor.h, on the
// reactor). Created by begin_compaction(), which chooses the victims and the
// live blobs to copy; lives on that core until finish_compaction() retires
// the victims or the job is dropped (dropping it is always safe: nothing is
// removed before the copies are durable). It points into its store: drop it
// before the store.
class compaction_job {
 public:
  compaction_job(const compaction_job&) = delete;
  compaction_job& operator=(const compaction_job&) = delete;
  ~compaction_job();
  core_id core() const { return _core; }
  const std::vector<segment_seq>& victims() const { return _victims; }
  const compaction_report& report() const { return _report; }
  // Every live blob has been appended (not necessarily durable yet).
  bool copying_done() const { return _blob >= _moved.size(); }
  // The ticket of the last copy appended: once it is durable, every copy is.
  const store_ticket& last_ticket() const { return _last_ticket; }

 private:
  friend class message_store;
  compaction_job() = default;
  struct moved_blob {
    blob_key key;
    std::uint64_t size = 0;
    std::vector<format::blob_extent> extents;  // the old copy, at planning time
  };
  core_id _core{};
  std::uint64_t _epoch = 0;   // the log's epoch at planning: a failed batch since aborts the job
  std::vector<segment_seq> _victims;
  std::vector<moved_blob> _moved;
  std::size_t _blob = 0;       // the blob being copied
  std::size_t _extent = 0;     // its extent being read
  std::uint64_t _extent_done = 0;
  std::vector<format::blob_extent> _new_extents;
  void* _hash_state = nullptr;  // XXH3_state_t over the bytes copied, to verify the key
  store_ticket _last_ticket;
  bool _retired = false;
  bool _dead = false;           // a step failed: never retire
  bool* _busy = nullptr;        // the shard's "compacting" flag, cleared on destruction
  compaction_report _report;
};

// Test hooks: forcing a hash lets a unit test produce a real XXH3 collision
// on demand. Never set in production.
struct store_test_hooks {
  std::function<void(std::string_view first_bytes, blob_key& key)> override_hash;
};

class message_store {
 public:
  static kio::result<std::unique_ptr<message_store>, errc> open(store_options options);
  ~message_store();

  const recovery_report& recovery() const { return _recovery; }
  const store_options& options() const { return _options; }
  core_id owner_of(account_id account) const;
  store_test_hooks& test_hooks() { return _hooks; }

  // --- blobs: on the core that received the message -----------------------
  blob_writer begin_blob(core_id core);
  kio::result<void, errc> append_chunk(blob_writer& writer, std::string_view bytes);
  kio::result<stored_blob, errc> finish_blob(blob_writer& writer);
  // Convenience for callers holding the whole message (import, tests).
  kio::result<stored_blob, errc> store_blob(core_id core, std::string_view bytes);
  bool blob_durable(const blob_key& key) const;

  // --- accounts and mailboxes: on the owner core --------------------------
  // Creates the account with INBOX, Sent, Drafts, Trash, Junk and Archive in
  // one transaction.
  kio::result<store_ticket, errc> create_account(account_id account, std::string_view name,
                                                 std::uint64_t quota_bytes, std::uint64_t quota_messages);
  kio::result<store_ticket, errc> set_quota(account_id account, std::uint64_t quota_bytes,
                                            std::uint64_t quota_messages);
  kio::result<mailbox_result, errc> create_mailbox(account_id account, std::string_view name,
                                                   special_use use = special_use::none);
  kio::result<store_ticket, errc> rename_mailbox(account_id account, mailbox_id mailbox, std::string_view name);
  kio::result<store_ticket, errc> delete_mailbox(account_id account, mailbox_id mailbox);
  kio::result<store_ticket, errc> subscribe(account_id account, mailbox_id mailbox, bool subscribed);

  kio::result<delivery_result, errc> append_delivery(const delivery_request& request);
  // CONDSTORE: with unchanged_since, messages whose modseq is higher are
  // left alone (and not listed in the result).
  kio::result<change_result, errc> store_flags(account_id account, mailbox_id mailbox,
                                               const std::vector<std::uint32_t>& uids, format::flags_op op,
                                               std::uint32_t flags, std::vector<std::string> keywords = {},
                                               std::optional<std::uint64_t> unchanged_since = std::nullopt);
  kio::result<change_result, errc> expunge(account_id account, mailbox_id mailbox,
                                           const std::vector<std::uint32_t>& uids);
  kio::result<change_result, errc> move(account_id account, mailbox_id source, mailbox_id target,
                                        const std::vector<std::uint32_t>& uids);

  // --- durability --------------------------------------------------------
  // Blocking group commit of everything appended on `core` (tests, tools,
  // the crash test's child). On a reactor, the kernel_io driver calls
  // take_batch() / complete_batch() instead.
  kio::result<void, errc> flush(core_id core);
  kio::result<void, errc> flush_all();
  log::ticket_state state(const store_ticket& ticket, errc* why = nullptr) const;
  bool has_pending(core_id core) const;
  void take_batch(core_id core, log::commit_batch& batch);
  // mirror_backup: copy the batch to the backup directory with blocking
  // I/O (tools, tests); the reactor driver passes false and mirrors itself.
  void complete_batch(core_id core, log::commit_batch& batch, kio::result<void, errc> outcome,
                      bool mirror_backup = true);
  bool has_backup() const { return !_options.backup_directory.empty(); }
  // The backup copy of a segment, opened (and created) on first use.
  kio::result<int, errc> backup_fd(core_id core, segment_seq segment);
  const log::commit_metrics& commit_metrics(core_id core) const;

  // --- reads: visible (durable) state on the owner core --------------------
  const index::index_state& index(core_id core) const;
  const index::account_state* account(account_id account) const;
  const index::mailbox_state* mailbox(account_id account, mailbox_id mailbox) const;
  const index::mailbox_state* find_mailbox(account_id account, std::string_view name) const;
  // header prefix + blob
  kio::result<std::string, errc> read_message(account_id account, mailbox_id mailbox, std::uint32_t uid) const;
  kio::result<std::string, errc> read_blob(const blob_key& key) const;
  // Cheap: a few integer reads (SMTP asks this before accepting DATA).
  quota_usage quota(account_id account) const;
  bool quota_allows(account_id account, std::uint64_t message_bytes) const;

  // --- maintenance -------------------------------------------------------
  // Writes the checkpoint (indexes + the log position they cover). Flushes
  // first. Crash-safe: temp file, fsync, rename, fsync directory.
  kio::result<void, errc> checkpoint();
  // The checkpoint's bytes for the current durable state, without flushing
  // (a batch may be in flight: each core's replay position is its
  // durable_position(), and the indexes hold exactly what is durable).
  // `positions` receives what the file will say; pass them to
  // checkpoint_written() once the file is durably in place.
  std::string checkpoint_image(std::vector<std::pair<segment_seq, std::uint64_t>>& positions) const;
  void checkpoint_written(std::vector<std::pair<segment_seq, std::uint64_t>> positions);
  // The same in parts, for a runtime where each shard lives on its own core
  // (the daemon): checkpoint_part() runs on `core` (its replay position and
  // its serialized index), checkpoint_image_from() assembles the file from
  // every core's part in core order (pure), and checkpoint_written_on()
  // runs on each core once the file is durable.
  struct checkpoint_part {
    std::pair<segment_seq, std::uint64_t> position;
    std::string index;
  };
  checkpoint_part checkpoint_part_of(core_id core) const;
  std::string checkpoint_image_from(const std::vector<checkpoint_part>& parts) const;
  void checkpoint_written_on(core_id core, std::pair<segment_seq, std::uint64_t> position);
  // The blobs written by `blob_core` that the shard of `core` references:
  // its indexes and its deliveries appended but not yet durable. Runs on
  // `core`; a compaction of `blob_core` gathers these from every other core.
  std::vector<blob_key> blob_references_of(core_id core, core_id blob_core) const;
  // One checkpoint writer at a time per store: two writers sharing the
  // temporary file could interleave, and an older image renamed last would
  // sit on disk behind the positions compaction relies on. false: another
  // writer is at work (skip this one).
  bool try_begin_checkpoint();
  void end_checkpoint();

  // Compaction, in steps (see compaction_job). A segment is a victim when it
  // is sealed, lies wholly before the replay position of the last durable
  // checkpoint (so its mailbox records are never needed again), and its live
  // blob bytes are at most live_ratio_max of its size. A blob is live while
  // an index references it, a delivery appended on any core (durable or not)
  // references it, or it was committed or deduplicated less than grace_ms
  // ago (a delivery on another core may still be on its way). Dead blobs of
  // the victims leave the catalog at once, so dedup cannot hand them out.
  // nullptr: nothing to reclaim (or a compaction of this core is running).
  // `referenced_elsewhere`: on a multi-core runtime, the references the
  // other cores' shards hold (gathered with blob_references_of on each of
  // them); the other shards are then not read. Null: read every shard (one
  // thread drives them all). A blob no other shard referenced when gathered
  // cannot gain a reference there later except by a delivery of a blob just
  // committed or deduplicated (grace_ms covers it): IMAP copies and moves
  // stay inside one account, hence one core.
  std::unique_ptr<compaction_job> begin_compaction(
      core_id core, double live_ratio_max, std::uint64_t grace_ms,
      const std::unordered_set<blob_key, blob_key_hash>* referenced_elsewhere = nullptr);
  // The next piece of old bytes to copy; nullopt once every blob is appended.
  std::optional<compaction_piece> compaction_next(const compaction_job& job) const;
  // Appends the bytes of the piece compaction_next() named as a new chunk;
  // after a blob's last piece, verifies its hash and appends its commit
  // record. The catalog switches to the new copy only when that commit is
  // durable (complete_batch, like every other record).
  kio::result<void, errc> compaction_copy(compaction_job& job, std::string_view bytes);
  // Once every copy is durable: unlinks the victims. false: copies still
  // pending (flush, then call again). An error (a failed batch, a copy that
  // did not verify) leaves the victims in place; the job is then dead.
  // With `unlink_later`, the victims are only forgotten and their paths
  // returned there: the reactor unlinks them through the ring (unlinking a
  // 64 MiB file frees its extents, milliseconds of blocking) and syncs the
  // segments directory.
  kio::result<bool, errc> finish_compaction(compaction_job& job, std::vector<std::string>* unlink_later = nullptr);
  // The whole thing in one blocking call (tools, tests): checkpoint, copy
  // with blocking group commits, retire.
  kio::result<compaction_report, errc> compact(core_id core, double live_ratio_max, std::uint64_t grace_ms);

 private:
  struct blob_location {
    std::vector<format::blob_extent> extents;
    std::uint64_t size = 0;
    log::commit_ticket ticket;      // the commit record's; durable once the log says so
    std::uint64_t committed_ms = 0;
    // Where the commit record is. A roll-over can put it in a later segment
    // than the chunks, and without it recovery does not know the blob: a
    // segment holding the commit of a live blob is as live as its chunks.
    segment_seq commit_segment{};
  };
  struct pending_apply {
    std::uint64_t lsn = 0;
    format::record_payload record;
    std::uint64_t reserved_bytes = 0;  // quota reservation of a delivery
    bool relocation = false;           // a compaction copy's blob commit
    segment_seq segment{};             // where the transaction was appended
  };
  struct shard {
    std::unique_ptr<log::core_log> log;
    index::index_state index;
    std::unordered_map<blob_key, blob_location, blob_key_hash> blobs;
    std::deque<pending_apply> applies;
    bool compacting = false;
    std::map<std::uint64_t, std::uint32_t> pins;  // segment seq -> open blob writers (blob_writer)
    // Replay position of the last durable checkpoint (seq 0: none).
    std::pair<segment_seq, std::uint64_t> checkpoint_position{};
    // Open backup copies of this core's segments, by file name. Per shard:
    // each core's commit_driver mirrors its own batches, concurrently.
    std::unordered_map<std::string, int> backup_fds;
  };

  explicit message_store(store_options options);
  kio::result<void, errc> recover();
  shard& shard_of(core_id core) { return _shards.at(core.get()); }
  const shard& shard_of(core_id core) const { return _shards.at(core.get()); }
  shard& owner(account_id account) { return shard_of(owner_of(account)); }
  const shard& owner(account_id account) const { return shard_of(owner_of(account)); }
  // Appends the records of one transaction on `core` and queues them for
  // apply-on-durable.
  kio::result<store_ticket, errc> append_transaction(core_id core, const std::vector<format::record_payload>& records,
                                                     std::uint64_t reserved_bytes = 0, bool relocation = false);
  kio::result<void, errc> write_checkpoint_blocking();
  void retire_segment_backup(core_id core, segment_seq seq);
  void apply_blob_commit(shard& s, const format::blob_commit_record& r, log::commit_ticket ticket,
                         std::uint64_t time_ms, segment_seq segment_of_commit);
  kio::result<bool, errc> same_bytes(const shard& s, const std::vector<format::blob_extent>& a,
                                     const std::vector<format::blob_extent>& b, std::uint64_t size) const;
  void mirror_to_backup(core_id core, const log::commit_batch& batch);
  void report(std::string line);
  std::string segments_directory() const;

  store_options _options;
  std::vector<shard> _shards;
  recovery_report _recovery;
  store_test_hooks _hooks;
  std::atomic<bool> _checkpoint_writing{false};  // compactors of several cores may race for it
};

// Restores `account` (or only its mailbox `mailbox_name`) from a backup
// directory into `target`, as the backup stood at `as_of_ms` (nullopt: the
// latest). Messages go into mailboxes of the same name (created if missing);
// a message already there with the same content and internal date is not
// added twice, so a restore can be repeated.
struct restore_report {
  std::uint32_t mailboxes = 0;
  std::uint64_t messages_restored = 0;
  std::uint64_t messages_present = 0;
};
kio::result<restore_report, errc> restore(message_store& target, const std::string& backup_directory,
                                          account_id account, std::optional<std::string> mailbox_name,
                                          std::optional<std::uint64_t> as_of_ms);

}  // namespace store
