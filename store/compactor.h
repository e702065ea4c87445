#pragma once
// compactor: compaction on a reactor, in bounded steps. One per shard,
// created and run on that shard's core next to its commit_driver.
//
// A pass (run_once) writes a checkpoint with io_uring (so every sealed
// segment is covered by it), asks message_store::begin_compaction() for the
// victims and the live blobs in them, then copies: each piece of an old blob
// (at most chunk_size_max bytes) is read with an io_uring read (the reactor
// runs other coroutines meanwhile) and appended as a new chunk into the
// active segment; after a blob's last piece its commit record follows. The
// copies go through the same group commit as everything else: every
// flush_every_bytes the compactor awaits driver.flush() of its last copy,
// which bounds the memory the pending copies take, and after step_bytes
// without such a wait it yields with a nop round trip through the ring. The
// catalog switches to a copy when its commit completes (apply-on-durable);
// the victims are unlinked only after the last copy is durable, through the
// ring (unlinkat, then fsync of the segments directory).
//
// Crash safety: until the unlink both copies are on disk (recovery keeps
// the newer commit of a key); the victims' mailbox records are in the
// checkpoint written first. A SIGKILL anywhere leaves a findable copy
// (tests/store_crash, mode sigkill_compact).
//
// Why on the reactor rather than the worker pool: the catalog, the log and
// the indexes are single-threaded per shard; a worker would need a lock on
// the write path or a copy of the catalog. What costs time here is I/O
// (reads and the group commit's writes), which the ring already does off the
// reactor; the CPU per piece (XXH3 over 256 KiB, framing) is tens of
// microseconds. The one unsliced step is planning (one pass over the
// catalog). The checkpoint image (index serialization) is built on the
// core that owns it. On a multi-core runtime (the daemon: give the
// compactor the runtime) every shard is reached by a message to its core:
// each core serializes its own index for the checkpoint, and each reports
// the blobs of this core it references before planning. Without a runtime
// (tests, tools, the bench) one thread drives every shard and reads them
// directly.

#include "kernel_io/ring/task.h"
#include "kernel_io/shard/runtime.h"
#include "store/commit_driver.h"
#include "store/message_store.h"

namespace store {

struct compactor_options {
  double live_ratio_max = 0.5;
  std::uint64_t grace_ms = 60'000;
  std::uint64_t step_bytes = 256u << 10;        // copied between yields
  // Copied between durable waits. Also bounds the group-commit batch the
  // copies form and the memory they take; in the bench the longest reactor
  // stall was lowest at 256 KiB, at the same total time (store/README.md).
  std::uint64_t flush_every_bytes = 256u << 10;
  bool checkpoint_first = true;
};

struct compactor_stats {
  std::uint64_t passes = 0;
  std::uint64_t yields = 0;
  std::uint64_t flush_waits = 0;
  std::uint64_t step_ns_max = 0;  // longest stretch without suspending
};

class compactor {
 public:
  compactor(message_store& store, commit_driver& driver, core_id core, compactor_options options = {},
            kio::runtime* runtime = nullptr);
  ~compactor();
  compactor(const compactor&) = delete;
  compactor& operator=(const compactor&) = delete;

  // One pass; the report is empty when nothing qualified.
  kio::task<kio::result<compaction_report, errc>> run_once();
  // The checkpoint alone, with io_uring writes (temp file, fdatasync,
  // rename, directory fsync).
  kio::task<kio::result<void, errc>> write_checkpoint();
  const compactor_stats& stats() const { return _stats; }

 private:
  message_store& _store;
  commit_driver& _driver;
  core_id _core;
  compactor_options _options;
  kio::runtime* _runtime;
  int _directory_fd = -1;
  int _segments_fd = -1;
  compactor_stats _stats;
};

}  // namespace store
